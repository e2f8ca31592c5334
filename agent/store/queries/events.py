"""Inbound events: every input taken in, once, by its natural key (or its content)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import bindparam, or_, select

from agent.store import models as m
from agent.store.queries.base import Queries

_EVENTS = m.InboundEvent.__table__.c
_KNOWN = select(_EVENTS.id).where(
    or_(_EVENTS.key == bindparam("key"), _EVENTS.content_hash == bindparam("hash"))
)
_ANY_KNOWN = select(_EVENTS.key, _EVENTS.content_hash).where(
    or_(
        _EVENTS.key.in_(bindparam("keys", expanding=True)),
        _EVENTS.content_hash.in_(bindparam("hashes", expanding=True)),
    )
)
# session.info: the keys and content hashes a look-ahead found no event for, in this transaction
NOT_SEEN = "events_not_seen"


class EventQueries(Queries):
    def event(self, key: str) -> m.InboundEvent | None:
        return self.s.scalars(select(m.InboundEvent).where(m.InboundEvent.key == key)).first()

    def look_ahead(self, keys: Collection[str], hashes: Collection[str]) -> None:
        """One statement for the inputs about to be taken in (a backlog's next messages): those it
        finds no event for are then answered by `event_known` without a statement of their own.

        Each such answer is given once, to the first look-up of its key (the item about to record
        it): after that, or once an event with its key or content is written, the store is asked.
        It holds for this transaction only (session.info), as any read does.
        """
        rows = self.s.connection().execute(_ANY_KNOWN, {"keys": list(keys), "hashes": list(hashes)}).all()
        seen_keys, seen_hashes = {r.key for r in rows}, {r.content_hash for r in rows}
        not_keys, not_hashes = self.s.info.setdefault(NOT_SEEN, (set(), set()))
        not_keys.update(k for k in keys if k not in seen_keys)
        not_hashes.update(h for h in hashes if h not in seen_hashes)

    def event_known(self, key: str, content_hash: str | None) -> bool:
        """Whether an input was taken in before, by its key or its content: one indexed look-up
        (none when a look-ahead found neither)."""
        not_keys, not_hashes = self.s.info.get(NOT_SEEN, ((), ()))
        if key in not_keys and (not content_hash or content_hash in not_hashes):
            self._written(key, content_hash)  # answered once: this item records it now
            return False
        # no hash: None, and NULL = NULL is never true (an empty string would match every other one)
        return bool(self._ids(_KNOWN, {"key": key, "hash": content_hash or None}))

    def record_event(self, **values: Any) -> int:
        """A new event row, and its id."""
        self._written(values["key"], values.get("content_hash"))
        return self.insert(m.InboundEvent, **values)

    def _written(self, key: str, content_hash: str | None) -> None:
        if NOT_SEEN in self.s.info:
            not_keys, not_hashes = self.s.info[NOT_SEEN]
            not_keys.discard(key)
            not_hashes.discard(content_hash)

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
