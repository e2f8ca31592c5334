"""Addresses the agent must not write to: bounced, or opted out (and what a person confirmed anyway)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, event, func, select
from sqlalchemy.orm import Session

from agent.store import models as m
from agent.store.queries.base import Queries, held_by_the_transaction

# The request that asks a CSM whether an email may still go to contacts who opted out; answering
# it like a review ("send") is the confirmation the outbox looks for (docs/outbox.md).
OPT_OUT_CONFIRM = "opt-out-confirm"

_FLAGS = m.AddressFlag.__table__.c
_OPTED_OUT = select(_FLAGS.email).where(
    _FLAGS.email.in_(bindparam("emails", expanding=True)), _FLAGS.opted_out_at.is_not(None)
)


# session.info: {address: whether it opted out}, as read in this transaction (`opted_out`)
OPTED = held_by_the_transaction("opted_out_answers")


@event.listens_for(Session, "before_flush")
def _flags_written(session: Session, _context: Any, _instances: Any) -> None:
    """Every session, wherever made: an address flag written makes the answers read before it stale.
    (Flags are written through the ORM only, `flag`: no Core statement changes them.)"""
    if OPTED in session.info and any(
        isinstance(o, m.AddressFlag) for o in (*session.new, *session.dirty, *session.deleted)
    ):
        del session.info[OPTED]


class AddressQueries(Queries):
    def blocked(self, emails: Iterable[str], *, email_id: int | None = None) -> set[str]:
        """The addresses among these (as given) that get no mail: bounced, or opted out.

        With `email_id`, an address that opted out before a person was asked to confirm that
        email for them is not blocked: the email went through their confirmation to get here.
        """
        given = list(emails)
        flags = self.s.scalars(
            select(m.AddressFlag).where(
                m.AddressFlag.email.in_([e.lower() for e in given]),
                (m.AddressFlag.bounced_at.is_not(None)) | (m.AddressFlag.opted_out_at.is_not(None)),
            )
        ).all()
        asked = self._confirmation_asked(email_id) if email_id is not None else None
        stopped = {
            f.email
            for f in flags
            if f.bounced_at is not None
            or asked is None
            or (f.opted_out_at is not None and f.opted_out_at > asked)
        }
        return {e for e in given if e.lower() in stopped}

    def opted_out(self, emails: Iterable[str]) -> set[str]:
        """The addresses among these (lower case) whose owners asked to get no more mail.

        An address asked about before in this transaction is answered as then: each email queued
        asks about its recipients, mostly the same CSM's address over a backlog's group (a round
        trip each on PostgreSQL). A flag written, or a savepoint rolled back, drops the answers.
        (The outbox asks again just before it sends: `blocked`.)
        """
        wanted = {e.lower() for e in emails}
        self.s.flush()  # pending flags are seen (and drop the answers read before them)
        known: dict[str, bool] = self.s.info.setdefault(OPTED, {})
        missing = [e for e in wanted if e not in known]
        if missing:
            found = set(self.s.connection().execute(_OPTED_OUT, {"emails": missing}).scalars())
            known.update((e, e in found) for e in missing)
        return {e for e in wanted if known[e]}

    def flag(self, email: str) -> m.AddressFlag:
        row = self.s.get(m.AddressFlag, email.lower())
        if row is None:
            row = m.AddressFlag(email=email.lower(), reason="")
            self.s.add(row)
        return row

    def _confirmation_asked(self, email_id: int) -> datetime | None:
        """When a person was first asked to confirm this email for contacts who opted out."""
        q = select(func.min(m.OutboxEmail.created_at)).where(
            m.OutboxEmail.review_of == email_id, m.OutboxEmail.template == OPT_OUT_CONFIRM
        )
        return self.s.scalar(q)
