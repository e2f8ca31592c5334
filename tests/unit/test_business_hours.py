"""agent.businesstime: a country's public holidays (the `holidays` package) and business hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from agent.businesstime import BusinessCalendar, Duration, check_country, due_day, parse_hours
from agent.config import load_config
from agent.errors import ConfigError

WEEK = ("mon", "tue", "wed", "thu", "fri")
GB = BusinessCalendar.from_names(WEEK, (), country="GB")
DAY = Duration.parse("1 business day")


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def test_a_countrys_public_holidays_and_their_observed_days_are_no_business_days() -> None:
    assert not GB.is_business_day(date(2026, 12, 25))  # Christmas, a Friday
    assert not GB.is_business_day(date(2026, 12, 28))  # Boxing Day (a Saturday) observed on Monday
    assert GB.is_business_day(date(2026, 12, 29))
    germany = GB.for_country("DE")
    assert germany.is_business_day(date(2026, 12, 28)) and not germany.is_business_day(date(2026, 12, 25))
    bavaria = GB.for_country(check_country("de-by"))
    assert not bavaria.is_business_day(date(2026, 1, 6)) and germany.is_business_day(date(2026, 1, 6))
    assert BusinessCalendar().is_business_day(date(2026, 12, 28))  # no country: weekends only


def test_business_days_are_counted_back_and_forth_over_a_weekend_and_holidays() -> None:
    assert GB.add(at(12, 24, 10), DAY, "Europe/London") == at(12, 29, 10)
    assert GB.back(at(12, 29, 10), DAY, "Europe/London") == at(12, 24, 10)
    assert GB.back(at(12, 7, 9), Duration.parse("2 business days"), "Europe/London") == at(12, 3, 9)
    assert GB.back(at(12, 7, 9), Duration.parse("3 hours"), "Europe/London") == at(12, 7, 6)


def test_the_next_moment_in_business_hours_is_in_the_readers_zone() -> None:
    london, new_york = "Europe/London", "America/New_York"
    assert GB.next_open(at(12, 2, 10), london) == at(12, 2, 10)  # within hours: at once
    assert GB.next_open(at(12, 2, 7), london) == at(12, 2, 9)  # before opening
    assert GB.next_open(at(12, 2, 17), london) == at(12, 3, 9)  # closed at 17:00
    assert GB.next_open(at(12, 4, 18), london) == at(12, 7, 9)  # Friday evening: Monday
    assert GB.next_open(at(12, 24, 18), london) == at(12, 29, 9)  # Christmas, weekend, Boxing Day
    assert GB.next_open(at(12, 2, 10), new_york) == at(12, 2, 14)  # 05:00 in New York: 09:00 there
    assert GB.last_open_before(at(12, 7, 6), london) == at(12, 4, 9)


def test_business_hours_and_countries_are_checked() -> None:
    assert parse_hours("08:30-18:00") == (time(8, 30), time(18, 0))
    for bad in ("9-5", "17:00-09:00", "09:00"):
        with pytest.raises(ValueError, match="business hours"):
            parse_hours(bad)
    with pytest.raises(ValueError, match="expected an ISO 3166 code like GB"):
        check_country("England")
    with pytest.raises(ValueError, match="DE has no subdivision 'XX'"):
        check_country("DE-XX")


def test_the_config_names_a_bad_country_or_business_hours(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(
        '[agent]\ncountry = "Narnia"\nbusiness_hours = "17:00-09:00"\n\n'
        '[[teams]]\nname = "emea"\naddress = "emea@example.com"\ncountry = "XX"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "agent.toml:2: [agent] country = 'Narnia': 'Narnia' is not a country" in message
    assert "agent.toml:3: [agent] business_hours = '17:00-09:00'" in message
    assert "close before they open" in message
    assert "[[teams]] number 1: country = 'XX': 'XX' is not a country" in message
    path.write_text('[agent]\ncountry = "gb"\nbusiness_hours = "08:00-16:30"\n', encoding="utf-8")
    config = load_config(path)
    assert (config.agent.country, config.agent.business_hours) == ("GB", "08:00-16:30")


def test_a_due_time_at_midnight_is_the_end_of_the_day_before() -> None:
    assert due_day(at(12, 4, 0), "Europe/London") == date(2026, 12, 3)  # "by Thursday"
    assert due_day(at(12, 4, 9), "Europe/London") == date(2026, 12, 4)
    assert due_day(at(12, 4, 0), "America/New_York") == date(2026, 12, 3)  # 19:00 on Thursday there
