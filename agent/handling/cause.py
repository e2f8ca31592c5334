"""What started a piece of work: the inbound event, recorded once by its natural key.

The caller owns the transaction: the event row, every deal change and every queued email
commit together, or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from agent.store import models as m
from agent.store.audit import Trail
from agent.store.repo import Repo


@dataclass
class Cause:
    """The event row and the thing it is about."""

    event_id: int
    key: str
    # when the input reached the agent's mailbox or calendar, or came due: where latency starts
    arrived_at: datetime
    meeting: m.Meeting | None = None
    # The idempotency keys of the emails queued for it. A cause is new (`begin` records its event
    # in this very transaction, and an event key is recorded once): a key made of its own key
    # can only have been taken by this work, which then needs no look-up in the store.
    queued: set[str] = field(default_factory=set)

    def taken(self, repo: Repo, key: str, own: bool) -> bool:
        """Whether an email with this key is queued already; `own`: the key is made of this cause's key."""
        return key in self.queued if own else repo.key_taken(key)

    def trail(self, repo: Repo, now: datetime) -> Trail:
        """The audit trail of this work: every line names this event and this time."""
        return Trail(repo, now, self.event_id)


def begin(
    repo: Repo,
    key: str,
    source: str,
    now: datetime,
    content_hash: str | None = None,
    arrived_at: datetime | None = None,
) -> Cause | None:
    """Record the inbound event; None when it was handled before (at-least-once delivery upstream).

    A mail is also known by its content: after a UIDVALIDITY change it comes back under a new key.
    `arrived_at` is when the input reached the source (never later than now); default now.
    """
    if repo.event_known(key, content_hash):
        return None
    event_id = repo.record_event(
        key=key,
        source=source,
        status="processed",
        received_at=now,
        content_hash=content_hash,
    )
    return Cause(event_id, key, min(arrived_at or now, now))


# A piece of work inside one transaction; it may return a label such as "unmatched".
Work = Callable[[Repo, Cause], str | None]


class Process(Protocol):
    """Runs one piece of work as one item: its own transaction, quarantined if it fails (agent.daemon.work)."""

    def __call__(self, key: str, source: str, payload: bytes | None, work: Work) -> str: ...
