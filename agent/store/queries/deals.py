"""Deals and their accounts."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlalchemy import bindparam, inspect, select

from agent.store import models as m
from agent.store.queries.base import Queries

TOKEN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: people read these aloud

_NAME = select(m.Deal.__table__.c.name).where(m.Deal.__table__.c.id == bindparam("id"))


class DealQueries(Queries):
    def deal(self, deal_id: int) -> m.Deal | None:
        deal = self.s.get(m.Deal, deal_id)
        if deal is not None:
            self.held[m.Deal, deal_id] = deal
        return deal

    def deal_name(self, deal_id: int) -> str:
        """The deal's name; from the deal in hand if the session holds it, else its column alone (a
        log line about a deal nobody else in the item read needs no whole deal: JSON columns and all)."""
        held = self.s.identity_map.get(inspect(m.Deal).identity_key_from_primary_key((deal_id,)))
        if isinstance(held, m.Deal):
            return held.name
        self.s.flush()
        return self.s.connection().execute(_NAME, {"id": deal_id}).scalar() or ""

    def deals(self) -> Sequence[m.Deal]:
        return self.s.scalars(select(m.Deal).order_by(m.Deal.id)).all()

    def pipelines_in_use(self) -> set[str]:
        """The pipelines that have at least one deal."""
        return set(self.s.scalars(select(m.Deal.pipeline).distinct()))

    def deal_by_name(self, name: str) -> m.Deal | None:
        return self.s.scalars(select(m.Deal).where(m.Deal.name == name)).first()

    def account(self, name: str) -> m.Account:
        acc = self.s.scalars(select(m.Account).where(m.Account.name == name)).first()
        if acc is None:
            acc = m.Account(name=name, name_key=m.name_key(name))
            self.s.add(acc)
        return acc

    def new_token(self) -> str:
        deals = m.Deal.__table__.c
        while True:
            token = "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(8))
            if not self._ids(select(deals.id).where(deals.token == token)):
                return token
