"""The look-ups of matching.Directory: which deals an input may belong to, by indexed queries."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import bindparam, select

from agent.store import models as m
from agent.store.queries.base import Queries
from agent.store.queries.people_ahead import DEALS_OF, READ_WHOLE, ahead

MAX_NAME_WORDS = 8

_CONTACTS, _DOMAINS, _DEALS = (t.__table__.c for t in (m.Contact, m.ClientDomain, m.Deal))
_BY_EMAIL = select(_CONTACTS.deal_id).where(_CONTACTS.email == bindparam("email"))
_BY_DOMAIN = select(_DOMAINS.deal_id).where(_DOMAINS.domain == bindparam("domain"))
_STAGES_OF = select(_DEALS.id, _DEALS.pipeline, _DEALS.stage).where(
    _DEALS.id.in_(bindparam("ids", expanding=True))
)


class DirectoryQueries(Queries):
    def deals_by_token(self, token: str) -> set[int]:
        deals = m.Deal.__table__.c
        return self._ids(select(deals.id).where(deals.token == token.upper()))

    def deals_by_message_ids(self, message_ids: Iterable[str]) -> set[int]:
        ids = [i for i in message_ids if i]
        if not ids:
            return set()
        messages, outbox = m.Message.__table__.c, m.OutboxEmail.__table__.c
        found = self._ids(select(messages.deal_id).where(messages.message_id.in_(ids)))
        return found | self._ids(select(outbox.deal_id).where(outbox.message_id.in_(ids)))

    def deals_by_email(self, email: str) -> set[int]:
        """The deals the address is a contact on (none asked of the store when read ahead)."""
        email = email.lower()
        self.s.flush()  # a pending contact is written, and drops what was read ahead
        read = ahead(self.s)
        if read is not None and email in read.by_email:
            return set(read.by_email[email])
        return self._ids(_BY_EMAIL, {"email": email})

    def deals_by_domain(self, domain: str) -> set[int]:
        return self._ids(_BY_DOMAIN, {"domain": domain.lower()})

    def deals_named_in(self, text: str) -> set[int]:
        """Deals whose name, or whose client's name, appears in `text` as whole words.

        The text's word sequences are looked up in an index of normalised names, so the cost
        grows with the length of the subject, not with the number of deals.
        """
        grams = _word_grams(text)
        if not grams:
            return set()
        found = set(self.s.scalars(select(m.Deal.id).where(m.Deal.name_key.in_(grams))))
        accounts = select(m.Account.id).where(m.Account.name_key.in_(grams))
        found |= set(self.s.scalars(select(m.Deal.id).where(m.Deal.account_id.in_(accounts))))
        return found

    def deals_by_id(self, deal_id: int) -> set[int]:
        return {deal_id} if self.s.get(m.Deal, deal_id) is not None else set()

    def deals_in_stages(self, deal_ids: Iterable[int], stages: Iterable[tuple[str, str]]) -> set[int]:
        """Those of `deal_ids` whose (pipeline, stage) is one of `stages`: by primary key, so the
        cost grows with the candidates of one message, not with the deals in the store."""
        ids, pairs = sorted(set(deal_ids)), set(stages)
        if not ids or not pairs:
            return set()
        # The stages are compared here, not in SQL: an OR of every open (pipeline, stage) pair cost
        # more to build for each message than the query took to run.
        self.s.flush()
        if len(ids) <= READ_WHOLE:
            # A message's few candidates are read whole and held: the one it is tied to is read next
            # (its forward, its rules), and that read is then no statement (on PostgreSQL, a round trip).
            read = ahead(self.s)
            if read is not None and all(i in read.deals for i in ids):
                deals = [read.deals[i] for i in ids]  # read ahead for the group (people_ahead)
            else:
                deals = list(self.s.scalars(DEALS_OF, {"ids": ids}))
            self.held.update(((m.Deal, d.id), d) for d in deals)
            return {d.id for d in deals if (d.pipeline, d.stage) in pairs}
        rows = self.s.connection().execute(_STAGES_OF, {"ids": ids})
        return {i for i, pipeline, stage in rows if (pipeline, stage) in pairs}


def _word_grams(text: str) -> list[str]:
    """Every run of 1..8 consecutive words, normalised like `name_key`."""
    words = re.findall(r"[\w&'.-]+", text.lower())
    words = [w.strip(".'-") for w in words if w.strip(".'-")]
    grams = {
        " ".join(words[i : i + n]) for n in range(1, MAX_NAME_WORDS + 1) for i in range(len(words) - n + 1)
    }
    return sorted(grams)
