"""Addresses the agent must not write to: bounced or opted out."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from agent.store import models as m
from agent.store.queries.base import Queries


class AddressQueries(Queries):
    def blocked(self, emails: Iterable[str]) -> set[str]:
        q = select(m.AddressFlag.email).where(
            m.AddressFlag.email.in_([e.lower() for e in emails]),
            (m.AddressFlag.bounced_at.is_not(None)) | (m.AddressFlag.opted_out_at.is_not(None)),
        )
        return set(self.s.scalars(q))

    def flag(self, email: str) -> m.AddressFlag:
        row = self.s.get(m.AddressFlag, email.lower())
        if row is None:
            row = m.AddressFlag(email=email.lower(), reason="")
            self.s.add(row)
        return row
