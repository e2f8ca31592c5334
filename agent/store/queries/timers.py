"""Timers: rows that fire once when due, so that nothing missed during downtime is lost."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select

from agent.store import models as m
from agent.store.queries.base import Queries, per_dialect

_TIMERS = cast(Table, m.Timer.__table__)
# A timer written unless one of its key is there.
_INSERT_NEW = per_dialect(lambda d: d.insert(_TIMERS).on_conflict_do_nothing(index_elements=[_TIMERS.c.key]))


class TimerQueries(Queries):
    def timer(self, timer_id: int) -> m.Timer | None:
        return self.s.get(m.Timer, timer_id)

    def add_timer(
        self, key: str, kind: str, due_at: datetime, deal_id: int | None, payload: dict[str, Any]
    ) -> None:
        """Once per key (a meeting's end, a reminder): one Core statement, as on every invitation. A
        look first, then an INSERT, was two round trips, and let two workers both find no row."""
        self.s.flush()  # a timer of the key pending in the session is written first, and kept
        connection = self.s.connection()
        connection.execute(
            _INSERT_NEW[connection.dialect.name],
            {"key": key, "kind": kind, "due_at": due_at, "deal_id": deal_id, "payload": payload},
        )

    def pending_timer(self, deal_id: int, kind: str) -> m.Timer | None:
        """A deal's timer of this kind that has not fired yet (a digest's or a plan's next one)."""
        q = select(m.Timer).where(
            m.Timer.deal_id == deal_id, m.Timer.kind == kind, m.Timer.fired_at.is_(None)
        )
        return self.s.scalars(q).first()

    def next_due(self, *, emails: bool = True) -> datetime | None:
        """The earliest pending timer or queued email (both indexed)."""
        timer = self.s.scalar(select(func.min(m.Timer.due_at)).where(m.Timer.fired_at.is_(None)))
        email = (
            self.s.scalar(select(func.min(m.OutboxEmail.due_at)).where(m.OutboxEmail.status == "queued"))
            if emails
            else None
        )
        found = [d for d in (timer, email) if d is not None]
        return min(found) if found else None

    def due_timers(self, now: datetime, limit: int = 100) -> Sequence[m.Timer]:
        q = select(m.Timer).where(m.Timer.fired_at.is_(None), m.Timer.due_at <= now)
        return self.s.scalars(q.order_by(m.Timer.due_at, m.Timer.id).limit(limit)).all()
