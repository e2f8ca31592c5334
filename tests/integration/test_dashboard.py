"""The dashboard in a real headless browser (Debian's chromium, driven by Selenium), served by the daemon.

A seeded world (three deals taken to won, one stuck in Set-Up, an email no deal claimed)
is shown by the running daemon; the test reads the board, opens a deal's timeline, and
files a waiting email on the deal a person chose (the picker chooses none). Screenshots of the
board and a timeline are saved in test-artifacts/dashboard/ for people to look at
(test_dashboard_scorecard.py takes the scorecard's and the queue's).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.browser import TOKEN, arrived, seeded_world, served, shot
from tests.integration.dashboard_world import mail_for_a_closed_deal


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cfg, port = seeded_world(tmp_path_factory.mktemp("dashboard"))
    mail_for_a_closed_deal(cfg)  # a second message waits, Client 2 its likely deal
    with served(cfg, port) as base:
        yield base


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
    lines = driver.find_elements(By.CSS_SELECTOR, "section.story li.line[data-kind]")
    [recap] = [li for li in lines if "recap email sent to Jane 1" in li.text]  # queued and sent: one line
    assert "Introduction call held" in recap.text  # what caused it heads the sentence
    why = recap.find_element(By.CSS_SELECTOR, "details.why")
    why.find_element(By.CSS_SELECTOR, "summary").click()  # why it went: one click away
    assert "rule recap-after-intro" in why.text and "was held" in why.text
    shot(driver, "timeline")


def waiting(driver: Any, subject: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return [r for r in driver.find_elements(By.CSS_SELECTOR, "tr[data-message]") if subject in r.text]


@pytest.mark.integration
def test_the_assign_picker_starts_on_no_deal_and_files_only_the_chosen_one(driver: Any, site: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(f"{site}/unmatched")
    [row] = waiting(driver, "New invoice address")
    picker = row.find_element(By.NAME, "deal")
    chosen = Select(picker).first_selected_option
    assert (chosen.text, chosen.get_attribute("value")) == ("Choose a deal…", "")
    groups = [g.get_attribute("label") for g in picker.find_elements(By.TAG_NAME, "optgroup")]
    assert groups == ["Likely", "Open deals", "Closed"]
    assert [o.text for o in picker.find_elements(By.CSS_SELECTOR, 'optgroup[label="Likely"] option')] == [
        "Client 2"
    ]
    [stranger] = waiting(driver, "A question")  # no candidate: open deals first
    assert [g.get_attribute("label") for g in stranger.find_elements(By.TAG_NAME, "optgroup")] == [
        "Open deals",
        "Closed",
    ]
    for field in row.find_elements(By.NAME, "actor"):  # who acts, when no signing-in proxy says
        field.send_keys("sam@example.com")

    # nothing chosen: the browser does not send the form, and the server refuses one sent anyway
    row.find_element(By.CSS_SELECTOR, "button").click()
    assert driver.execute_script("return arguments[0].validity.valueMissing", picker)
    driver.execute_script("arguments[0].removeAttribute('required')", picker)
    row.find_element(By.CSS_SELECTOR, "button").click()
    assert "Not assigned" in arrived(driver, ".notice", "Not assigned").text
    [row] = waiting(driver, "New invoice address")

    Select(row.find_element(By.NAME, "deal")).select_by_visible_text("Client 2")
    for field in row.find_elements(By.NAME, "actor"):
        field.clear()
        field.send_keys("sam@example.com")
    row.find_element(By.CSS_SELECTOR, "button").click()
    assert "'New invoice address' is now on Client 2" in arrived(driver, ".notice", "is now on").text
    assert not waiting(driver, "New invoice address") and waiting(driver, "A question")
    driver.get(f"{site}/board")
    driver.find_element(By.CSS_SELECTOR, 'a.card[data-deal="Client 2"]').click()
    arrived(driver, "h1", "Client 2")
    assert "New invoice address" in driver.find_element(By.TAG_NAME, "main").text


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
