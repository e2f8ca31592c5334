"""A person said which deal a message or a meeting belongs to (CLI, dashboard, or an answer by email)."""

from __future__ import annotations

from datetime import datetime

from agent.handling.cause import Cause
from agent.handling.runner import RuleRunner
from agent.pipeline.definition import Pipeline
from agent.pipeline.engine import Trigger
from agent.store import models as m
from agent.store.repo import Repo


class Assigner:
    def __init__(self, pipelines: dict[str, Pipeline], runner: RuleRunner) -> None:
        self.pipelines = pipelines
        self.runner = runner

    def message(
        self, repo: Repo, message: m.Message, deal: m.Deal, cause: Cause, now: datetime, who: str
    ) -> None:
        """The message is the deal's now; its rules run as if it had matched on arrival."""
        message.deal_id = deal.id
        message.status = "matched"
        message.match_strategy = "manual"
        message.match_reason = f"assigned by {who}"
        cause.trail(repo, now).on(deal)(
            "message_assigned", f"message '{message.subject}' assigned to {deal.name} by {who}"
        )
        side = "client" if message.direction == "inbound" else "internal"
        trigger = Trigger("message_received", side, f"message '{message.subject}' from {side}")
        self.runner.dispatch(repo, deal, [trigger], cause, now)

    def meeting(
        self, repo: Repo, meeting: m.Meeting, deal: m.Deal, cause: Cause, now: datetime, who: str
    ) -> None:
        """The meeting is the deal's now: scheduled, it is watched; held already, its recap is due now."""
        pipeline = self.pipelines.get(deal.pipeline)
        meeting.deal_id, meeting.candidates = deal.id, []
        meeting.type = pipeline.meeting_type(deal.stage, meeting.title) if pipeline else ""
        meeting.match_reason = f"assigned by {who}"
        cause.meeting = meeting
        cause.trail(repo, now).on(deal)(
            "meeting_assigned", f"'{meeting.title}' assigned to {deal.name} by {who}"
        )
        if meeting.status == "scheduled":
            trigger = Trigger("meeting_scheduled", meeting.type, f"'{meeting.title}' was scheduled")
            self.runner.dispatch(repo, deal, [trigger], cause, now)
        elif meeting.status == "completed":  # held before anyone answered
            trigger = Trigger("meeting_completed", meeting.type, f"'{meeting.title}' was held")
            self.runner.dispatch(repo, deal, [trigger], cause, now)
