"""The scorecard and the unmatched queue in a real browser, at a laptop's and a phone's width.

One daemon serves the seeded world (tests/integration/browser.py) with two additions: a message
from Client 2's contact after the deal went live (it waits, Client 2 its likely deal) and Kilo
Kites handed over today on the project pipeline (its KPI cards have trends). The scorecard must
cover what `report` covers, change with its period picker, fill the page's width, say "1 answer",
and pass axe-core's WCAG A/AA checks, as the queue must.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.reports.scorecard import DEFAULT_DAYS
from tests.integration.browser import (
    LAPTOP,
    PHONE,
    arrived,
    axe,
    resize,
    seeded_world,
    served,
    shot,
)
from tests.integration.cli_helpers import as_json
from tests.integration.dashboard_world import a_project_deal, mail_for_a_closed_deal
from tests.integration.scenario import START

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    cfg, port = seeded_world(tmp_path_factory.mktemp("scorecard"))
    mail_for_a_closed_deal(cfg)
    a_project_deal(cfg)
    return cfg, port


@pytest.fixture(scope="module")
def site(world: tuple[Path, int]) -> Iterator[str]:
    with served(*world) as base:
        yield base


@pytest.fixture
def driver(browser: Any) -> Iterator[Any]:
    resize(browser, LAPTOP)  # each test starts at a laptop's size, whatever the last one left
    yield browser


def period_shown(driver: Any) -> tuple[datetime, datetime]:
    from selenium.webdriver.common.by import By

    return tuple(  # type: ignore[return-value]
        datetime.fromisoformat(
            str(driver.find_element(By.CSS_SELECTOR, f"p.period time.{k}").get_attribute("datetime"))
        )
        for k in ("since", "until")
    )


def fact(driver: Any, name: str) -> str:
    from selenium.webdriver.common.by import By

    found = [str(f.text) for f in driver.find_elements(By.CSS_SELECTOR, ".fact") if f.text.startswith(name)]
    assert found, f"no fact {name!r}"
    return found[0].split("\n")[1]


def test_by_default_the_scorecard_covers_the_period_report_covers(
    driver: Any, site: str, world: tuple[Path, int], capsys: pytest.CaptureFixture[str]
) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{site}/scorecard")
    since, until = period_shown(driver)
    report = as_json(world[0], capsys, "report")
    assert abs(since - datetime.fromisoformat(report["period"]["since"])) < timedelta(minutes=5)
    assert abs(until - datetime.fromisoformat(report["period"]["until"])) < timedelta(minutes=5)
    assert until - since == timedelta(days=DEFAULT_DAYS)
    assert driver.find_element(By.CSS_SELECTOR, "p.period").text.startswith(f"The last {DEFAULT_DAYS} days:")
    everything = report["rows"][0]
    assert (fact(driver, "In onboarding"), fact(driver, "Went live")) == (
        str(everything["in_onboarding"]),
        str(everything["went_live"]),
    )
    pressed = driver.find_elements(By.CSS_SELECTOR, '.presets button[aria-pressed="true"]')
    assert [b.text for b in pressed] == [f"Last {DEFAULT_DAYS} days"]


def test_a_kpi_trend_is_against_the_period_of_the_same_length_before(driver: Any, site: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{site}/scorecard")
    card = driver.find_element(By.CSS_SELECTOR, '[data-kpi="Accounts in onboarding"]').text
    # Kilo Kites came today: one account now, none at the end of the 30 days before
    assert f"1 (+1)\n0 in the {DEFAULT_DAYS} days before" in card, card


def test_the_period_picker_changes_the_period_and_the_figures(
    driver: Any, site: str, world: tuple[Path, int], capsys: pytest.CaptureFixture[str]
) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{site}/scorecard")
    assert fact(driver, "Went live") == "0"  # the three clients went live weeks ago
    driver.find_element(By.XPATH, "//button[.='Last 90 days']").click()
    arrived(driver, "p.period", "The last 90 days")
    since, until = period_shown(driver)
    assert until - since == timedelta(days=90) and "days=90" in driver.current_url
    assert fact(driver, "Went live") == "3"
    assert driver.find_elements(By.CSS_SELECTOR, "figure.scores svg line.dot")  # the CSAT answers, charted

    # dates: the story's first four weeks, midnight to midnight in the viewer's zone (the agent's)
    first, last = START.date(), (START + timedelta(weeks=4)).date()
    for name, day in (("since", first), ("until", last)):
        field = driver.find_element(By.CSS_SELECTOR, f'form.dates input[name="{name}"]')
        driver.execute_script("arguments[0].value = arguments[1]", field, day.isoformat())
    driver.find_element(By.XPATH, "//button[.='Show these dates']").click()
    arrived(driver, "p.period", f"{first.day} {first:%b %Y}")
    zone = ZoneInfo("Europe/London")
    assert period_shown(driver) == tuple(datetime.combine(d, time.min, tzinfo=zone) for d in (first, last))
    assert not driver.find_elements(By.CSS_SELECTOR, '.presets button[aria-pressed="true"]')
    report = as_json(world[0], capsys, "report", "--since", first.isoformat(), "--until", last.isoformat())
    assert fact(driver, "Went live") == str(report["rows"][0]["went_live"]) == "3"
    assert fact(driver, "CSAT average") == str(report["rows"][0]["csat"]["average"])

    driver.get(f"{site}/scorecard?since=yesterday")
    assert "Dates are days like" in driver.find_element(By.CSS_SELECTOR, ".notice").text
    assert driver.find_element(By.CSS_SELECTOR, "p.period").text.startswith(f"The last {DEFAULT_DAYS} days:")


def test_counts_take_the_right_plural(driver: Any, site: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{site}/scorecard?days=90")
    assert (
        fact(driver, "CSAT average") == "4.0"
        and "3 answers"
        in driver.find_element(By.XPATH, "//div[@class='fact'][starts-with(., 'CSAT average')]").text
    )
    client_1 = driver.find_element(By.CSS_SELECTOR, 'ul.answers li[data-deal="Client 1"]').text
    assert "1 answer\n" in client_1 and "Jane 1 gave 5 out of 5" in client_1
    kick_off = driver.find_element(By.XPATH, "//figure[figcaption='Project onboarding']//li").text
    assert kick_off.endswith("· 1 deal")
    assert not re.search(
        r"(?<![\d.])1 (answers|deals|days|tasks)\b", driver.find_element(By.TAG_NAME, "main").text
    )


def test_the_charts_fill_the_page_at_a_laptops_and_a_phones_width(driver: Any, site: str) -> None:
    from selenium.webdriver.common.by import By

    for size, name in ((LAPTOP, "scorecard"), (PHONE, "scorecard-phone")):
        resize(driver, size)
        driver.get(f"{site}/scorecard?days=90")
        width = driver.execute_script(
            "const m = getComputedStyle(arguments[0]);"
            "return arguments[0].clientWidth - parseFloat(m.paddingLeft) - parseFloat(m.paddingRight);",
            driver.find_element(By.TAG_NAME, "main"),
        )
        charts = driver.find_elements(By.CSS_SELECTOR, "figure.chart")
        assert len(charts) == 3  # time in stage of each pipeline, CSAT
        for chart in charts:
            assert abs(chart.rect["width"] - width) <= 2, (size, chart.rect, width)
            drawing = chart.find_element(By.CSS_SELECTOR, "svg")
            assert drawing.rect["width"] >= width * (0.5 if size == PHONE else 0.6), (size, drawing.rect)
        # nothing runs off the side: not the page, not the header's links
        assert driver.execute_script("return document.documentElement.scrollWidth") <= size[0]
        for link in driver.find_elements(By.CSS_SELECTOR, "header nav a"):
            assert link.rect["x"] + link.rect["width"] <= size[0]
        assert driver.find_element(
            By.CSS_SELECTOR, 'nav[aria-label="Pages"] a[aria-current="page"]'
        ).text == ("Scorecard")
        shot(driver, name)


def test_the_unmatched_queue_says_why_and_who_and_offers_the_likely_deal_first(
    driver: Any, site: str
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(f"{site}/unmatched")
    row = next(
        r for r in driver.find_elements(By.CSS_SELECTOR, "tr[data-message]") if "New invoice" in r.text
    )
    assert "from Jane 2 <jane@client2.example>" in row.text
    assert "Only deals that are closed fit it" in row.text
    picker = row.find_element(By.NAME, "deal")
    groups = [
        (g.get_attribute("label"), [o.text for o in g.find_elements(By.TAG_NAME, "option")])
        for g in picker.find_elements(By.TAG_NAME, "optgroup")
    ]
    assert groups == [
        ("Likely", ["Client 2"]),
        ("Open deals", ["Delta Dairy", "Kilo Kites"]),
        ("Closed", ["Client 1", "Client 3"]),
    ]
    assert Select(picker).first_selected_option.text == "Choose a deal…"
    stranger = next(
        r for r in driver.find_elements(By.CSS_SELECTOR, "tr[data-message]") if "A question" in r.text
    )
    assert "from Someone" in stranger.text and "Nothing ties it to a deal" in stranger.text
    shot(driver, "unmatched")


@pytest.mark.parametrize("page", ["scorecard", "scorecard?days=90", "unmatched"])
def test_the_scorecard_and_the_queue_pass_axe_at_both_widths(driver: Any, site: str, page: str) -> None:
    for size in (LAPTOP, PHONE):
        resize(driver, size)
        driver.get(f"{site}/{page}")
        assert axe(driver) == [], size
