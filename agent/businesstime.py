"""Durations as people write them ("3 business days") and business-calendar arithmetic.

All inputs and outputs are timezone-aware; business days are counted in the
deal's own time zone, because "one business day after the call" means the
client's next working day, not ours. A calendar may take a country's public
holidays (the `holidays` package) besides the dates it is given, and knows the
business hours in which reminders and digests reach people.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as country_calendars

_UNITS = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}
_DURATION = re.compile(r"^\s*(\d+)\s+(business\s+)?(minute|hour|day|week)s?\s*$", re.IGNORECASE)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: str  # minute | hour | day | week
    business: bool  # only with days: count working days

    @classmethod
    def parse(cls, text: str) -> Duration:
        m = _DURATION.match(str(text))
        if not m:
            raise ValueError(
                f"expected a duration like '3 business days', '14 days', '2 hours' or '30 minutes', got {text!r}"
            )
        unit = m.group(3).lower()
        business = bool(m.group(2))
        if business and unit != "day":
            raise ValueError(f"'business' only goes with days, got {text!r}")
        return cls(int(m.group(1)), unit, business)

    def __str__(self) -> str:
        plural = "" if self.amount == 1 else "s"
        return f"{self.amount} {'business ' if self.business else ''}{self.unit}{plural}"


@dataclass(frozen=True)
class BusinessCalendar:
    working_days: frozenset[int] = frozenset(range(5))  # Monday=0
    holidays: frozenset[date] = frozenset()
    country: str = ""  # "GB", "DE-BY": its public holidays are not business days either ("" none)
    opens: time = time(9, 0)  # business hours, in the zone of whoever is reached
    closes: time = time(17, 0)

    @classmethod
    def from_names(
        cls, days: tuple[str, ...], holidays: tuple[str, ...], *, country: str = "", hours: str = ""
    ) -> BusinessCalendar:
        opens, closes = parse_hours(hours) if hours else (cls.opens, cls.closes)
        return cls(
            frozenset(WEEKDAYS.index(d) for d in days),
            frozenset(date.fromisoformat(h) for h in holidays),
            check_country(country) if country else "",
            opens,
            closes,
        )

    def for_country(self, country: str) -> BusinessCalendar:
        """The same calendar with another country's public holidays (the dates given stay)."""
        return self if country == self.country else replace(self, country=country)

    def is_business_day(self, d: date) -> bool:
        return (
            d.weekday() in self.working_days
            and d not in self.holidays
            and not (self.country and d in public_holidays(self.country, d.year))
        )

    def add(self, start: datetime, duration: Duration, tz: str) -> datetime:
        """`start` plus `duration`; business days skip weekends and holidays in `tz`."""
        if not duration.business:
            return start + _UNITS[duration.unit] * duration.amount
        local = start.astimezone(ZoneInfo(tz))
        day = local.date()
        remaining = duration.amount
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_business_day(day):
                remaining -= 1
        # Same wall-clock time on the target day; a start on a weekend lands on
        # a working day because only working days are counted above.
        moved = datetime.combine(day, local.timetz().replace(tzinfo=None), ZoneInfo(tz))
        return moved.astimezone(UTC)

    def back(self, start: datetime, duration: Duration, tz: str) -> datetime:
        """`start` minus `duration`: "1 business day before Monday 09:00" is Friday 09:00."""
        if not duration.business:
            return start - _UNITS[duration.unit] * duration.amount
        local = start.astimezone(ZoneInfo(tz))
        day = local.date()
        remaining = duration.amount
        while remaining > 0:
            day -= timedelta(days=1)
            if self.is_business_day(day):
                remaining -= 1
        return datetime.combine(day, local.timetz().replace(tzinfo=None), ZoneInfo(tz)).astimezone(UTC)

    def in_hours(self, when: datetime, tz: str) -> bool:
        """Whether `when` falls in business hours of a business day in `tz`."""
        local = when.astimezone(ZoneInfo(tz))
        return self.is_business_day(local.date()) and self.opens <= local.time() < self.closes

    def next_open(self, after: datetime, tz: str) -> datetime:
        """The first moment from `after` on that is in business hours in `tz` (`after` itself if it is).

        A reminder due on Saturday reaches its reader on Monday at opening time, in their zone.
        """
        if self.in_hours(after, tz):
            return after
        local = after.astimezone(ZoneInfo(tz))
        start = local.date() if local.time() < self.opens else local.date() + timedelta(days=1)
        return self.next_at(datetime.combine(start, time(0), ZoneInfo(tz)), self.opens, tz)

    def last_open_before(self, before: datetime, tz: str) -> datetime:
        """The opening time of the last business day that opens before `before`, in `tz`."""
        zone = ZoneInfo(tz)
        day = before.astimezone(zone).date()
        for _ in range(366):
            candidate = datetime.combine(day, self.opens, zone)
            if self.is_business_day(day) and candidate < before:
                return candidate.astimezone(UTC)
            day -= timedelta(days=1)
        raise ValueError("no business day within a year: check business_days and holidays")

    def start_of_day(self, when: datetime, tz: str) -> datetime:
        """Midnight (local, in `tz`) of the day `when` falls on."""
        zone = ZoneInfo(tz)
        return datetime.combine(when.astimezone(zone).date(), time(0, 0), zone).astimezone(UTC)

    def next_at(self, after: datetime, at: time, tz: str) -> datetime:
        """The first business day at wall-clock `at` in `tz` that is not before `after`."""
        zone = ZoneInfo(tz)
        local = after.astimezone(zone)
        day = local.date()
        for _ in range(366):
            candidate = datetime.combine(day, at, zone)
            if self.is_business_day(day) and candidate >= local:
                return candidate.astimezone(UTC)
            day += timedelta(days=1)
        raise ValueError("no business day within a year: check business_days and holidays")


