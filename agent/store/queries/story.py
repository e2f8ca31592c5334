"""What a deal's story needs beyond its own rows: the natural keys of the inputs behind its audit lines."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from agent.store import models as m
from agent.store.queries.base import Queries


class StoryQueries(Queries):
    def event_keys(self, ids: Collection[int]) -> dict[int, str]:
        """id -> key of these inbound events, in one query: a message's key is its source key."""
        if not ids:
            return {}
        q = select(m.InboundEvent.id, m.InboundEvent.key).where(m.InboundEvent.id.in_(list(ids)))
        return {row.id: row.key for row in self.s.execute(q)}
