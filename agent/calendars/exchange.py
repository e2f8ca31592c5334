"""Exchange Server on-premises calendar through EWS: a CalendarView over the agent's window.

A CalendarView expands recurring series into their occurrences (each with the series' UID
and its RecurrenceId) and shows cancelled meetings with IsCancelled. It has no delta, so
the cursor remembers each item's ChangeKey: a new or changed ChangeKey is news, and an item
that is gone while its time is still inside the window was deleted (one that merely left
the window by ageing is not).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.calendars.base import CalendarObject
from agent.calendars.vevent import meeting_ics
from agent.clock import Clock, SystemClock
from agent.config import Config
from agent.connect.exchange_account import connect, utc
from agent.cursors import CursorStore

log = logging.getLogger(__name__)
FIELDS = (
    "uid", "recurrence_id", "appointment_sequence_number", "subject", "text_body", "location", "start", "end",
    "is_all_day", "is_cancelled", "organizer", "required_attendees", "optional_attendees", "last_modified_time",
)  # fmt: skip


def from_config(config: Config, cursors: CursorStore, clock: Clock | None) -> ExchangeCalendar:
    return ExchangeCalendar(config, cursors, clock=clock)


class ExchangeCalendar:
    name = "exchange"

    def __init__(
        self, config: Config, cursors: CursorStore, account: Any = None, clock: Clock | None = None
    ) -> None:
        self.config = config
        self.settings = config.calendar
        self.cursors = cursors
        self.account = account
        self.clock = clock or SystemClock()
        self.source = f"ews-calendar:{config.exchange.mailbox or config.agent.address}"

    def probe(self) -> str:
        if self.account is None:
            self.account = connect(self.config)
        return f"{self.source}: signed in; calendar {self.account.calendar.name}"

    def poll(self) -> Iterator[CalendarObject]:
        from exchangelib import EWSDateTime

        if self.account is None:
            self.account = connect(self.config)
        now = self.clock.now()
        start = now - timedelta(days=self.settings.lookbehind_days)
        end = now + timedelta(days=self.settings.lookahead_days)
        view = self.account.calendar.view(
            start=EWSDateTime.from_datetime(start.astimezone(UTC)),
            end=EWSDateTime.from_datetime(end.astimezone(UTC)),
        ).only(*FIELDS)
        known: dict[str, list[str]] = json.loads(self.cursors.get(self.source) or "{}")
        current: dict[str, list[str]] = {}
        for item in view:
            if isinstance(item, Exception):  # exchangelib hands back a per-item error in place of the item
                log.warning("%s: an item could not be read: %s", self.source, item)
                continue
            item_end = (
                item.end
                if isinstance(item.end, datetime)
                else datetime.combine(item.end, datetime.min.time())
            )
            current[item.id] = [item.changekey, utc(item_end).isoformat()]
            if known.get(item.id, [""])[0] != item.changekey:
                yield CalendarObject(
                    f"ews:{item.id}:{item.changekey}", f"{self.source}:{item.id}", item_to_ics(item)
                )
        for item_id, (changekey, ended) in known.items():
            if item_id not in current and datetime.fromisoformat(ended) > start:
                yield CalendarObject(
                    f"ews-removed:{item_id}:{changekey}", f"{self.source}:{item_id}", b"", deleted=True
                )
        self.cursors.set(self.source, json.dumps(current))  # every object above was taken in by now


def item_to_ics(item: Any) -> bytes:
    attendees = [
        a.mailbox.email_address for a in (item.required_attendees or []) + (item.optional_attendees or [])
    ]
    return meeting_ics(
        uid=item.uid or item.id,
        title=item.subject or "",
        start=item.start.date() if item.is_all_day else utc(item.start),
        end=item.end.date() if item.is_all_day else utc(item.end),
        stamp=utc(item.last_modified_time) if item.last_modified_time else None,
        organizer=item.organizer.email_address if item.organizer else "",
        attendees=attendees,
        description=item.text_body or "",
        location=item.location or "",
        cancelled=bool(item.is_cancelled),
        sequence=int(item.appointment_sequence_number or 0),
        recurrence_id=utc(item.recurrence_id) if item.recurrence_id else None,
        prodid="-//csm-agent//Exchange Web Services//EN",
    )
