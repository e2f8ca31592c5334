from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from freezegun import freeze_time

from agent.businesstime import BusinessCalendar, Duration, parse_clock_time

CAL = BusinessCalendar()


@pytest.mark.parametrize(
    ("text", "amount", "unit", "business"),
    [
        ("3 business days", 3, "day", True),
        ("1 business day", 1, "day", True),
        ("14 days", 14, "day", False),
        ("2 hours", 2, "hour", False),
        ("30 minutes", 30, "minute", False),
        ("1 week", 1, "week", False),
    ],
)
def test_durations_people_write(text: str, amount: int, unit: str, business: bool) -> None:
    d = Duration.parse(text)
    assert (d.amount, d.unit, d.business) == (amount, unit, business)
    assert str(d) == text


@pytest.mark.parametrize("text", ["3 fortnights", "three days", "", "2 business hours", "-1 days"])
def test_bad_durations_say_what_was_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected a duration like|'business' only goes with days"):
        Duration.parse(text)


def test_business_days_skip_the_weekend() -> None:
    friday = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    assert CAL.add(friday, Duration.parse("1 business day"), "UTC") == datetime(
        2026, 12, 7, 15, 0, tzinfo=UTC
    )
    assert CAL.add(friday, Duration.parse("3 business days"), "UTC") == datetime(
        2026, 12, 9, 15, 0, tzinfo=UTC
    )
    assert CAL.add(friday, Duration.parse("1 day"), "UTC") == datetime(2026, 12, 5, 15, 0, tzinfo=UTC)


def test_business_days_skip_holidays() -> None:
    cal = BusinessCalendar.from_names(("mon", "tue", "wed", "thu", "fri"), ("2026-12-25",))
    thursday = datetime(2026, 12, 24, 10, 0, tzinfo=UTC)
    assert cal.add(thursday, Duration.parse("1 business day"), "UTC") == datetime(
        2026, 12, 28, 10, 0, tzinfo=UTC
    )


def test_business_days_are_counted_in_the_deals_time_zone() -> None:
    # Friday 23:30 in London is already Saturday 08:30 in Tokyo: one business day later is
    # Monday 08:30 in Tokyo (Sunday night in UTC), but Monday 23:30 in London.
    friday_night = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)
    tokyo = CAL.add(friday_night, Duration.parse("1 business day"), "Asia/Tokyo")
    assert tokyo == datetime(2026, 12, 6, 23, 30, tzinfo=UTC)
    london = CAL.add(friday_night, Duration.parse("1 business day"), "Europe/London")
    assert london == datetime(2026, 12, 7, 23, 30, tzinfo=UTC)


def test_wall_clock_time_is_kept_across_a_dst_change() -> None:
    friday = datetime(2026, 10, 23, 8, 0, tzinfo=UTC)  # 09:00 BST
    monday = CAL.add(friday, Duration.parse("1 business day"), "Europe/London")
    assert monday == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)  # 09:00 GMT


def test_next_business_time_of_day() -> None:
    saturday = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert CAL.next_at(saturday, time(9, 0), "Europe/Paris") == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    early_monday = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    assert CAL.next_at(early_monday, time(9, 0), "UTC") == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_clock_times() -> None:
    assert parse_clock_time("09:30") == time(9, 30)
    with pytest.raises(ValueError, match="09:00"):
        parse_clock_time("25:00")


def test_a_calendar_without_working_days_is_an_error() -> None:
    cal = BusinessCalendar(working_days=frozenset())
    with pytest.raises(ValueError, match="no business day"):
        cal.next_at(datetime(2026, 1, 1, tzinfo=UTC), time(9), "UTC")


@freeze_time("2026-12-04 15:00:00")
def test_system_clock_is_utc_and_aware() -> None:
    from agent.clock import SystemClock

    now = SystemClock().now()
    assert now == datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    assert CAL.is_business_day(now.date()) and not CAL.is_business_day(date(2026, 12, 5))
