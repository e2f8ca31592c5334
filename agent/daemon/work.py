"""One item, one transaction: the event row, what it changes and what it queues commit together.

An item that fails is quarantined with its error and its bytes (never dropped, never retried
forever); a store that fails is not the item's fault: nothing is committed or acknowledged,
and the pass is tried again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from agent.clock import Clock
from agent.daemon.budget import item_budget
from agent.daemon.poison import PoisonMemory
from agent.handling.cause import Work, begin
from agent.store.audit import Trail
from agent.store.db import STORE_FAILURES, StoreUnavailable
from agent.store.repo import Repo

log = logging.getLogger(__name__)


class QuarantineError(Exception):
    """The item cannot be processed as it is; keep it aside with this message."""


class UnitOfWork:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        shared: bool,
        poison: PoisonMemory | None = None,
        budget_seconds: float = 0.0,
        budget_mb: float = 0.0,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.shared = shared  # several workers on one store: another may commit the same event first
        self.poison = poison  # None: items are not noted (a command line's one-off work)
        self.budget_seconds = budget_seconds
        self.budget_mb = budget_mb

    def __call__(
        self,
        key: str,
        source: str,
        payload: bytes | None,
        work: Work,
        content_hash: str | None = None,
        retry_of: int | None = None,
        arrived_at: datetime | None = None,
    ) -> str:
        """Run `work` for one item in one transaction.

        Returns "processed" (or the work's own label, e.g. "unmatched"), "seen" when the item was
        handled before, or "quarantined". `retry_of` is the quarantined row being tried again: it
        goes in the same transaction, so a crash or a new failure leaves it where it was.
        Raises StoreUnavailable when the database itself failed: the item was not at fault, so it
        is not quarantined; nothing was committed or acknowledged, and the next pass tries again.
        An item the process died on `PoisonMemory.limit` times in a row is quarantined untried.
        """
        return self.noted(
            key,
            content_hash,
            lambda: self._run(key, source, payload, work, content_hash, retry_of, arrived_at),
            lambda why: self.quarantine(key, source, payload, why, content_hash),
            retrying=retry_of is not None,
        )

    def noted(
        self,
        key: str,
        content_hash: str | None,
        run: Callable[[], str],
        keep_aside: Callable[[str], bool],
        *,
        retrying: bool = False,
    ) -> str:
        """`run` the item with a note of it on disk while it runs (PoisonMemory): an item the process
        died on `limit` times in a row is kept aside (`keep_aside(why)`) untried instead."""
        if self.poison is None:
            return run()
        poisoned = self.poison.begin(key, content_hash) if not retrying else ""
        try:
            if poisoned:
                log.error("quarantining %s: %s", key, poisoned)
                outcome = "quarantined" if keep_aside(poisoned) else "seen"
            else:
                outcome = run()
        except Exception:  # the store failed, not the process: it did not die on this item
            self.poison.end()
            raise
        # Not in a `finally`: a kill, SystemExit or running out of memory must leave the note behind.
        self.poison.end()
        return outcome

    def _run(
        self,
        key: str,
        source: str,
        payload: bytes | None,
        work: Work,
        content_hash: str | None,
        retry_of: int | None,
        arrived_at: datetime | None,
    ) -> str:
        try:
            with self.sessions.begin() as s:
                return self.item(Repo(s), key, source, work, content_hash, retry_of, arrived_at)
        except STORE_FAILURES as exc:
            raise StoreUnavailable.of(key, exc) from exc
        except Exception as exc:  # one bad item must not stop the agent: keep it aside with its error
            try:
                with self.sessions.begin() as s:
                    return self.set_aside(Repo(s), exc, key, source, payload, content_hash)
            except STORE_FAILURES as store_exc:
                raise StoreUnavailable.of(key, store_exc) from store_exc

    def set_aside(
        self,
        repo: Repo,
        exc: Exception,
        key: str,
        source: str,
        payload: bytes | None,
        content_hash: str | None,
    ) -> str:
        """An item whose work raised `exc`, its writes rolled back: "seen" when another worker committed
        the same event first, else kept aside with its error (`keep_aside`). Called while `exc` is
        being handled, in the caller's transaction (its own, or a group's)."""
        if isinstance(exc, IntegrityError) and self.shared and repo.event_committed(key):
            return "seen"  # another worker committed the same event first: it is done, once
        log.exception("quarantining %s", key)
        error = f"{type(exc).__name__}: {exc}"
        return "quarantined" if self.keep_aside(repo, key, source, payload, error, content_hash) else "seen"

    def item(
        self,
        repo: Repo,
        key: str,
        source: str,
        work: Work,
        content_hash: str | None = None,
        retry_of: int | None = None,
        arrived_at: datetime | None = None,
    ) -> str:
        """One item inside the caller's transaction (its own, or a savepoint of a group's): the event
        row, then the work under its budget. Raises what the work raised."""
        if retry_of is not None:
            repo.drop_event(retry_of)
        cause = begin(repo, key, source, self.clock.now(), content_hash, arrived_at=arrived_at)
        if cause is None:
            return "seen"
        with self.budget():  # the commit itself is never cut short
            label = work(repo, cause)
        return label or "processed"

    def budget(self) -> AbstractContextManager[None]:
        """An item's time and memory budget (agent.daemon.budget), for work done outside an item too."""
        return item_budget(self.budget_seconds, self.budget_mb)

    def quarantine(
        self, key: str, source: str, payload: bytes | None, error: str, content_hash: str | None = None
    ) -> bool:
        """Keep the item aside with its error; False when it was processed before (then nothing to keep)."""
        with self.sessions.begin() as s:
            return self.keep_aside(Repo(s), key, source, payload, error, content_hash)

    def keep_aside(
        self, repo: Repo, key: str, source: str, payload: bytes | None, error: str, content_hash: str | None
    ) -> bool:
        """`quarantine` inside the caller's transaction (a group's, beside the items that went through)."""
        now = self.clock.now()
        existing = repo.event(key) or (repo.event_with_hash(content_hash) if content_hash else None)
        if existing is not None and existing.status != "quarantined":
            return False
        if existing is not None:  # failed again on a retry: one row, its latest error, how often
            existing.error, existing.attempts = error, existing.attempts + 1
        else:
            repo.record_event(
                key=key,
                source=source,
                status="quarantined",
                received_at=now,
                error=error,
                payload=payload,
                content_hash=content_hash,
            )
        Trail(repo, now)("quarantined", f"{key}: {error}")
        return True

    def release(self, event_id: int) -> None:
        """A quarantined calendar file whose meetings are in now: the file itself is done with."""
        with self.sessions.begin() as s:
            row = Repo(s).event_by_id(event_id)
            if row is not None:
                row.status, row.error = "processed", ""

    def quarantined(self, event_id: int) -> tuple[str, str, bytes | None, str | None] | None:
        """(key, source, payload, content hash) of a quarantined item; None when it is not one."""
        with self.sessions.begin() as s:
            row = Repo(s).event_by_id(event_id)
            if row is None or row.status != "quarantined":
                return None
            return row.key, row.source, row.payload, row.content_hash
