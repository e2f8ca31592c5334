"""What every calendar backend is and hands over: the CalendarSource Protocol and CalendarObject."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CalendarObject:
    """One iCalendar object as fetched; parsing happens in the daemon, so a bad one can be quarantined."""

    key: str  # source + content hash: the same bytes are looked at once
    source: str  # file name or URL: meetings remember it, so a deletion there cancels them
    data: bytes
    deleted: bool = False  # the object is gone from the server


class CalendarSource(Protocol):
    name: str

    def poll(self) -> Iterator[CalendarObject]:
        """Calendar objects that are new or changed since the last poll."""

    def probe(self) -> str:
        """Reach the calendar, changing nothing; what was found, in a line (check --connect)."""
