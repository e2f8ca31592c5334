"""What every mailbox backend is and hands over: the Mailbox Protocol, RawMail, and its one error.

The daemon sees only this: messages oldest first, acknowledged one by one after their
transaction committed, a wait for new mail, a probe. Which backend it gets is
agent.backends' business; what the bytes mean is agent.mime's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


@dataclass(frozen=True)
class RawMail:
    key: str  # natural key of this copy: maildir:<folder>:<name> or imap:<folder>:<uidvalidity>:<uid>
    data: bytes
    cursor: str = ""  # the source's position after this message, stored once it is processed
    # when the mailbox got it (IMAP INTERNALDATE, the Maildir file's time): where latency starts
    arrived_at: datetime | None = None
    # > 0: `data` is only the header block of a message of this many bytes, over [mailbox]
    # max_message_mb (a server that can fetch the headers alone spares fetching the rest)
    size: int = 0
    # The mailbox held it before the agent first watched it: people handled it then. It is recorded
    # (its row, its deal) but not acted on (agent.handling.mail.history; docs/mail.md, "History").
    history: bool = False


def arrival(value: datetime | None) -> datetime | None:
    """A server's arrival time as aware UTC (imapclient gives naive local time by default)."""
    if value is None:
        return None
    return value.astimezone(UTC)


class MailboxUnavailable(Exception):
    """The server cannot be reached now; the agent tries again later (with backoff)."""


class Mailbox(Protocol):
    name: str

    def fetch(self) -> Iterator[RawMail]:
        """Messages not yet acknowledged, oldest first."""

    def ack(self, mail: RawMail, outcome: str) -> None:
        """Move the cursor past `mail`; called only after its transaction committed.

        `outcome` is "processed", "unmatched", "quarantined" or "seen" (handled before).
        """

    def wait(self, timeout: float, should_stop: Callable[[], bool]) -> None:
        """Return when new mail may have arrived, after `timeout` seconds, or when asked to stop."""

    def close(self) -> None: ...

    def probe(self) -> str:
        """Log in and look at the folder, reading nothing; what was found, in a line (check --connect)."""
