"""Inbound events: every input taken in, once, by its natural key (or its content)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, or_, select

from agent.store import models as m
from agent.store.queries.base import Queries

_EVENTS = m.InboundEvent.__table__.c
_KNOWN = select(_EVENTS.id).where(
    or_(_EVENTS.key == bindparam("key"), _EVENTS.content_hash == bindparam("hash"))
)


class EventQueries(Queries):
    def event(self, key: str) -> m.InboundEvent | None:
        return self.s.scalars(select(m.InboundEvent).where(m.InboundEvent.key == key)).first()

    def event_known(self, key: str, content_hash: str | None) -> bool:
        """Whether an input was taken in before, by its key or its content: one indexed look-up."""
        # no hash: None, and NULL = NULL is never true (an empty string would match every other one)
        return bool(self._ids(_KNOWN, {"key": key, "hash": content_hash or None}))

    def event_committed(self, key: str) -> bool:
        """Whether the input with this key was processed: a quarantined one is still to be done."""
        event = self.event(key)
        return event is not None and event.status != "quarantined"

    def event_with_hash(self, content_hash: str) -> m.InboundEvent | None:
        q = select(m.InboundEvent).where(m.InboundEvent.content_hash == content_hash)
        return self.s.scalars(q).first()

    def quarantined(self) -> Sequence[m.InboundEvent]:
        q = select(m.InboundEvent).where(m.InboundEvent.status == "quarantined").order_by(m.InboundEvent.id)
        return self.s.scalars(q).all()

    def event_by_id(self, event_id: int) -> m.InboundEvent | None:
        return self.s.get(m.InboundEvent, event_id)

    def drop_event(self, event_id: int) -> None:
        """Remove an event row now (a quarantined one being retried: the retry records it anew)."""
        row = self.s.get(m.InboundEvent, event_id)
        if row is not None:
            self.s.delete(row)
            self.s.flush()
