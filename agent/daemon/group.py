"""A backlog's items in groups: several in one transaction, each of them able to roll back alone.

DESIGN.md allows it and a backlog needs it: a transaction per message was, after parsing, the
largest cost of taking in months of mail (docs/performance.md). A group keeps every promise of
one item per transaction:

- an item that fails takes back what it did, alone, and is kept aside (quarantined) in the
  group's transaction, beside the items that went through;
- nothing is acknowledged to the mailbox before the group committed (the caller acks after
  `commit`, by the outcomes it returns), so a crash anywhere in a group loses nothing: the whole
  group is fetched again, and what an earlier group committed is known by its key;
- a store that fails fails the whole group: nothing is committed or acknowledged, the pass is
  tried again (StoreUnavailable), and no item is blamed for it;
- the process dying on an item leaves that item's note (PoisonMemory), as for a single item.

An item runs bare, without a savepoint of its own: SAVEPOINT and RELEASE were two of a message's
dozen statements, a round trip each on PostgreSQL, for a failure that seldom comes. When one
does, the group's transaction rolls back whole, the items that ran before it run again, each in
a savepoint (`_guarded`), and the failed one is kept aside; the rest of the group runs in
savepoints too. The items kept for running again hold their messages: past REPLAY_BYTES of them,
the rest of the group runs in savepoints, and lets them go.

A group commits when it holds `size` items or MAX_BYTES of messages, when it has been open
`seconds`, and whenever the caller says nothing more is waiting: a single new message (IMAP
IDLE) commits alone, at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session

from agent.daemon.work import UnitOfWork
from agent.handling.cause import Work
from agent.store.db import STORE_FAILURES, StoreUnavailable, has_written
from agent.store.repo import Repo

MAX_BYTES = 16_000_000  # a group also commits once its messages hold this much: ORM rows keep a payload
REPLAY_BYTES = 4_000_000  # the messages a group keeps to run again after a failure, at the most


class Coming(NamedTuple):
    """A message read ahead, as a look-ahead asks about it (from its raw bytes, not yet parsed)."""

    content_hash: str
    message_id: str | None  # the one its header names
    addresses: set[str]  # those its header names


@dataclass(frozen=True)
class _Item:
    key: str
    source: str
    payload: bytes | None
    work: Work
    content_hash: str | None
    arrived_at: datetime | None
    kept: str | None = None  # why it was kept aside untried (the process died on it): no work to run


class Group:
    def __init__(self, work: UnitOfWork, size: int, seconds: float) -> None:
        self.work = work
        self.size = size
        self.seconds = seconds
        self._session: Session | None = None
        self._opened = 0.0
        self.count = 0  # items in the open group
        self.bytes = 0  # and their payloads' size
        self.looked: set[str] = set()  # keys the open group's transaction looked ahead for
        self.outcomes: dict[str, str] = {}  # key -> outcome of the open group's items, as they stand
        self.ran: list[_Item] = []  # the items that ran bare, to run again should one fail
        self.careful = False  # the rest of the open group runs each item in a savepoint

    def look_ahead(self, coming: dict[str, Coming]) -> None:
        """Ask the store at once which of the coming items (by key) it has not seen, which of their
        Message-IDs no message has, and who their addresses are on which deals: a statement or
        three where each item would run five of its own (EventQueries.look_ahead,
        MessageQueries.look_ahead_messages, PeopleAheadQueries.look_ahead_people)."""
        fresh = {k: c for k, c in coming.items() if k not in self.looked}
        if not fresh:
            return
        session = self._open()
        ids = {c.message_id for c in fresh.values() if c.message_id}
        people = {a for c in fresh.values() for a in c.addresses}
        try:
            repo = Repo(session)
            repo.look_ahead(fresh.keys(), {c.content_hash for c in fresh.values()})
            if ids:
                repo.look_ahead_messages(ids)
            if people:
                repo.look_ahead_people(people)
        except STORE_FAILURES as exc:
            self.abandon()
            raise StoreUnavailable.of("a look-ahead", exc) from exc
        self.looked.update(fresh)

    def __call__(
        self,
        key: str,
        source: str,
        payload: bytes | None,
        work: Work,
        content_hash: str | None = None,
        arrived_at: datetime | None = None,
    ) -> str:
        """Run one item in the open group (opening one if none is); its outcome holds once `commit`
        returns (`commit` says it again: an item run again after a failure may end otherwise)."""
        session = self._open()
        item = _Item(key, source, payload, work, content_hash, arrived_at)

        def untried(why: str) -> bool:  # the process died on it before: kept aside, and so again
            kept = self.work.keep_aside(Repo(session), key, source, payload, why, content_hash)
            self._ran(replace(item, kept=why))
            return kept

        outcome = self.work.noted(key, content_hash, lambda: self._item(session, item), untried)
        self.outcomes[key] = outcome
        self.count += 1
        self.bytes += len(payload or b"")
        return outcome

    @property
    def due(self) -> bool:
        """Whether the open group is full or old enough to commit."""
        full = self.count >= self.size or self.bytes >= MAX_BYTES
        return full or time.monotonic() - self._opened >= self.seconds

    def commit(self) -> dict[str, str]:
        """Commit the open group (nothing to do when none is open), and the outcome of each of its
        items by key; StoreUnavailable if the store fails."""
        session, outcomes = self._session, self.outcomes
        self._reset()
        if session is None:
            return outcomes
        try:
            session.commit()
        except STORE_FAILURES as exc:
            session.rollback()
            raise StoreUnavailable.of("a group of items", exc) from exc
        finally:
            session.close()
        return outcomes

    def abandon(self) -> None:
        """Roll the open group back: none of its items happened (they are fetched again)."""
        session = self._session
        self._reset()
        if session is not None:
            session.rollback()
            session.close()

    def _reset(self) -> None:
        self._session, self.count, self.bytes, self.looked = None, 0, 0, set()
        self.outcomes, self.ran, self.careful = {}, [], False

    def _open(self) -> Session:
        if self._session is None:
            self._session = self.work.sessions()
            self._opened = time.monotonic()
        return self._session

    def _item(self, session: Session, item: _Item) -> str:
        if self.careful:
            return self._guarded(session, item)
        try:
            outcome = self.work.item(
                Repo(session), item.key, item.source, item.work, item.content_hash, arrived_at=item.arrived_at
            )
        except STORE_FAILURES as exc:
            self.abandon()  # the database, not the item: the whole group goes again
            raise StoreUnavailable.of(item.key, exc) from exc
        except Exception as exc:
            return self._again(session, item, exc)
        self._ran(item)
        return outcome

    def _ran(self, item: _Item) -> None:
        """Keep an item that went through bare, to run it again should a later one fail."""
        if self.careful:
            return  # a failure rolls back to its own savepoint: nothing runs again
        self.ran.append(item)
        if sum(len(i.payload or b"") for i in self.ran) > REPLAY_BYTES:
            self.careful, self.ran = True, []  # what ran stands: the rest each in a savepoint

    def _again(self, session: Session, failed: _Item, exc: Exception) -> str:
        """A bare item failed (`exc`, being handled): the group's transaction back, the items that ran
        before it again, each in a savepoint, and the failed one kept aside."""
        ran, self.ran, self.careful = self.ran, [], True
        try:
            session.rollback()
            for item in ran:
                self.outcomes[item.key] = (
                    self._guarded(session, item) if item.kept is None else self._untried(session, item)
                )
            return self.work.set_aside(
                Repo(session), exc, failed.key, failed.source, failed.payload, failed.content_hash
            )
        except STORE_FAILURES as store_exc:
            self.abandon()
            raise StoreUnavailable.of(failed.key, store_exc) from store_exc

    def _untried(self, session: Session, item: _Item) -> str:
        """An item kept aside untried, kept aside again (its row went with the rollback)."""
        why = item.kept or ""
        kept = self.work.keep_aside(
            Repo(session), item.key, item.source, item.payload, why, item.content_hash
        )
        return "quarantined" if kept else "seen"

    def _guarded(self, session: Session, item: _Item) -> str:
        """One item in a savepoint of its own: should it fail, it alone is rolled back and kept aside."""
        repo = Repo(session)
        # Until the group has written, an item runs bare (see has_written): should it fail, rolling
        # the whole transaction back takes only its own reads and writes.
        bare = not has_written(session)
        key, source, payload, content_hash = item.key, item.source, item.payload, item.content_hash
        try:
            if bare:
                return self.work.item(repo, key, source, item.work, content_hash, arrived_at=item.arrived_at)
            with session.begin_nested():
                return self.work.item(repo, key, source, item.work, content_hash, arrived_at=item.arrived_at)
        except STORE_FAILURES as exc:
            self.abandon()  # the database, not the item: the whole group goes again
            raise StoreUnavailable.of(key, exc) from exc
        except Exception as exc:  # rolled back to its savepoint: the group's other items stand
            try:
                if bare:
                    session.rollback()
                return self.work.set_aside(repo, exc, key, source, payload, content_hash)
            except STORE_FAILURES as store_exc:
                self.abandon()
                raise StoreUnavailable.of(key, store_exc) from store_exc
