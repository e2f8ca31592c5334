"""Dates out of mail: the Date header, and the dates clients print in forwarded headers.

A Date that the standard library cannot read (comments before the offset, no zone, years
at the edges of the calendar) is read loosely instead, and a date that cannot be read at
all is None: a message is never refused for its date.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "mär": 3, "mrz": 3, "apr": 4, "may": 5, "mai": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "okt": 10, "nov": 11, "dec": 12, "dez": 12,
}  # fmt: skip
_ZONES = {
    "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6,
    "PST": -8, "PDT": -7, "BST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3,
}  # fmt: skip
_TIME = re.compile(r"\b(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([ap])\.?\s?m\b\.?)?", re.IGNORECASE)
_OFFSET = re.compile(r"\s*(?:(?:GMT|UTC)\s*)?([+-])(\d{1,2}):?(\d{2})?\b")


def parse_date(value: str) -> datetime | None:
    """A Date header as timezone-aware UTC; None when it cannot be read."""
    parsed = date_with_zone(value)
    return parsed.astimezone(UTC) if parsed else None


def date_with_zone(value: str) -> datetime | None:
    """A Date header in the sender's own offset, which forwarded dates without a zone are read in."""
    # Comments such as "(EDT)" or "(PST)" confuse the stdlib when they sit before the offset.
    cleaned = " ".join(re.sub(r"\([^()]*\)", " ", value).split())
    if not cleaned:
        return None
    try:
        parsed = parsedate_to_datetime(cleaned)
        # "-0000" (and no zone at all) means the sender did not know its offset: take it as UTC.
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        parsed.astimezone(UTC)  # raises OverflowError at the edges of the calendar (year 1, 9999)
        return parsed
    except (TypeError, ValueError, IndexError, OverflowError):
        return loose_date(cleaned, UTC)


def loose_date(value: str, default_zone: tzinfo) -> datetime | None:
    """Dates as clients print them in forwarded headers ("Monday, March 4, 2024 10:15 AM").

    Without a zone the time is taken in ``default_zone``: Outlook and Gmail print
    it in the forwarder's own zone, which the outer Date header carries.
    """
    try:
        parsed = datetime.fromisoformat(value.strip())
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=default_zone)).astimezone(UTC)
    except (ValueError, OverflowError):
        pass
    time = _TIME.search(value)
    year = re.search(r"\b(19|20)\d{2}\b", value)
    month = next((_MONTHS[w[:3]] for w in re.findall(r"[^\W\d_]+", value.lower()) if w[:3] in _MONTHS), 0)
    outside_time = value[: time.start()] + " " + value[time.end() :] if time else value
    without_year = outside_time.replace(year.group(0), " ") if year else ""
    day = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", without_year)
    if not (time and year and month and day):
        return None
    hour, minute, second = int(time.group(1)), int(time.group(2)), int(time.group(3) or 0)
    if time.group(4):
        hour = hour % 12 + (12 if time.group(4).lower() == "p" else 0)
    try:
        local = datetime(int(year.group(0)), month, int(day.group(1)), hour, minute, second)
        return local.replace(tzinfo=_zone(value[time.end() :], default_zone)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _zone(text: str, default: tzinfo) -> tzinfo:
    offset = _OFFSET.match(text)
    if offset:
        minutes = int(offset.group(2)) * 60 + int(offset.group(3) or 0)
        return timezone(timedelta(minutes=-minutes if offset.group(1) == "-" else minutes))
    word = re.match(r"\s*([A-Z]{1,4})\b", text)
    if word and word.group(1) in _ZONES:
        return timezone(timedelta(hours=_ZONES[word.group(1)]))
    return default
