"""A deal's page as a story, in a real headless browser against the daemon (issue 22, point 3).

The seeded world (tests/integration/browser.py): Client 1 taken from hand-over to won, its
introduction call held and recapped to Jane 1; Delta Dairy stuck in Set-Up with overdue tasks.
The page says what happened in sentences by day, in the viewer's zone, with the rule behind each
one click away (no JavaScript: <details>); tasks name their people, emails open to their whole
body. Screenshots: deal, deal-phone.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.dashboard.when import moment
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
from tests.integration.scenario import DAY, START

INTRO_HELD = START + DAY + timedelta(hours=5)  # Client 1's introduction call (scenario.book)
CLIENT_1, DELTA = 1, 4  # ids, in the order the seeded world hands them over


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cfg, port = seeded_world(tmp_path_factory.mktemp("deal-page"))
    with served(cfg, port) as base:
        yield base


def opened(driver: Any, site: str, deal_id: int, name: str, query: str = "") -> None:
    driver.get(f"{site}/deals/{deal_id}{query}")
    assert arrived(driver, "h1", name).text == name


def story_lines(driver: Any) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, "section.story li.line[data-kind]"))


@pytest.mark.integration
def test_the_story_tells_the_held_call_and_its_recap_by_name_with_the_rule_one_click_away(
    driver: Any, site: str
) -> None:
    from selenium.webdriver.common.by import By

    opened(driver, site, CLIENT_1, "Client 1")
    held = f"Introduction call held {moment(INTRO_HELD, ZoneInfo('Europe/London'))}"
    [line] = [li for li in story_lines(driver) if held in li.text]
    assert f"{held} — recap email sent to Jane 1;" in line.text and "moved to Set-Up" in line.text
    # the rule fired, the email queued and the email sent are this one sentence, not rows of their own
    assert not [li for li in story_lines(driver) if "rule fired" in li.text.lower() or "recap to" in li.text]
    why = line.find_element(By.CSS_SELECTOR, "details.why")
    assert "recap-after-intro" not in why.text  # closed: only its summary shows
    why.find_element(By.CSS_SELECTOR, "summary").click()
    assert "The recap" in why.text and "rule recap-after-intro" in why.text  # its description, then its id
    assert "Because: Introduction call 'Client 1 introduction call' was held" in why.text
    assert "Matched to the deal: Jane 1 is a contact on the deal" in why.text
    assert "The calendar's ‘Client 1 introduction call’" in why.text  # the evidence
    # grouped by day, newest first
    days = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "section.story .day h3")]
    dates = [datetime.strptime(d, "%a %d %b %Y") for d in days]
    assert len(days) >= 4 and dates == sorted(dates, reverse=True) and len(set(dates)) == len(dates)


@pytest.mark.integration
def test_the_viewer_may_ask_for_their_own_time_zone(driver: Any, site: str) -> None:
    opened(driver, site, CLIENT_1, "Client 1", "?tz=America/New_York")
    held = f"Introduction call held {moment(INTRO_HELD, ZoneInfo('America/New_York'))}"
    assert [li for li in story_lines(driver) if held in li.text]
    assert "times in America/New_York" in driver.find_element("css selector", "section.story").text


@pytest.mark.integration
def test_stages_show_by_name_and_tasks_by_their_peoples_names(driver: Any, site: str) -> None:
    from selenium.webdriver.common.by import By

    opened(driver, site, CLIENT_1, "Client 1")
    stage = driver.find_element(By.CSS_SELECTOR, ".facts [data-stage]")
    assert (stage.get_attribute("data-stage"), stage.text) == ("won", "Deal Won")
    assert "CSM\nSam Carter" in driver.find_element(By.CSS_SELECTOR, ".facts").text
    done = driver.find_element(By.CSS_SELECTOR, "details.done-tasks")
    done.find_element(By.CSS_SELECTOR, "summary").click()  # a won deal's tasks are history: one click away
    task = done.find_element(By.CSS_SELECTOR, 'li.task[data-task="hold-intro"]').text
    for said in (
        "Introduction Call",
        "Responsible\nSam Carter",
        "Accountable\nOlivia Grant",
        "Consulted\nJane 1",
    ):
        assert said in task
    assert "Informed\nAlex Reed" in task and "csm" not in task and "account_manager" not in task

    opened(driver, site, DELTA, "Delta Dairy")
    assert driver.find_element(By.CSS_SELECTOR, ".facts [data-stage]").text == "Set-Up"
    assert "past target" in driver.find_element(By.CSS_SELECTOR, ".facts").text
    gather = driver.find_element(By.CSS_SELECTOR, 'li.task[data-task="receive-set-up-info"]')
    assert "overdue" in (gather.get_attribute("class") or "") and "overdue" in gather.text
    assert "due " in gather.find_element(By.CSS_SELECTOR, ".due").text
    assert "Consulted\nDee" in gather.text


@pytest.mark.integration
def test_an_emails_preview_opens_to_its_whole_body(driver: Any, site: str) -> None:
    from selenium.webdriver.common.by import By

    opened(driver, site, CLIENT_1, "Client 1")
    recap = next(
        e for e in driver.find_elements(By.CSS_SELECTOR, "article.deal-email") if e.text.startswith("Recap:")
    )
    assert "sent " in recap.text and "to Jane 1 · copy to Sam Carter and Alex Reed" in recap.text
    assert recap.find_element(By.CSS_SELECTOR, ".preview").text.startswith("Hello Jane,")
    whole = recap.find_element(By.CSS_SELECTOR, "details.whole")
    assert "If anything here is not what you remember" not in recap.text
    whole.find_element(By.CSS_SELECTOR, "summary").click()
    assert "If anything here is not what you remember" in whole.find_element(By.CSS_SELECTOR, ".text").text
    meetings = driver.find_element(By.CSS_SELECTOR, "section.meetings").text
    assert "Introduction call held" in meetings.replace("\n", " ") and "Learner launch" in meetings


@pytest.mark.integration
def test_the_page_has_no_serious_accessibility_problem_on_a_laptop_or_a_phone(driver: Any, site: str) -> None:
    try:
        opened(driver, site, CLIENT_1, "Client 1")
        assert axe(driver) == []
        shot(driver, "deal")
        resize(driver, PHONE)
        opened(driver, site, CLIENT_1, "Client 1")
        assert axe(driver) == []
        assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
        shot(driver, "deal-phone")
    finally:
        resize(driver, LAPTOP)
