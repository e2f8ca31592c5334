"""Reads of the audit trail: what happened to a deal or an email, and the CSAT answers recorded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from agent.store import audit_lines
from agent.store import models as m
from agent.store.queries.base import Queries


class HistoryQueries(Queries):
    def events_for(self, deal_id: int) -> Sequence[m.AuditEntry]:
        audit_lines.write(self.s)  # the lines this transaction holds, too
        q = select(m.AuditEntry).where(m.AuditEntry.deal_id == deal_id).order_by(m.AuditEntry.id)
        return self.s.scalars(q).all()

    def events_of_kinds(self, deal_id: int, kinds: Sequence[str]) -> Sequence[m.AuditEntry]:
        """A deal's audit lines of these kinds, oldest first (which task an email was about)."""
        audit_lines.write(self.s)  # the lines this transaction holds, too
        q = select(m.AuditEntry).where(m.AuditEntry.deal_id == deal_id, m.AuditEntry.kind.in_(kinds))
        return self.s.scalars(q.order_by(m.AuditEntry.id)).all()

    def email_history(self, email: m.OutboxEmail) -> list[m.AuditEntry]:
        """The audit entries about one email, oldest first."""
        audit_lines.write(self.s)  # the lines this transaction holds, too
        q = select(m.AuditEntry).where(
            m.AuditEntry.deal_id == email.deal_id if email.deal_id else m.AuditEntry.deal_id.is_(None),
            m.AuditEntry.kind.like("email_%"),
        )
        return [
            a
            for a in self.s.scalars(q.order_by(m.AuditEntry.id))
            if (a.details or {}).get("outbox_id") == email.id
        ]

    def csat_answers(self, since: datetime | None = None) -> list[tuple[int | None, datetime, int]]:
        """(deal id, when, score) of each CSAT answer recorded (since then), in time order.

        An entry whose score is not a whole number is no answer: it is left out.
        """
        audit_lines.write(self.s)  # the lines this transaction holds, too
        q = select(m.AuditEntry).where(m.AuditEntry.kind == "csat_recorded")
        if since is not None:
            q = q.where(m.AuditEntry.at >= since)
        return [
            (a.deal_id, a.at, score)
            for a in self.s.scalars(q.order_by(m.AuditEntry.at, m.AuditEntry.id))
            for score in [(a.details or {}).get("score")]
            if isinstance(score, int)
        ]
