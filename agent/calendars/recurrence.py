"""Bounds on recurrence: a series is expanded only where the agent looks, and never without end.

An invitation is data from anyone, and expanding a recurrence walks every occurrence from
its start. A rule that repeats every second or minute, has an INTERVAL below 1, or repeats
so often since its start that reaching the window would take more than MAX_STEPS steps is
refused as invalid: its VEVENT is skipped like any broken one. What is expanded stops at
the window's end and at the occurrence cap ([calendar] max_occurrences).
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from agent.calendars.timezones import to_utc

# A meeting repeats hourly at most; the library walks each step from DTSTART, so these would
# turn a few bytes into minutes of work (measured: FREQ=SECONDLY from a year ago, 97 s).
REFUSED_FREQUENCIES = ("SECONDLY", "MINUTELY")
PERIODS = {
    "HOURLY": timedelta(hours=1),
    "DAILY": timedelta(days=1),
    "WEEKLY": timedelta(days=7),
    "MONTHLY": timedelta(days=28),
    "YEARLY": timedelta(days=365),
}
# The BY* parts that can make one period hold several occurrences (an upper bound: their product).
EXPANDING = (
    "BYSECOND",
    "BYMINUTE",
    "BYHOUR",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
    "BYSETPOS",
)
MAX_STEPS = 100_000  # about a second of the library's work


def rrule_problem(rules: list[Any], start: datetime, window_end: datetime, floating: tzinfo) -> str:
    """Why these RRULE values (icalendar vRecur) cannot be expanded safely up to `window_end`; "" if they can."""
    for rule in rules:
        freq = str(_one(rule.get("FREQ")) or "").upper()
        if freq in REFUSED_FREQUENCIES:
            return f"RRULE FREQ={freq}: a meeting repeats hourly at most"
        if freq not in PERIODS:
            return f"RRULE FREQ={freq or '(none)'}: expected one of {', '.join(PERIODS)}"
        interval = _one(rule.get("INTERVAL"))
        interval = 1 if interval is None else interval  # 0 is not "not given": it never advances
        if not isinstance(interval, int) or interval < 1:
            return f"RRULE INTERVAL={interval}: expected a whole number of at least 1"
        count = _one(rule.get("COUNT"))
        until = _one(rule.get("UNTIL"))
        end = window_end
        if isinstance(until, date):
            end = min(end, to_utc(until, floating))
        per_period = math.prod(max(1, len(rule.get(part) or [])) for part in EXPANDING)
        steps = max(0.0, (end - start) / (PERIODS[freq] * interval)) * per_period
        if isinstance(count, int):
            steps = min(steps, count)
        if steps > MAX_STEPS:
            return f"RRULE {rule.to_ical().decode()}: about {steps:,.0f} occurrences to walk through; refused"
    return ""


def _one(value: Any) -> Any:
    """vRecur holds each part as a list: its first value, or None."""
    if isinstance(value, list):
        return value[0] if value else None
    return value
