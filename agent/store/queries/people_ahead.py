"""The people a group's coming messages will ask about, read ahead: three statements for the group.

Each message of a backlog asks which deals its sender is a contact on (matching), reads those
deals (which of them are closed) and then the people of the one it is tied to (its forward to
the CSM, its rules): three statements a message, each a round trip on PostgreSQL. A group asks
for all its coming messages' addresses at once (`look_ahead_people`, from their raw headers):
which deals each is a contact on, those deals whole, and their roles, contacts and client
domains (what a rule's email says of the deal). The answers are taken by `deals_by_email`,
`deals_in_stages` and `people` without a statement of their own.

They hold for this transaction while nothing changes what they say: a flush that writes a contact,
a role or a client domain drops them (PEOPLE_WRITES counts such flushes), as does a savepoint rolled back; an
address not asked about ahead is asked of the store when its turn comes. A deal's own columns are
not copied: the deals read are the session's objects, which every change in the transaction shows.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, event, literal, literal_column, select, union_all
from sqlalchemy.orm import Session

from agent.store import models as m
from agent.store.queries.base import Queries, held_by_the_transaction

PEOPLE_WRITES = "people_writes"  # session.info: how many flushes wrote a contact, a role or a domain
AHEAD = held_by_the_transaction("people_ahead")  # session.info: the `Ahead` read for the coming messages
READ_WHOLE = 3  # a message's candidates read as whole deals (more: their stages alone)
MAX_DEALS = 200  # deals one look-ahead reads whole (a group's senders are on a few each)

_CONTACTS, _ROLES, _DOMAINS = m.Contact.__table__.c, m.RoleAssignment.__table__.c, m.ClientDomain.__table__.c
_CONTACTS_OF = select(_CONTACTS.email, _CONTACTS.deal_id).where(
    _CONTACTS.email.in_(bindparam("emails", expanding=True))
)
DEALS_OF = select(m.Deal).where(m.Deal.id.in_(bindparam("ids", expanding=True)))
# The roles (kind 0), contacts (kind 1) and client domains (kind 2, the domain in the email column)
# of deals, each kind in the order they were added.
ROLE, CONTACT, DOMAIN = 0, 1, 2
PEOPLE_OF = union_all(
    select(
        literal(ROLE).label("kind"), _ROLES.deal_id, _ROLES.id, _ROLES.role, _ROLES.name, _ROLES.email
    ).where(_ROLES.deal_id.in_(bindparam("ids", expanding=True))),
    select(
        literal(CONTACT), _CONTACTS.deal_id, _CONTACTS.id, _CONTACTS.role, _CONTACTS.name, _CONTACTS.email
    ).where(_CONTACTS.deal_id.in_(bindparam("ids", expanding=True))),
    select(literal(DOMAIN), _DOMAINS.deal_id, _DOMAINS.id, literal(""), literal(""), _DOMAINS.domain).where(
        _DOMAINS.deal_id.in_(bindparam("ids", expanding=True))
    ),
).order_by(literal_column("kind"), literal_column("id"))

PersonRow = tuple[int, str, str, str]  # kind (ROLE, CONTACT, DOMAIN), role, name, email (or domain)


@dataclass
class Ahead:
    writes: int  # PEOPLE_WRITES when read: the answers hold while it stays so
    by_email: dict[str, set[int]] = field(default_factory=dict)  # address -> deals it is a contact on
    deals: dict[int, m.Deal] = field(default_factory=dict)  # held: the identity map holds them weakly
    people: dict[int, list[PersonRow]] = field(default_factory=dict)  # deal id -> its people, in order


def ahead(session: Session) -> Ahead | None:
    """What was read ahead in this transaction, while it still holds (None: ask the store)."""
    found: Ahead | None = session.info.get(AHEAD)
    if found is None or found.writes != session.info.get(PEOPLE_WRITES, 0):
        return None
    return found


def people_rows(rows: Any) -> dict[int, list[PersonRow]]:
    """`PEOPLE_OF`'s rows by deal."""
    by_deal: dict[int, list[PersonRow]] = {}
    for kind, deal_id, _id, role, name, email in rows:
        by_deal.setdefault(deal_id, []).append((kind, role, name, email))
    return by_deal


@event.listens_for(Session, "before_flush")
def _count_people_writes(session: Session, _context: Any, _instances: Any) -> None:
    """Every session, wherever made: people read before this flush are out of date after it.
    (Contacts, roles and domains are written through the ORM only: no Core statement changes them.)"""
    if any(
        isinstance(o, m.Contact | m.RoleAssignment | m.ClientDomain)
        for o in (*session.new, *session.dirty, *session.deleted)
    ):
        session.info[PEOPLE_WRITES] = session.info.get(PEOPLE_WRITES, 0) + 1


class PeopleAheadQueries(Queries):
    def look_ahead_people(self, emails: Collection[str]) -> None:
        """Read ahead for these addresses (lower case): the deals each is a contact on, those deals
        (a few an address: more are stages alone, as `deals_in_stages` reads them) and their people."""
        self.s.flush()  # pending contacts and roles are written (and counted) before the read
        read = ahead(self.s) or Ahead(self.s.info.get(PEOPLE_WRITES, 0))
        wanted = sorted({e.lower() for e in emails} - read.by_email.keys())
        if not wanted:
            return
        found: dict[str, set[int]] = {e: set() for e in wanted}
        for email, deal_id in self.s.connection().execute(_CONTACTS_OF, {"emails": wanted}):
            found[email].add(deal_id)
        ids = sorted(
            {i for deals in found.values() if len(deals) <= READ_WHOLE for i in deals} - read.deals.keys()
        )
        ids = ids[: max(0, MAX_DEALS - len(read.deals))]
        if ids:
            read.deals.update((d.id, d) for d in self.s.scalars(DEALS_OF, {"ids": ids}))
            read.people.update(
                {i: [] for i in ids} | people_rows(self.s.connection().execute(PEOPLE_OF, {"ids": ids}))
            )
        read.by_email.update(found)
        self.s.info[AHEAD] = read
