"""Mailbox backends: where inbound email comes from. One Protocol, one loader."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from agent.config import Config
from agent.errors import ConfigError


@dataclass(frozen=True)
class RawMail:
    key: str  # natural key of this copy: maildir:<folder>:<name> or imap:<folder>:<uidvalidity>:<uid>
    data: bytes
    cursor: str = ""  # the source's position after this message, stored once it is processed
    # when the mailbox got it (IMAP INTERNALDATE, the Maildir file's time): where latency starts
    arrived_at: datetime | None = None


def arrival(value: datetime | None) -> datetime | None:
    """A server's arrival time as aware UTC (imapclient gives naive local time by default)."""
    if value is None:
        return None
    return value.astimezone(UTC)


class CursorStore(Protocol):
    """Where a backend keeps its position; the service stores it in the database."""

    def get(self, source: str) -> str | None: ...
    def set(self, source: str, value: str) -> None: ...


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


def load(config: Config, cursors: CursorStore) -> Mailbox:
    backend = config.mailbox.backend
    if backend == "maildir":
        from agent.mailboxes.maildir import MaildirMailbox

        return MaildirMailbox(config.maildir_path)
    if backend == "imap":
        from agent.mailboxes.imap import ImapMailbox

        return ImapMailbox(config.mailbox, cursors)
    if backend == "graph":
        from agent.mailboxes.graph import GraphMailbox

        return GraphMailbox(config, cursors)
    if backend == "exchange":
        from agent.mailboxes.exchange import ExchangeMailbox

        return ExchangeMailbox(config, cursors)
    raise ConfigError(f"[mailbox] backend = {backend!r}: not available")  # load_config refuses it first
