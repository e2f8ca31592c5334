"""Read an iCalendar object into MeetingVersions: one per meeting or per occurrence.

Every calendar source (ics folder, invitations, CalDAV, ...) ends here, so this is
where real-world quirks are absorbed: Windows and Exchange zone names, floating
times, events without a UID, Microsoft CDO's spaced RRULEs, moved, cancelled and
THISANDFUTURE occurrences. icalendar parses; recurring-ical-events expands.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from icalendar.cal.component import Component

from agent.calendars.recurrence import rrule_problem
from agent.calendars.timezones import TIME_PROPERTIES, localize_event, property_values, resolve_tzid, to_utc
from agent.domain import Address, MeetingVersion

log = logging.getLogger(__name__)

MAX_OCCURRENCES = 200  # of one series in the window ([calendar] max_occurrences)
# Meetings (UIDs) read from one emailed invitation. An iTIP request is about one meeting and its
# exceptions (RFC 5546); one 0.9 MB invitation of 4,500 events from a stranger cost 96 s to store.
# A calendar's own objects (an exported .ics file) are not bounded this way.
MAX_INVITATION_MEETINGS = 20
# Properties that occur at most once, with the type of value they must hold.
_SINGLE_TIME_PROPERTIES = {"DTSTART": date, "DTEND": date, "RECURRENCE-ID": date, "DURATION": timedelta}


class CalendarParseError(ValueError):
    """The data is not an iCalendar object at all (a broken VEVENT is only skipped)."""


class _Occurrence(recurring_ical_events.Occurrence):  # type: ignore[misc]  # the library is untyped
    """An occurrence that keeps its own SEQUENCE and its own original start.

    The library stamps every occurrence with the highest SEQUENCE of its series,
    but an occurrence is versioned by the VEVENT that defines it (RFC 5546), so an
    untouched occurrence or a lower-SEQUENCE exception keeps its own number. For
    RANGE=THISANDFUTURE the library copies the modification's RECURRENCE-ID onto
    every later occurrence; each one gets back its own original start instead.
    """

    def __init__(self, adapter: Any, start: Any = None, end: Any = None, sequence: int = -1) -> None:
        super().__init__(adapter, start, end)
        self._source = adapter

    def as_component(self, keep_recurrence_attributes: bool) -> Component:
        component: Component = super().as_component(keep_recurrence_attributes)
        if self._source.this_and_future:
            original = self.start - self._source.move_recurrences_by
            component["RECURRENCE-ID"] = icalendar.vDDDTypes(original)
        return component


_EVENTS = recurring_ical_events.ComponentsWithName("VEVENT", occurrence=_Occurrence)


@dataclass(frozen=True)
class _Series:
    """What every version of one UID shares."""

    uid: str
    method: str
    recurring: bool  # has RRULE/RDATE or exceptions: versions carry a recurrence_id
    date_based: bool  # the series starts on a DATE (all-day)
    floating: tzinfo  # the zone for floating times and dates


def parse_calendar(
    data: bytes,
    *,
    window_start: datetime,
    window_end: datetime,
    source: str = "",
    default_tz: str = "UTC",
    max_occurrences: int = MAX_OCCURRENCES,
    max_meetings: int = 0,
) -> list[MeetingVersion]:
    """Return the meetings and occurrences overlapping [window_start, window_end), at most
    `max_occurrences` of each series, and of the first `max_meetings` UIDs when > 0.

    Raises CalendarParseError only when ``data`` is no iCalendar object; a broken
    VEVENT is skipped with a warning. Floating times and all-day dates are read in
    the calendar's X-WR-TIMEZONE, else in ``default_tz``.
    """
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("window_start and window_end must be timezone-aware")
    source = source or "<calendar data>"
    versions: list[MeetingVersion] = []
    for calendar in _load_calendars(data, source):
        versions.extend(
            _calendar_versions(calendar, window_start, window_end, source, default_tz, max_occurrences)
        )
    if max_meetings > 0:
        uids = list(dict.fromkeys(v.uid for v in versions))
        if len(uids) > max_meetings:
            log.warning("%s: %d meetings, only the first %d read", source, len(uids), max_meetings)
            kept = set(uids[:max_meetings])
            versions = [v for v in versions if v.uid in kept]
    return sorted(versions, key=_order)


def parse_invitation_parts(
    parts: Iterable[bytes],
    *,
    window_start: datetime,
    window_end: datetime,
    source: str = "",
    default_tz: str = "UTC",
    max_occurrences: int = MAX_OCCURRENCES,
) -> list[MeetingVersion]:
    """Parse the text/calendar payloads of one email, without duplicate versions.

    Mail clients often attach the same invitation twice (inline and as a file).
    An unreadable part is logged and skipped; only when no part can be read is
    its CalendarParseError raised.
    """
    found: dict[MeetingVersion, None] = {}
    errors: list[CalendarParseError] = []
    parts = list(parts)
    for index, part in enumerate(parts, 1):
        label = f"{source} part {index}" if source else f"part {index}"
        try:
            versions = parse_calendar(
                part,
                window_start=window_start,
                window_end=window_end,
                source=label,
                default_tz=default_tz,
                max_occurrences=max_occurrences,
                max_meetings=MAX_INVITATION_MEETINGS,
            )
        except CalendarParseError as exc:
            log.warning("%s", exc)
            errors.append(exc)
            continue
        found.update(dict.fromkeys(versions))
    if errors and len(errors) == len(parts):
        raise errors[0]
    return sorted(found, key=_order)


def _order(version: MeetingVersion) -> tuple[datetime, str, str]:
    return version.start, version.uid, version.recurrence_id


def _load_calendars(data: bytes, source: str) -> list[Component]:
    try:
        components = icalendar.Calendar.from_ical(_as_utf8(data), multiple=True)
    except (ValueError, TypeError, LookupError, OSError) as exc:  # OSError: a TZID too long for zoneinfo
        raise CalendarParseError(f"{source}: not an iCalendar object: {exc}") from exc
    calendars: list[Component] = [component for component in components if component.name == "VCALENDAR"]
    if not calendars:
        found = ", ".join(component.name for component in components) or "nothing"
        raise CalendarParseError(f"{source}: not an iCalendar object: no complete VCALENDAR (found {found})")
    return calendars


def _as_utf8(data: bytes) -> bytes:
    """The data as UTF-8 bytes (bytes, because icalendar reads a one-line str as a file path)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        # An iMIP part loses its charset= on the way here; Outlook's legacy default is Windows-1252.
        return data.decode("cp1252", errors="replace").encode("utf-8")
    return data


