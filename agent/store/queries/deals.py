"""Deals and their accounts."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import bindparam, inspect, select, text

from agent.store import models as m
from agent.store.queries.base import Queries
from agent.store.queries.people_ahead import (
    CONTACT,
    DOMAIN,
    PEOPLE_OF,
    PEOPLE_WRITES,
    ROLE,
    ahead,
    people_rows,
)

TOKEN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: people read these aloud

_NAME = select(m.Deal.__table__.c.name).where(m.Deal.__table__.c.id == bindparam("id"))


class Person(NamedTuple):
    """One of a deal's people as a plain row: a role of ours (csm, ...) or a client contact."""

    role: str
    name: str
    email: str


@dataclass(frozen=True)
class People:
    """Who of ours fills which role on a deal, its client contacts, and its client's domains; each in
    the order they were added."""

    roles: tuple[Person, ...]
    contacts: tuple[Person, ...]
    domains: tuple[str, ...]

    @classmethod
    def of(cls, deal: m.Deal) -> People:
        """From the deal's own collections (a deal not stored: `check`'s sample)."""
        return cls(_persons(deal.roles), _persons(deal.contacts), _domains(deal.domains))


def _persons(rows: Sequence[m.RoleAssignment] | Sequence[m.Contact]) -> tuple[Person, ...]:
    return tuple(Person(r.role, r.name, r.email) for r in rows)


def _domains(rows: Sequence[m.ClientDomain]) -> tuple[str, ...]:
    return tuple(d.domain for d in rows)


class DealQueries(Queries):
    def deal(self, deal_id: int) -> m.Deal | None:
        deal = self.s.get(m.Deal, deal_id)
        if deal is not None:
            self.held[m.Deal, deal_id] = deal
        return deal

    def people(self, deal: m.Deal) -> People:
        """The deal's roles, contacts and domains as plain rows, in one statement (none when read ahead).

        Loading them as objects (the deal's `roles` and `contacts`) cost about 0.7 ms a message, ten
        times the statement: the rows each message's forward, RACI and rule facts read. A collection
        this transaction loaded or changed is taken as it stands. The read is held for the item's
        later steps (three read it a message: a round trip each on PostgreSQL) until a flush writes
        a contact, a role or a domain; a group's coming messages have theirs read ahead (people_ahead).
        The domains come with them: an email a rule sends names them, and loading them (a lazy load
        of `deal.domains`) was a statement of its own for each.
        """
        loaded = deal.__dict__
        if "roles" in loaded and "contacts" in loaded and "domains" in loaded:
            return People.of(deal)
        self.s.flush()  # pending rows are seen, as the ORM's autoflush would show them
        writes = self.s.info.get(PEOPLE_WRITES, 0)
        held = self.held.get((People, deal.id))
        if held is not None and held[0] == writes:
            read: People = held[1]
        else:
            read_ahead = ahead(self.s)
            rows = read_ahead.people.get(deal.id) if read_ahead is not None else None
            if rows is None:
                rows = people_rows(self.s.connection().execute(PEOPLE_OF, {"ids": [deal.id]})).get(
                    deal.id, []
                )
            read = People(
                tuple(Person(*r[1:]) for r in rows if r[0] == ROLE),
                tuple(Person(*r[1:]) for r in rows if r[0] == CONTACT),
                tuple(r[3] for r in rows if r[0] == DOMAIN),
            )
            self.held[People, deal.id] = (writes, read)
        return People(
            _persons(deal.roles) if "roles" in loaded else read.roles,
            _persons(deal.contacts) if "contacts" in loaded else read.contacts,
            _domains(deal.domains) if "domains" in loaded else read.domains,
        )

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

    def deals_loaded(self) -> None:
        """After many deals were written at once (`deals import`): PostgreSQL's planner is told what the
        tables now hold. Until its autovacuum gets to them (a minute or more), it plans the tables
        as it last saw them, and looks each message's addresses up through all the contacts (8 ms a
        look-up at 100,000 contacts) instead of their index. Its documentation asks for ANALYZE after
        a bulk load. SQLite keeps no statistics unless asked, and assumes an index narrows."""
        if self.s.get_bind().dialect.name == "postgresql":
            self.s.execute(text("ANALYZE deals, contacts, role_assignments, client_domains"))
