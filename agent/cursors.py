"""Where a source keeps its position: the contract shared by mailboxes and calendars.

A cursor is a string each backend shapes as it needs (an IMAP UIDVALIDITY and UID, a delta
link, a sync token) and stores under its source name once what it covers has been
processed. The daemon keeps them in the database (agent.store.cursors); a probe keeps them
in memory, since it moves none.
"""

from __future__ import annotations

from typing import Protocol


class CursorStore(Protocol):
    """Where a backend keeps its position; the daemon stores it in the database."""

    def get(self, source: str) -> str | None: ...
    def set(self, source: str, value: str) -> None: ...


class MemoryCursors:
    """Cursors for a probe, which moves none."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, source: str) -> str | None:
        return self.values.get(source)

    def set(self, source: str, value: str) -> None:
        self.values[source] = value
