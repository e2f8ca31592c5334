"""Durations as people write them ("3 business days") and business-calendar arithmetic.

All inputs and outputs are timezone-aware; business days are counted in the
deal's own time zone, because "one business day after the call" means the
client's next working day, not ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

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

    @classmethod
    def from_names(cls, days: tuple[str, ...], holidays: tuple[str, ...]) -> BusinessCalendar:
        return cls(
            frozenset(WEEKDAYS.index(d) for d in days), frozenset(date.fromisoformat(h) for h in holidays)
        )

    def is_business_day(self, d: date) -> bool:
        return d.weekday() in self.working_days and d not in self.holidays

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


def local_day(when: datetime, tz: str) -> date:
    """The day `when` falls on in `tz` (the client's day, as an email names it)."""
    return when.astimezone(ZoneInfo(tz)).date()


def spoken_day(day: date, *, today: date | None = None) -> str:
    """'Monday 7 December', as an email says a day; the year too when it is not `today`'s."""
    words = f"{day:%A} {day.day} {day:%B}"
    return words if today is None or today.year == day.year else f"{words} {day.year}"


def parse_clock_time(text: str) -> time:
    m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", str(text).strip())
    if not m:
        raise ValueError(f"expected a time of day like '09:00', got {text!r}")
    return time(int(m.group(1)), int(m.group(2)))
