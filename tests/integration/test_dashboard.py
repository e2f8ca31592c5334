"""The dashboard in a real headless browser (Debian's chromium, driven by Selenium), served by the daemon.

A seeded world (three deals taken to won, one stuck in Set-Up, an email no deal claimed)
is shown by the running daemon; the test reads the board, opens a deal's timeline, and
assigns the unmatched email with one click. Screenshots of the board, a timeline, the
scorecard and the queue are saved in test-artifacts/dashboard/ for people to look at.
"""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.clock import ManualClock
from agent.config import load_config
from agent.deals import ContactSpec
from tests.conftest import ROOT, Harness, start_daemon, stop_daemon, wait_until
from tests.integration.scenario import START, play, step_config
from tests.servers import REQUIRE, free_port

ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
TOKEN = "dash-test-token-7b9e"


def browser() -> Any:
    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        message = "chromium and chromium-driver are not installed (scripts/test installs them)"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    # headless, and nothing that reaches out to the network (this machine has none)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1440,900",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("dashboard")
    cfg = step_config(folder)
    port = free_port()
    (folder / "dashboard-token").write_text(TOKEN + "\n")
    (folder / "dashboard-token").chmod(0o600)
    cfg.write_text(
        cfg.read_text() + f'\n[dashboard]\nport = {port}\npassword_file = "{folder / "dashboard-token"}"\n'
    )
    sim = Harness(load_config(cfg), ManualClock(START))
    play(sim)  # Client 1-3: from hand-over to won; "A question" from a stranger waits unmatched
    stuck = sim.add_deal(
        "Delta Dairy", contacts=[ContactSpec("Dee", "dee@delta-dairy.example", "client_admin")]
    )
    sim.run()
    sim.advance(stuck, "set-up")
    daemon = start_daemon(cfg, quiet=True)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _up(base), timeout=30)
    try:
        yield base
    finally:
        stop_daemon(daemon)


def _up(base: str) -> bool:
    try:
        urllib.request.urlopen(base + "/board", timeout=2)
    except urllib.error.HTTPError:
        return True  # it answers (401 without the token)
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def driver(site: str) -> Iterator[Any]:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    chrome = browser()
    chrome.get(f"{site}/board?token={TOKEN}")  # once with the token; a cookie carries it after
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
    headers = [h.text.split("\n")[0] for h in driver.find_elements(By.CSS_SELECTOR, "section.column h2")]
    assert headers[:3] == [
        "Customer Brief 0 · target 2 d",
        "Introduction Call 0 · target 10 d",
        "Set-Up 1 · target 14 d",
    ]
    driver.save_screenshot(str(ARTIFACTS / "board.png"))


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
    driver.save_screenshot(str(ARTIFACTS / "timeline.png"))
    driver.get(f"{site}/scorecard")
    assert "Went live\n3" in driver.find_element(By.CSS_SELECTOR, ".facts").text
    assert driver.find_elements(By.CSS_SELECTOR, "svg.chart circle")  # the CSAT answers, charted
    driver.save_screenshot(str(ARTIFACTS / "scorecard.png"))


def arrived(driver: Any, css: str, text: str = "") -> Any:
    """The element, holding `text`, on the page a click leads to: the browser may still be on the old one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def found(d: Any) -> Any:
        return next((e for e in d.find_elements(By.CSS_SELECTOR, css) if text in e.text), None)

    try:
        return WebDriverWait(driver, 15).until(found)
    except Exception:  # the page never showed it: fail on what it shows instead
        return driver.find_element(By.CSS_SELECTOR, css)


@pytest.mark.integration
def test_assigning_an_unmatched_email_takes_one_click_and_lands_on_the_deal(driver: Any, site: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(f"{site}/unmatched")
    row = next(r for r in driver.find_elements(By.CSS_SELECTOR, "tr[data-message]") if "A question" in r.text)
    driver.save_screenshot(str(ARTIFACTS / "unmatched.png"))
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
