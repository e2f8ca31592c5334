"""The dashboard in a real headless browser (Debian's chromium, driven by Selenium), served by the daemon.

A seeded world (three deals taken to won, one stuck in Set-Up, an email no deal claimed)
is shown by the running daemon; the test reads the board, opens a deal's timeline, and
assigns the unmatched email with one click. Screenshots of the board, a timeline, the
scorecard and the queue are saved in test-artifacts/dashboard/ for people to look at.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.browser import TOKEN, arrived, seeded_world, served, shot, signed_in


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cfg, port = seeded_world(tmp_path_factory.mktemp("dashboard"))
    with served(cfg, port) as base:
        yield base


@pytest.fixture(scope="module")
def driver(site: str) -> Iterator[Any]:
    chrome = signed_in(site)
    yield chrome
    chrome.quit()


def column_of(driver: Any, deal: str) -> str:
    from selenium.webdriver.common.by import By

    card = driver.find_element(By.CSS_SELECTOR, f'a.card[data-deal="{deal}"]')
    return str(card.find_element(By.XPATH, "./ancestor::section[@data-stage]").get_attribute("data-stage"))


@pytest.mark.integration
def test_without_the_token_nothing_is_shown(site: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(site + "/board", timeout=5)
    assert refused.value.code == 401


@pytest.mark.integration
def test_the_board_shows_each_deal_in_its_stage_and_the_late_one_marked(driver: Any, site: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{site}/board")
    assert [column_of(driver, f"Client {n}") for n in (1, 2, 3)] == ["won"] * 3
    assert column_of(driver, "Delta Dairy") == "set-up"
    late = driver.find_element(By.CSS_SELECTOR, 'a.card[data-deal="Delta Dairy"]')
    assert "late" in (late.get_attribute("class") or "") and "past target" in late.text
    headers = [h.text.split("\n")[:2] for h in driver.find_elements(By.CSS_SELECTOR, "section.column .head")]
    assert headers[:3] == [
        ["Customer Brief", "0 deals · target 2 d"],
        ["Introduction Call", "0 deals · target 10 d"],
        ["Set-Up", "1 deal · target 14 d"],
    ]
    shot(driver, "board")


@pytest.mark.integration
def test_a_deals_timeline_shows_the_recap_and_why_it_went(driver: Any, site: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{site}/board")
    driver.find_element(By.CSS_SELECTOR, 'a.card[data-deal="Client 1"]').click()
    assert arrived(driver, "h1", "Client 1").text == "Client 1"
    rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "table.timeline tr[data-kind]")]
    recap = [r for r in rows if "email queued" in r and "recap to jane@client1.example" in r]
    assert recap and "recap-after-intro" in recap[0] and "was held" in recap[0]
    assert any("email sent" in r and "sent recap" in r for r in rows)
    shot(driver, "timeline")
    driver.get(f"{site}/scorecard")
    assert "Went live\n3" in driver.find_element(By.CSS_SELECTOR, ".facts").text
    assert driver.find_elements(By.CSS_SELECTOR, "svg.chart circle")  # the CSAT answers, charted
    shot(driver, "scorecard")


@pytest.mark.integration
def test_assigning_an_unmatched_email_takes_one_click_and_lands_on_the_deal(driver: Any, site: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(f"{site}/unmatched")
    row = next(r for r in driver.find_elements(By.CSS_SELECTOR, "tr[data-message]") if "A question" in r.text)
    shot(driver, "unmatched")
    Select(row.find_element(By.NAME, "deal")).select_by_visible_text("Client 2")
    row.find_element(By.CSS_SELECTOR, "button").click()
    assert "'A question' is now on Client 2" in arrived(driver, ".notice", "A question").text
    assert not [
        r for r in driver.find_elements(By.CSS_SELECTOR, "tr[data-message]") if "A question" in r.text
    ]
    driver.get(f"{site}/board")
    driver.find_element(By.CSS_SELECTOR, 'a.card[data-deal="Client 2"]').click()
    arrived(driver, "table.timeline")
    rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "table.timeline tr[data-kind]")]
    assert any("A question" in r for r in rows)


def test_a_form_from_elsewhere_is_refused(site: str) -> None:
    """Without this page's CSRF value a POST changes nothing, even with the token."""
    request = urllib.request.Request(
        f"{site}/unmatched/1/assign",
        data=b"deal=1&csrf=guessed",
        headers={"Cookie": f"csm_agent_token={TOKEN}"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 403
