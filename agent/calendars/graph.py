"""Microsoft 365 calendar through Microsoft Graph: calendarView delta over the agent's window.

calendarView expands recurring series into occurrences, so each event here is one
meeting. Each is written as an iCalendar object and goes through the same parser as
CalDAV and .ics files (one path for time zones, cancellations and matching). A removed
event is a deletion, which cancels the meeting. The delta link is stored like a CalDAV
sync token; a calendarView delta covers a fixed window, so a new round starts once the
window's end comes nearer than half the lookahead.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar

from agent.calendars import CalendarObject
from agent.clock import Clock, SystemClock
from agent.config import Config
from agent.graph_client import DeltaExpired, GraphClient
from agent.mailboxes import CursorStore

log = logging.getLogger(__name__)
PREFER = {"Prefer": 'outlook.timezone="UTC", odata.maxpagesize=50'}


class GraphCalendar:
    name = "graph"

    def __init__(
        self,
        config: Config,
        cursors: CursorStore,
        client: GraphClient | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = config.calendar
        self.cursors = cursors
        self.client = client or GraphClient(config.graph, config.agent.address)
        self.clock = clock or SystemClock()
        self.source = f"graph-calendar:{self.client.mailbox}"

    def poll(self) -> Iterator[CalendarObject]:
        state = json.loads(self.cursors.get(self.source) or "{}")
        now = self.clock.now()
        until = datetime.fromisoformat(state["until"]) if state.get("until") else None
        if (
            not state.get("link")
            or until is None
            or until - now < timedelta(days=self.settings.lookahead_days / 2)
        ):
            state = self._new_round(now)
        try:
            yield from self._round(state)
        except DeltaExpired as exc:
            log.warning("%s: the delta link expired (%s); reading the window again", self.source, exc)
            yield from self._round(self._new_round(now))

    def _new_round(self, now: datetime) -> dict[str, str]:
        start = now - timedelta(days=self.settings.lookbehind_days)
        end = now + timedelta(days=self.settings.lookahead_days)
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        link = self.client.user_path(
            f"/calendarView/delta?startDateTime={start.astimezone(UTC):{fmt}}&endDateTime={end.astimezone(UTC):{fmt}}"
        )
        return {"link": link, "until": end.isoformat()}

    def _round(self, state: dict[str, str]) -> Iterator[CalendarObject]:
        for items, link, _ in self.client.rounds(state["link"], PREFER):
            for event in items:
                source = f"{self.source}:{event['id']}"
                if "@removed" in event:
                    yield CalendarObject(
                        f"graph-removed:{event['id']}:{link[-40:]}", source, b"", deleted=True
                    )
                    continue
                data = event_to_ics(event)
                yield CalendarObject(
                    f"graph:{event['id']}:{hashlib.sha256(data).hexdigest()[:32]}", source, data
                )
            # after the page's objects were taken in (the service commits each before asking for more)
            self.cursors.set(self.source, json.dumps({"link": link, "until": state["until"]}))


def event_to_ics(event: dict[str, Any]) -> bytes:
    """One Graph event as an iCalendar object, in the shape invitations and CalDAV servers give."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//csm-agent//Microsoft Graph//EN")
    cal.add("version", "2.0")
    vevent = icalendar.Event()
    # iCalUId is what invitations carry as UID; an occurrence of a series has its own
    vevent.add("uid", event.get("iCalUId") or event["id"])
    vevent.add("summary", event.get("subject") or "")
    vevent.add("description", event.get("bodyPreview") or "")
    location = (event.get("location") or {}).get("displayName")
    if location:
        vevent.add("location", location)
    if event.get("isAllDay"):
        vevent.add("dtstart", _time(event["start"]).date())
        vevent.add("dtend", _time(event["end"]).date())
    else:
        vevent.add("dtstart", _time(event["start"]))
        vevent.add("dtend", _time(event["end"]))
    modified = event.get("lastModifiedDateTime")
    vevent.add("dtstamp", _time({"dateTime": modified, "timeZone": "UTC"}) if modified else datetime.now(UTC))
    vevent.add("sequence", 0)
    organizer = ((event.get("organizer") or {}).get("emailAddress") or {}).get("address")
    if organizer:
        vevent.add("organizer", f"mailto:{organizer}")
    for attendee in event.get("attendees") or []:
        address = (attendee.get("emailAddress") or {}).get("address")
        if address:
            vevent.add("attendee", f"mailto:{address}")
    if event.get("isCancelled"):
        vevent.add("status", "CANCELLED")
    cal.add_component(vevent)
    return bytes(cal.to_ical())


def _time(value: dict[str, Any]) -> datetime:
    """Graph's {"dateTime": "2026-12-01T14:00:00.0000000", "timeZone": "UTC"} (we ask for UTC)."""
    text = str(value["dateTime"]).rstrip("Z")
    if "." in text:
        head, fraction = text.split(".", 1)
        text = f"{head}.{fraction[:6]}"
    parsed = datetime.fromisoformat(text)
    if value.get("timeZone", "UTC") not in ("UTC", "Etc/UTC"):
        log.warning("graph event time in %s although UTC was asked for; read as UTC", value.get("timeZone"))
    return parsed.replace(tzinfo=UTC)