ASSUMED = "X-CSM-AGENT-ASSUMED"


def _calendar_versions(
    calendar: Component,
    window_start: datetime,
    window_end: datetime,
    source: str,
    default_tz: str,
    max_occurrences: int,
) -> list[MeetingVersion]:
    method = _text(calendar, "METHOD").strip().upper()
    wr_timezone = _text(calendar, "X-WR-TIMEZONE")
    floating = (resolve_tzid(wr_timezone) if wr_timezone else None) or ZoneInfo(default_tz)
    versions: list[MeetingVersion] = []
    for uid, events in _events_by_uid(calendar, floating, source, window_end).items():
        try:
            series = _series(uid, events, method, floating)
            versions.extend(
                _series_versions(calendar, events, series, window_start, window_end, source, max_occurrences)
            )
        except (ValueError, TypeError, AttributeError, KeyError) as exc:  # icalendar's errors are ValueErrors
            # one broken series costs only itself: the others of the calendar are still read
            log.warning("%s: skipping VEVENTs with UID %s: %s: %s", source, uid, type(exc).__name__, exc)
    return versions


def _events_by_uid(
    calendar: Component, floating: tzinfo, source: str, window_end: datetime
) -> dict[str, list[Component]]:
    """The readable VEVENTs grouped by UID, with every date-time made timezone-aware."""
    groups: dict[str, list[Component]] = {}
    for event in calendar.walk("VEVENT"):
        uid = _text(event, "UID").strip()
        if not uid:
            uid = _synthetic_uid(event)
            event["UID"] = uid  # before expansion, so that every occurrence carries it
        problem = _prepare_event(event, floating, source, uid, window_end)
        if problem:
            log.warning("%s: skipping VEVENT with UID %s: %s", source, uid, problem)
            continue
        groups.setdefault(uid, []).append(event)
    return groups


