"""Calendar backends: where meetings come from. One Protocol, one loader."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from agent.clock import Clock
from agent.config import Config
from agent.errors import ConfigError
from agent.mailboxes import CursorStore


@dataclass(frozen=True)
class CalendarObject:
    """One iCalendar object as fetched; parsing happens in the service, so a bad one can be quarantined."""

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


def load(config: Config, cursors: CursorStore, clock: Clock | None = None) -> CalendarSource | None:
    backend = config.calendar.backend
    if backend == "ics":
        from agent.calendars.ics_folder import IcsFolder

        return IcsFolder(config.ics_path)
    if backend == "caldav":
        from agent.calendars.caldav_source import CaldavCalendar

        return CaldavCalendar(config.calendar, cursors)
    if backend == "graph":
        from agent.calendars.graph import GraphCalendar

        return GraphCalendar(config, cursors, clock=clock)
    if backend == "exchange":
        from agent.calendars.exchange import ExchangeCalendar

        return ExchangeCalendar(config, cursors, clock=clock)
    if backend == "invites":
        return None  # invitations arrive by mail and are handled with the mailbox
    raise ConfigError(f"[calendar] backend = {backend!r}: not available")  # load_config refuses it first
