"""One meeting from a server's own format (Graph JSON, EWS items) as an iCalendar object.

Every calendar backend hands the service iCalendar bytes, so time zones, cancellations,
sequences and matching go through one parser (agent.calendars.parse).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

import icalendar


def meeting_ics(
    *,
    uid: str,
    title: str,
    start: datetime | date,
    end: datetime | date,
    stamp: datetime | None,
    organizer: str = "",
    attendees: Iterable[str] = (),
    description: str = "",
    location: str = "",
    cancelled: bool = False,
    sequence: int = 0,
    recurrence_id: datetime | None = None,
    prodid: str = "-//csm-agent//EN",
) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", prodid)
    cal.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", uid)
    if recurrence_id is not None:
        event.add("recurrence-id", recurrence_id.astimezone(UTC))
    event.add("summary", title)
    if description:
        event.add("description", description)
    if location:
        event.add("location", location)
    event.add("dtstart", start.astimezone(UTC) if isinstance(start, datetime) else start)
    event.add("dtend", end.astimezone(UTC) if isinstance(end, datetime) else end)
    event.add("dtstamp", (stamp or datetime.now(UTC)).astimezone(UTC))
    event.add("sequence", sequence)
    if organizer:
        event.add("organizer", f"mailto:{organizer}")
    for address in attendees:
        if address:
            event.add("attendee", f"mailto:{address}")
    if cancelled:
        event.add("status", "CANCELLED")
    cal.add_component(event)
    return bytes(cal.to_ical())
