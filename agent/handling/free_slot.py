"""When to hold a short meeting: the first free business-hours slot two people's calendars show.

Pure: the busy intervals come from the store (`MeetingQueries.busy`), the hours and holidays from
a `BusinessCalendar`, and the zone is that of the people met (their business hours). Starts are
on the step marks of that zone's own clock (09:00, 09:15, ...), as people book meetings: with
another step, in a zone whose offset is not whole hours (India), UTC's marks would read :10, :30, :50.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from agent.businesstime import BusinessCalendar

PROPOSAL_DELAY = timedelta(hours=1)  # after opening: time to see the invitation before it starts


def first_free(
    busy: Sequence[tuple[datetime, datetime]],
    *,
    after: datetime,
    minutes: int,
    calendar: BusinessCalendar,
    tz: str,
    horizon_days: int = 10,
    step_minutes: int = 15,
) -> datetime | None:
    """The first start (UTC) at or after `after`, on a `step_minutes` mark of `tz`'s clock, on a
    business day, at or after opening, whose `minutes` end by closing and overlap no busy interval.

    None when no such start lies before `after` + `horizon_days`: the caller proposes a time
    (`proposed`) instead of booking one nobody can see is free. Busy intervals are [start, end):
    a meeting ending at 10:00 leaves 10:00 free.
    """
    if after.tzinfo is None:
        raise ValueError(f"after must be timezone-aware, got {after!r}")
    if minutes <= 0 or step_minutes <= 0:
        raise ValueError(f"minutes and step_minutes must be positive, got {minutes} and {step_minutes}")
    length = timedelta(minutes=minutes)
    until = after + timedelta(days=horizon_days)
    # Only what ends after `after` can be in the way; sorted, so the scan can stop early.
    blocking = sorted((s, e) for s, e in busy if e > after and s < until + length)
    for start in _starts(after, until, length, calendar, tz, step_minutes):
        end = start + length
        if not any(s < end and start < e for s, e in blocking):
            return start
    return None


def proposed(after: datetime, *, calendar: BusinessCalendar, tz: str) -> datetime:
    """The fallback proposal (UTC): the next business day's opening in `tz` plus an hour.

    "Next" is the first opening not before `after`: asked at 08:00 on a working day, it is that
    day's. Hours shorter than the delay get their opening instead, so the proposal stays inside them.
    """
    if after.tzinfo is None:
        raise ValueError(f"after must be timezone-aware, got {after!r}")
    opening = calendar.next_at(after, calendar.opens, tz)
    zone = ZoneInfo(tz)
    closing = datetime.combine(opening.astimezone(zone).date(), calendar.closes, zone)
    later = opening + PROPOSAL_DELAY
    return later if later < closing else opening


def _starts(
    after: datetime,
    until: datetime,
    length: timedelta,
    calendar: BusinessCalendar,
    tz: str,
    step_minutes: int,
) -> Iterator[datetime]:
    """Candidate starts in order, in UTC: each business day's steps from opening until the meeting
    would end after closing."""
    zone = ZoneInfo(tz)
    day = after.astimezone(zone).date()
    last = until.astimezone(zone).date()
    while day <= last:
        if calendar.is_business_day(day):
            closing = datetime.combine(day, calendar.closes, zone).astimezone(UTC)
            for start in _day_steps(day, calendar.opens, step_minutes, zone):
                if start + length > closing:
                    break  # later starts end later still
                if after <= start < until:
                    yield start
        day += timedelta(days=1)


def _day_steps(day: date, opens: time, step_minutes: int, zone: ZoneInfo) -> Iterator[datetime]:
    """The day's wall-clock marks at multiples of the step from midnight, from opening on, in UTC.

    A mark that does not exist that day (the hour skipped when clocks go forward) is left out.
    """
    first = -(-(opens.hour * 60 + opens.minute) // step_minutes) * step_minutes  # round up
    for minute in range(first, 24 * 60, step_minutes):
        wall = datetime.combine(day, time(minute // 60, minute % 60))
        local = wall.replace(tzinfo=zone)
        utc = local.astimezone(UTC)
        if utc.astimezone(zone).replace(tzinfo=None) == wall:
            yield utc
