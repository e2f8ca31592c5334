"""Time-zone identifiers from real invitations, turned into tzinfo objects.

icalendar 7 already resolves most of them while parsing: an embedded VTIMEZONE
(even one named by an Exchange display name), IANA names, the CLDR Windows names
("W. Europe Standard Time", quoted or not) and "/vendor/Olson" ids. A TZID it
cannot place is left as a naive (floating) datetime that still carries its TZID
parameter. This module places those, and gives truly floating times the zone
the caller chose, so that everything downstream is timezone-aware.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from icalendar.timezone import tzp

# Properties whose values are dates or date-times that may need a zone.
TIME_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE")

# Exchange writes the Windows display name when it leaves out the VTIMEZONE:
# "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", "(UTC) Coordinated Universal Time".
_DISPLAY_NAME = re.compile(r"^\((?:UTC|GMT)\s*(?:([+-])(\d{1,2}):?(\d{2}))?\)\s*(.*)$")


def resolve_tzid(tzid: str) -> tzinfo | None:
    """Return the zone a TZID names, or None when nothing sensible matches."""
    # Parameters arrive quoted or not, and VTIMEZONE's TZID keeps its backslash escapes.
    name = tzid.strip().strip('"').replace("\\,", ",").replace("\\;", ";").strip()
    if not name:
        return None
    zone = _lookup(name)
    if zone is not None:
        return zone
    match = _DISPLAY_NAME.match(name)
    return _from_display_name(match) if match else None


def _from_display_name(match: re.Match[str]) -> tzinfo:
    """A zone for an Exchange display name: a listed city, else the Windows id, else the offset."""
    sign, hours, minutes, places = match.groups()
    offset = timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
    if sign == "-":
        offset = -offset
    # "Pacific Time (US & Canada)" is the display name of "Pacific Standard Time".
    windows_id = re.sub(r"\s*\(.*?\)", "", places).strip()
    windows_id = re.sub(r"\bTime$", "Standard Time", windows_id)
    candidates = [
        zone_id for place in places.split(",") for zone_id in _zones_by_city().get(_city(place), [])
    ]
    for candidate in [*candidates, windows_id]:
        zone = _lookup(candidate) if candidate else None
        # A city can exist in several zones (and a display name can lie): the offset decides.
        if zone is not None and _standard_offset(zone) == offset:
            return zone
    # Without DST rules a fixed offset is still closer to the truth than a floating time.
    return timezone(offset)


def _lookup(name: str) -> tzinfo | None:
    """icalendar's own lookup: IANA names, CLDR Windows names, /vendor/ ids."""
    try:
        return tzp.timezone(name)
    except (OSError, ValueError):  # zoneinfo opens a file named after the id: too long, bad path
        return None


def _city(place: str) -> str:
    return place.strip().replace(" ", "_").lower()


@cache
def _zones_by_city() -> dict[str, list[str]]:
    """IANA zone ids by their last component, lower-cased ("amsterdam" -> ["Europe/Amsterdam"])."""
    table: dict[str, list[str]] = {}
    for zone_id in sorted(available_timezones()):
        table.setdefault(_city(zone_id.rsplit("/", 1)[-1]), []).append(zone_id)
    return table


def _standard_offset(zone: tzinfo) -> timedelta | None:
    """The zone's offset outside daylight-saving time (the smaller of January's and July's)."""
    year = datetime.now(UTC).year
    offsets = [zone.utcoffset(datetime(year, month, 1)) for month in (1, 7)]
    known = [offset for offset in offsets if offset is not None]
    return min(known) if known else None


def to_utc(value: date, floating: tzinfo) -> datetime:
    """A UTC datetime; a date is its midnight, and a naive time is read in ``floating``."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=floating)
    return value.astimezone(UTC)


def localize_event(event: Any, floating: tzinfo) -> list[str]:
    """Make every date-time of a VEVENT timezone-aware, in place.

    A naive value with a TZID gets the zone that TZID names; one without a TZID
    (a floating time) gets ``floating``. Returns the TZIDs that named no known
    zone; their values are read in ``floating`` too.
    """
    unknown: list[str] = []
    for name in TIME_PROPERTIES:
        for prop in property_values(event.get(name)):
            items = getattr(prop, "dts", None) or [prop]  # EXDATE/RDATE hold lists
            if not any(_is_naive(item.dt) for item in items):
                continue  # icalendar placed it already
            tzid = str(prop.params.get("TZID", ""))
            zone = resolve_tzid(tzid) if tzid else floating
            if zone is None:
                unknown.append(tzid)
                zone = floating
            for item in items:
                item.dt = _aware(item.dt, zone)
    return unknown


def property_values(value: Any) -> list[Any]:
    """A property's values: icalendar gives a list when a property is repeated."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _is_naive(value: Any) -> bool:
    if isinstance(value, tuple):  # an RDATE period
        return any(_is_naive(part) for part in value)
    return isinstance(value, datetime) and value.tzinfo is None


def _aware(value: Any, zone: tzinfo) -> Any:
    if isinstance(value, tuple):
        return tuple(_aware(part, zone) for part in value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=zone)
    return value
