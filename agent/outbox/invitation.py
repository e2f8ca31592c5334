"""A meeting invitation as an iTIP REQUEST (RFC 5546), the text an email carries to invite people.

The agent organises a short sync meeting itself (a high or critical issue on a hybrid account),
so it writes the calendar object that Outlook, Gmail and Thunderbird turn into Accept / Decline
buttons. What each property is for, from what those clients need:
- times in UTC ("...Z"): no VTIMEZONE to get right, and every client shows them in its own zone;
- UID and SEQUENCE: a later REQUEST with the same UID and a higher SEQUENCE moves the meeting,
  a CANCEL with the UID removes it (RFC 5546 2.1.4, 2.1.5);
- ATTENDEE with RSVP=TRUE and PARTSTAT=NEEDS-ACTION: clients offer to answer only then, and match
  the invitation to the recipient by the mailto address, so every invitee is named;
- TRANSP:OPAQUE: the slot shows as busy in the invitees' free/busy once accepted.

Only the icalendar API of version 6.0 is used (pyproject allows icalendar>=6.0): components built
with `add`, no property setters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from icalendar import Alarm, Calendar, Event, vCalAddress

from agent.domain import Address

PRODID = "-//csm-agent//sync meeting//EN"
REMINDER = timedelta(minutes=10)  # the VALARM: a display reminder this long before the start


def build_request(
    *,
    uid: str,
    organizer: Address,
    attendees: Sequence[Address],
    start: datetime,
    end: datetime,
    summary: str,
    description: str,
    now: datetime,
    sequence: int = 0,
) -> str:
    """The iCalendar text of a METHOD:REQUEST with one VEVENT, CRLF line endings, folded at 75 octets.

    `now` is the DTSTAMP: when this version of the invitation was made (RFC 5546 orders versions
    of one SEQUENCE by it). Raises ValueError for a naive time, an end not after the start, no
    attendee or an empty UID: each would make an invitation clients reject or misfile.
    """
    for name, value in (("start", start), ("end", end), ("now", now)):
        if value.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    if end <= start:
        raise ValueError(f"the meeting must end after it starts: {start.isoformat()} to {end.isoformat()}")
    if not uid.strip():
        raise ValueError("an invitation needs a UID: its updates and its cancellation name it")
    if not attendees:
        raise ValueError("a REQUEST invites someone: no attendee given")
    if sequence < 0:
        raise ValueError(f"SEQUENCE is a non-negative integer, got {sequence}")

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "REQUEST")

    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", start.astimezone(UTC))
    event.add("dtend", end.astimezone(UTC))
    event.add("sequence", sequence)
    event.add("status", "CONFIRMED")
    event.add("summary", summary)
    event.add("description", description)
    event.add("transp", "OPAQUE")
    event.add("organizer", _cal_address(organizer), parameters=_cn(organizer))
    for person in _unique(attendees):
        parameters = {
            **_cn(person),
            "CUTYPE": "INDIVIDUAL",
            "ROLE": "REQ-PARTICIPANT",
            "PARTSTAT": "NEEDS-ACTION",
            "RSVP": "TRUE",
        }
        event.add("attendee", _cal_address(person), parameters=parameters)

    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", summary or "Reminder")  # DISPLAY alarms must carry a DESCRIPTION
    alarm.add("trigger", -REMINDER)
    event.add_component(alarm)

    calendar.add_component(event)
    text: bytes = calendar.to_ical()
    return text.decode("utf-8")


def _cal_address(person: Address) -> vCalAddress:
    return vCalAddress(f"mailto:{person.email.strip()}")


def _cn(person: Address) -> dict[str, str]:
    """The CN parameter: the name clients show, on one line.

    A double quote cannot stand in a quoted parameter value; RFC 6868 escapes it as ^' but
    icalendar 6 and 7 differ on writing that and Outlook does not read it, so it becomes '.
    """
    name = " ".join(person.name.split()).replace('"', "'")
    return {"CN": name} if name else {}


def _unique(people: Sequence[Address]) -> list[Address]:
    """Each address once (case aside): a person listed twice would be asked twice to answer."""
    seen: dict[str, Address] = {}
    for person in people:
        seen.setdefault(person.email.strip().lower(), person)
    return list(seen.values())