def check_country(code: str) -> str:
    """A country code the `holidays` package knows ("GB", "US"), or one with its subdivision ("DE-BY")."""
    country, _, subdivision = code.strip().upper().partition("-")
    supported = country_calendars.list_supported_countries()
    if country not in supported:
        raise ValueError(
            f"{code!r} is not a country the holidays package knows; expected an ISO 3166 code like GB, "
            "DE or US, optionally with a subdivision like DE-BY"
        )
    if not subdivision:
        return country
    known = {s.upper(): s for s in supported[country]}  # written as the package spells it ("Augsburg")
    if subdivision not in known:
        raise ValueError(
            f"{code!r}: {country} has no subdivision {subdivision!r}; expected one of {supported[country]}"
        )
    return f"{country}-{known[subdivision]}"


@lru_cache(maxsize=256)
def public_holidays(code: str, year: int) -> frozenset[date]:
    """The public holidays (observed days included) of a country, or of one of its subdivisions, in a year."""
    country, _, subdivision = code.partition("-")
    found = country_calendars.country_holidays(country, subdiv=subdivision or None, years=year)
    return frozenset(found.keys())


def parse_hours(text: str) -> tuple[time, time]:
    """Business hours written "09:00-17:00"."""
    opens, sep, closes = str(text).partition("-")
    try:
        if not sep:
            raise ValueError
        start, end = parse_clock_time(opens), parse_clock_time(closes)
    except ValueError:
        raise ValueError(f"expected business hours like '09:00-17:00', got {text!r}") from None
    if start >= end:
        raise ValueError(f"business hours {text!r} close before they open")
    return start, end


def local_day(when: datetime, tz: str) -> date:
    """The day `when` falls on in `tz` (the client's day, as an email names it)."""
    return when.astimezone(ZoneInfo(tz)).date()


def due_day(when: datetime, tz: str) -> date:
    """The day a due time falls on in `tz`; one at midnight ends the day before ("by Thursday" is
    due as Friday begins, and is still said "Thursday")."""
    local = when.astimezone(ZoneInfo(tz))
    return (local - timedelta(microseconds=1)).date() if local.time() == time(0) else local.date()


def spoken_day(day: date, *, today: date | None = None) -> str:
    """'Monday 7 December', as an email says a day; the year too when it is not `today`'s."""
    words = f"{day:%A} {day.day} {day:%B}"
    return words if today is None or today.year == day.year else f"{words} {day.year}"


def parse_clock_time(text: str) -> time:
    m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", str(text).strip())
    if not m:
        raise ValueError(f"expected a time of day like '09:00', got {text!r}")
    return time(int(m.group(1)), int(m.group(2)))
