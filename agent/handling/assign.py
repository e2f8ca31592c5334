"""A person said which deal a message or a meeting belongs to (CLI, dashboard, or an answer by email)."""

from __future__ import annotations

from datetime import datetime

from agent.handling.cause import Cause
from agent.handling.meetings import MeetingHandler
from agent.handling.runner import RuleRunner
from agent.pipeline.engine import Trigger
from agent.store import models as m
from agent.store.repo import Repo


class Assigner:
    def __init__(self, runner: RuleRunner, meetings: MeetingHandler) -> None:
        self.runner = runner
        self.meetings = meetings

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
        self.meetings.assign(repo, meeting, deal, cause, now, who)