def _synthetic_uid(event: Component) -> str:
    """A UID for a VEVENT without one, stable across re-reads of the same data."""
    dtstart = _first(event.get("DTSTART"))
    start = f"{dtstart.params.get('TZID', '')}:{dtstart.to_ical().decode()}" if dtstart is not None else ""
    key = "\n".join([start, _text(event, "SUMMARY"), _text(event, "ORGANIZER")])
    return "synthetic-" + hashlib.sha256(key.encode()).hexdigest()


def _prepare_event(event: Component, floating: tzinfo, source: str, uid: str, window_end: datetime) -> str:
    """Repair and localize a VEVENT in place; return what makes it unusable, or ""."""
    _repair_rrule(event)
    problem = _time_problem(event)
    if problem:
        return problem
    start = to_utc(_dt(event, "DTSTART"), floating)
    problem = rrule_problem(property_values(event.get("RRULE")), start, window_end, floating)
    if problem:
        return problem
    for tzid in localize_event(event, floating):
        log.warning("%s: VEVENT with UID %s: unknown TZID %r, read as %s", source, uid, tzid, floating)
        # carried through recurrence expansion to each version, and from there to the deal's audit trail
        event[ASSUMED] = f"unknown time zone {tzid!r} read as {floating}"
    if to_utc(_end(event), floating) < to_utc(_dt(event, "DTSTART"), floating):
        return "it ends before it starts"
    return ""


def _time_problem(event: Component) -> str:
    """What keeps the VEVENT from being placed in time, or ""."""
    for name in (*TIME_PROPERTIES, "DURATION", "RRULE", "DTSTAMP", "SEQUENCE"):
        if any(isinstance(value, icalendar.vBroken) for value in property_values(event.get(name))):
            return f"unreadable {name}"
    if "DTSTART" not in event:
        return "no DTSTART"
    for name, kind in _SINGLE_TIME_PROPERTIES.items():
        value: Any = event.get(name)
        if isinstance(value, list):
            return f"{name} given more than once"
        if value is not None and not isinstance(value.dt, kind):
            return f"{name} is not a {kind.__name__}"
    return ""


def _repair_rrule(event: Component) -> None:
    """Microsoft CDO writes "BYDAY=MO, TU, WE": without the spaces the rule is valid."""
    rule = event.get("RRULE")
    if isinstance(rule, icalendar.vBroken):
        with contextlib.suppress(ValueError, TypeError):  # still broken: the caller reports it
            event["RRULE"] = icalendar.vRecur.from_ical(re.sub(r"\s+", "", str(rule)))


def _series(uid: str, events: list[Component], method: str, floating: tzinfo) -> _Series:
    recurring = any(name in event for event in events for name in ("RRULE", "RDATE", "RECURRENCE-ID"))
    masters = [event for event in events if "RECURRENCE-ID" not in event]
    date_based = not isinstance(_dt((masters or events)[0], "DTSTART"), datetime)
    return _Series(uid, method, recurring, date_based, floating)


def _series_versions(
    calendar: Component,
    events: list[Component],
    series: _Series,
    window_start: datetime,
    window_end: datetime,
    source: str,
    max_occurrences: int,
) -> list[MeetingVersion]:
    # One query per UID, so that a series the library cannot expand costs only itself.
    single = icalendar.Calendar()
    single.update(calendar)  # keeps X-WR-TIMEZONE and CALSCALE, which the library reads
    for event in events:
        single.add_component(event)
    try:
        occurrences = _bounded(single, series, window_start, window_end, max_occurrences, source)
    except Exception as exc:  # any library failure: skip this series, keep the others
        log.warning("%s: skipping VEVENTs with UID %s: cannot expand them: %s", source, series.uid, exc)
        return []
    versions = [_version(occurrence, series) for occurrence in occurrences]
    # A cancelled occurrence is news for the agent, so one the library drops still comes out.
    seen = {version.recurrence_id for version in versions}
    for event in events:
        if "RECURRENCE-ID" in event and _is_cancelled(event, series.method):
            version = _version(event, series)
            if version.recurrence_id not in seen and _overlaps(version, window_start, window_end):
                versions.append(version)
    return versions


