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

from agent.calendars.base import CalendarObject
from agent.calendars.vevent import meeting_ics
from agent.clock import Clock, SystemClock
from agent.config import Config
from agent.connect.graph_client import DeltaExpired, GraphClient
from agent.cursors import CursorStore

log = logging.getLogger(__name__)
PREFER = {"Prefer": 'outlook.timezone="UTC", odata.maxpagesize=50'}


def from_config(config: Config, cursors: CursorStore, clock: Clock | None) -> GraphCalendar:
    return GraphCalendar(config, cursors, clock=clock)


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

    def probe(self) -> str:
        calendar = self.client.request("GET", self.client.user_path("/calendar")).json()
        return f"{self.source}: signed in; calendar {calendar.get('name', '?')}"

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
    all_day = bool(event.get("isAllDay"))
    start, end = _time(event["start"]), _time(event["end"])
    modified = event.get("lastModifiedDateTime")
    return meeting_ics(
        # iCalUId is what invitations carry as UID; an occurrence of a series has its own
        uid=str(event.get("iCalUId") or event["id"]),
        title=str(event.get("subject") or ""),
        start=start.date() if all_day else start,
        end=end.date() if all_day else end,
        stamp=_time({"dateTime": modified, "timeZone": "UTC"}) if modified else None,
        organizer=str(((event.get("organizer") or {}).get("emailAddress") or {}).get("address") or ""),
        attendees=[
            str((a.get("emailAddress") or {}).get("address") or "") for a in event.get("attendees") or []
        ],
        description=str(event.get("bodyPreview") or ""),
        location=str((event.get("location") or {}).get("displayName") or ""),
        cancelled=bool(event.get("isCancelled")),
        prodid="-//csm-agent//Microsoft Graph//EN",
    )


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
