"""The scorecard page's period (agent.dashboard.scorecard_page.asked) and its charts (agent.dashboard.charts)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from agent.dashboard import charts
from agent.dashboard.scorecard_page import asked
from agent.reports.scorecard import DEFAULT_DAYS

NOW = datetime(2026, 12, 1, 18, 30, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")


def test_without_a_choice_the_period_is_reports_default() -> None:
    chosen = asked({}, NOW, LONDON)
    assert (chosen.period.since, chosen.period.until, chosen.days) == (
        NOW - timedelta(days=DEFAULT_DAYS),
        NOW,
        DEFAULT_DAYS,
    )


def test_the_last_days_or_dates_from_midnight_in_the_viewers_zone() -> None:
    assert asked({"days": "7"}, NOW, LONDON).period.since == NOW - timedelta(days=7)
    chosen = asked({"since": "2026-10-01", "until": "2026-11-01"}, NOW, LONDON)
    assert chosen.days is None and not chosen.problem
    assert chosen.period.since == datetime(2026, 9, 30, 23, tzinfo=UTC)  # midnight, summer time
    assert chosen.period.until == datetime(2026, 11, 1, 0, tzinfo=UTC)  # midnight, winter time
    only_until = asked({"until": "2026-11-01", "days": "7"}, NOW, LONDON).period
    assert only_until.until - only_until.since == timedelta(days=7)


def test_a_period_that_cannot_be_is_said_and_the_default_shown() -> None:
    for args in ({"since": "yesterday"}, {"days": "0"}, {"since": "2026-11-02", "until": "2026-11-01"}):
        chosen = asked(args, NOW, LONDON)
        assert chosen.problem and chosen.days == DEFAULT_DAYS, args
        assert chosen.period.until - chosen.period.since == timedelta(days=DEFAULT_DAYS)


def test_a_chart_stretches_its_drawing_not_its_words() -> None:
    bars = str(
        charts.bars([charts.Bar("Set-Up", 2.0, "2.0 days"), charts.Bar("Training", 4.0, "4.0 days")], "P")
    )
    assert bars.count('preserveAspectRatio="none"') == 2 and "<text" not in bars
    assert re.findall(r'<rect width="([\d.]+)"', bars) == ["500.0", "1000.0"]  # against the longest
    assert "width=" not in bars.replace("<rect width", "")  # no fixed width on the drawing


def test_the_answers_chart_places_each_answer_in_the_period_and_says_them() -> None:
    since = NOW - timedelta(days=10)
    drawn = str(charts.scores([(since + timedelta(days=5), 4)], since, NOW, lambda w: f"{w:%d %b}", "CSAT"))
    assert 'x1="500.0"' in drawn and 'y1="20.0"' in drawn  # half way through, 4 of 5
    assert 'aria-label="Answers out of 5: 4 on 26 Nov"' in drawn
    assert "no survey answers" in str(charts.scores([], since, NOW, str, "CSAT"))
