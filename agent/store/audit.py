"""The audit trail of one unit of work: one helper bound to the store, the event, the time and the deal.

Every decision the agent takes is one line here (which rule, which event, why). A handler is
given a trail for its item and says `trail.on(deal)("stage_changed", reason, rule=...)`
instead of repeating the store, the event and the time in every line.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from agent.store import models as m
from agent.store.repo import Repo


@dataclass(frozen=True)
class Trail:
    repo: Repo
    at: datetime
    event_id: int | None = None  # the inbound event that caused it; None for the outbox's own work
    deal_id: int | None = None

    def on(self, deal: m.Deal | int | None) -> Trail:
        """The same trail, its lines about this deal (None: about no deal)."""
        deal_id = deal.id if isinstance(deal, m.Deal) else deal
        return replace(self, deal_id=deal_id)

    def __call__(self, kind: str, reason: str = "", *, rule: str = "", **details: Any) -> None:
        self.repo.audit(
            self.at, kind, deal_id=self.deal_id, event_id=self.event_id, rule=rule, reason=reason, **details
        )

    def email(self, kind: str, email: m.OutboxEmail, reason: str, **details: Any) -> None:
        """A line about one outbox email: its deal, its rule and its id go with it."""
        self.repo.audit(
            self.at,
            kind,
            deal_id=email.deal_id,
            event_id=self.event_id,
            rule=email.rule,
            reason=reason,
            outbox_id=email.id,
            **details,
        )

    def chat(self, kind: str, post: m.ChatPost, reason: str, **details: Any) -> None:
        """A line about one chat post: its deal, its rule and its id go with it (the deal's history)."""
        self.repo.audit(
            self.at,
            kind,
            deal_id=post.deal_id,
            event_id=self.event_id,
            rule=post.rule,
            reason=reason,
            chat_post_id=post.id,
            **details,
        )
