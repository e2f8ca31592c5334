"""The coordination work two departments do by hand (seeds/004), done by the rules' actions: a class
that only wires the parts, each in its own module.

- `chat`, `open_channel`: agent.handling.chat_posts (posts for the chat outbox, a deal's channels);
- `confirm_severity`: agent.handling.severity_checks (the CSM team lead asked, and told again);
- `schedule_sync`: agent.handling.sync_meetings (the first free slot, an iTIP REQUEST).
"""

from __future__ import annotations

from datetime import datetime

from agent.businesstime import BusinessCalendar
from agent.config import Config
from agent.handling.cause import Cause
from agent.handling.chat_posts import ChatPosts
from agent.handling.enqueue import Enqueuer
from agent.handling.occasion import ISSUE_TRIGGERS, Occasion, fill
from agent.handling.severity_checks import SeverityChecks
from agent.handling.sync_meetings import SyncMeetings
from agent.pipeline.actions import ConfirmSeverity, Coordination, OpenChannel, PostChat
from agent.pipeline.definition import Pipeline
from agent.pipeline.engine import Firing, Trigger
from agent.store import models as m
from agent.store.repo import Repo


class Coordinator:
    def __init__(
        self, config: Config, pipelines: dict[str, Pipeline], enqueuer: Enqueuer, calendar: BusinessCalendar
    ) -> None:
        self.chat = ChatPosts(config, pipelines, enqueuer)
        self.severity = SeverityChecks(config, enqueuer, calendar)
        self.sync = SyncMeetings(config, enqueuer, calendar)

    def apply(
        self,
        repo: Repo,
        deal: m.Deal,
        effect: Coordination,
        firing: Firing,
        trigger: Trigger,
        cause: Cause,
        now: datetime,
    ) -> None:
        at = Occasion.of(repo, deal, firing, trigger, cause, now)
        if isinstance(effect, PostChat):
            for name in effect.channels:
                self.chat.post(at, name, effect.message)
        elif isinstance(effect, OpenChannel):
            self.chat.open(at, effect)
        elif isinstance(effect, ConfirmSeverity):
            self.severity.confirm(at, effect)
        else:
            self.sync.schedule(at, effect)

    @staticmethod
    def words(repo: Repo, deal: m.Deal, trigger: Trigger, message: str) -> str:
        """A rule's message with {deal}, {severity} and {issue} filled in (a notify's, as a post's)."""
        issue = repo.latest_issue(deal.id) if trigger.kind in ISSUE_TRIGGERS and "{" in message else None
        return fill(message, deal, issue)
