"""Figures over the whole store for `status`, the health endpoint and the metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from agent.store import models as m
from agent.store.queries.base import Queries


class ReportQueries(Queries):
    def messages_by_direction(self) -> dict[str, int]:
        """Messages recorded by direction (inbound, internal, cc, bcc): /metrics' counter."""
        rows = self.s.execute(select(m.Message.direction, func.count()).group_by(m.Message.direction)).all()
        return {str(d): int(n) for d, n in rows}

    def counts(self) -> dict[str, Any]:
        """Sizes for `status`: outbox by status, quarantine, mail waiting for a person, pending timers."""
        outbox = dict(
            self.s.execute(select(m.OutboxEmail.status, func.count()).group_by(m.OutboxEmail.status)).all()
        )
        messages = dict(
            self.s.execute(select(m.Message.status, func.count()).group_by(m.Message.status)).all()
        )
        return {
            "emails": {str(k): int(v) for k, v in outbox.items()},
            "messages": {str(k): int(v) for k, v in messages.items()},
            "quarantined": self.s.scalar(
                select(func.count()).select_from(m.InboundEvent).where(m.InboundEvent.status == "quarantined")
            ),
            "unmatched": self.s.scalar(
                select(func.count()).select_from(m.Message).where(m.Message.status.in_(("unmatched", "held")))
            ),
            "timers_pending": self.s.scalar(
                select(func.count()).select_from(m.Timer).where(m.Timer.fired_at.is_(None))
            ),
            "deals": self.s.scalar(select(func.count()).select_from(m.Deal)),
        }

    def reaction_seconds(self, since: datetime) -> list[float]:
        """For each email sent since then: seconds from when it was ready to go to when it went."""
        q = select(m.OutboxEmail.ready_at, m.OutboxEmail.sent_at).where(
            m.OutboxEmail.status == "sent",
            m.OutboxEmail.sent_at >= since,
            m.OutboxEmail.ready_at.is_not(None),
        )
        return sorted(
            max(0.0, (sent - ready).total_seconds()) for ready, sent in self.s.execute(q) if sent and ready
        )