def _bounded(
    single: Component,
    series: _Series,
    window_start: datetime,
    window_end: datetime,
    max_occurrences: int,
    source: str,
) -> list[Component]:
    """The series' occurrences in the window, in order of start, at most `max_occurrences` of them."""
    found: list[Component] = []
    query = recurring_ical_events.of(single, components=[_EVENTS])
    for occurrence in query.after(window_start.astimezone(series.floating)):  # lazily, by start
        if to_utc(_dt(occurrence, "DTSTART"), series.floating) >= window_end:
            break
        if len(found) == max_occurrences:
            log.warning(
                "%s: UID %s: only the first %d occurrences are read", source, series.uid, max_occurrences
            )
            break
        found.append(occurrence)
    return found


def _overlaps(version: MeetingVersion, window_start: datetime, window_end: datetime) -> bool:
    """Half-open overlap; a zero-length meeting counts when it starts inside the window."""
    if version.start >= window_end:
        return False
    return version.end > window_start or version.start >= window_start


def _version(component: Component, series: _Series) -> MeetingVersion:
    start = _dt(component, "DTSTART")
    return MeetingVersion(
        uid=series.uid,
        recurrence_id=_recurrence_id(component, series) if series.recurring else "",
        sequence=_sequence(component),
        dtstamp=_dtstamp(component),
        method=series.method,
        cancelled=_is_cancelled(component, series.method),
        title=_text(component, "SUMMARY"),
        description=_text(component, "DESCRIPTION"),
        location=_text(component, "LOCATION"),
        start=to_utc(start, series.floating),
        end=to_utc(_end(component), series.floating),
        all_day=not isinstance(start, datetime)
        or _text(component, "X-MICROSOFT-CDO-ALLDAYEVENT").strip().upper() == "TRUE",
        organizer=_address(component.get("ORGANIZER")),
        attendees=_attendees(component),
        assumed=_text(component, ASSUMED),
    )


def _recurrence_id(component: Component, series: _Series) -> str:
    """The occurrence's original start in UTC, spelled the same whether or not it was modified."""
    value = _dt(component, "RECURRENCE-ID")  # the library sets it on every occurrence
    if series.date_based and isinstance(value, datetime):
        # Exchange gives all-day series DATE-TIME RECURRENCE-IDs at local midnight:
        # the date is what identifies the occurrence, as it does for the untouched ones.
        value = value.date()
    return to_utc(value, series.floating).isoformat()


def _end(component: Component) -> date:
    """DTEND, else DTSTART + DURATION, else DTSTART (+1 day for an all-day event)."""
    start: date = _dt(component, "DTSTART")
    if "DTEND" in component:
        end: date = _dt(component, "DTEND")
    elif "DURATION" in component:
        end = start + _dt(component, "DURATION")
    else:
        end = start if isinstance(start, datetime) else start + timedelta(days=1)
    return end


def _dt(component: Component, name: str) -> Any:
    """The Python value of a date, date-time or duration property."""
    prop: Any = component[name]
    return prop.dt


def _dtstamp(component: Component) -> datetime | None:
    stamp = getattr(_first(component.get("DTSTAMP")), "dt", None)
    return to_utc(stamp, UTC) if isinstance(stamp, date) else None  # DTSTAMP is UTC by definition


def _sequence(component: Component) -> int:
    try:
        return max(0, int(_first(component.get("SEQUENCE", 0))))
    except (TypeError, ValueError):
        return 0


def _is_cancelled(component: Component, method: str) -> bool:
    statuses = (str(value).strip().upper() for value in property_values(component.get("STATUS")))
    return method == "CANCEL" or "CANCELLED" in statuses


def _attendees(component: Component) -> tuple[Address, ...]:
    """The attendees with an email address, each once, in the order given."""
    found: dict[str, Address] = {}
    for value in property_values(component.get("ATTENDEE")):
        address = _address(value)
        if address is not None:
            found.setdefault(address.email, address)
    return tuple(found.values())


def _address(value: Any) -> Address | None:
    """A CAL-ADDRESS as an Address; None when it is not an email address."""
    if value is None:
        return None
    email = re.sub(r"(?i)^\s*mailto:", "", str(value)).strip().lower()
    if "@" not in email:
        return None
    params = getattr(value, "params", {})
    name = str(params.get("CN", "")).strip().strip("\"'").strip()
    return Address(email=email, name=name)


def _text(component: Component, name: str) -> str:
    value = _first(component.get(name))
    return "" if value is None else str(value)


def _first(value: Any) -> Any:
    """One value of a property that should occur once (some clients repeat STATUS)."""
    return value[0] if isinstance(value, list) and value else value
