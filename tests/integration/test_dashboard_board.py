"""The board as a CSM runs their morning from it, in a real headless browser against the daemon.

The seeded world (tests/integration/browser.py) gets a second CSM, Priya Shah, with three deals:
Foxtrot Farms (team emea) and Hotel Hydro, in Set-Up for a month with overdue tasks, Foxtrot's
training users marked created and waiting for the onboarding manager's approval (the rules here
ask for it); Echo Energy, new, whose intro email waits for Priya's review, with a call today and
its introduction call tomorrow at 10:00. Sam Carter gets Golf Gear, in Customer Brief, whose next
task is the onboarding manager's. Screenshots: board, board-phone, board-filtered.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest

from agent.clock import ManualClock
from agent.config import load_config
from agent.deals import ContactSpec
from agent.simulation import ACCOUNT_MANAGER, MANAGER
from agent.store.db import open_store
from agent.store.repo import Repo
from tests.conftest import ROOT, Harness, wait_until
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

PRIYA = ("Priya Shah", "priya@example.com")
LONDON = ZoneInfo("Europe/London")  # the agent's time zone (tests/conftest.py): the viewer's


@dataclass
class World:
    base: str
    ids: dict[str, int]
    overdue: dict[str, int]  # open tasks past their due date, per deal
    fox_task: tuple[str, date]  # Foxtrot's open task due first, and its day
    tomorrow_call: datetime


def _teams_and_review(folder: Any) -> str:
    return f"""
[review.per_csm]
"{PRIYA[1]}" = ["intro"]

[[teams]]
name = "emea"
address = "emea@example.com"
display_name = "EMEA"
[teams.mailbox]
path = "{folder / "emea-mail"}"
"""


def _rules_with_an_approval(folder: Any, cfg: Any) -> None:
    """The shipped rules, with one task its Accountable person approves (none ships with one)."""
    rules = folder / "rules"
    shutil.copytree(ROOT / "rules", rules)
    standard = rules / "standard-onboarding.yaml"
    task = "      - id: create-training-users\n"
    assert standard.read_text().count(task) == 1
    standard.write_text(standard.read_text().replace(task, task + "        approval: true\n"))
    text = cfg.read_text()
    assert f'rules = "{ROOT / "rules"}"' in text
    cfg.write_text(text.replace(f'rules = "{ROOT / "rules"}"', f'rules = "{rules}"'))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("board")
    cfg, port = seeded_world(folder, _teams_and_review(folder))
    _rules_with_an_approval(folder, cfg)
    now = datetime.now(UTC).replace(microsecond=0)
    sim = Harness(load_config(cfg), ManualClock(now - timedelta(days=30)))
    sim._ids = itertools.count(1000)  # its inputs' keys must not be those the seeded world's harness used
    priyas = {"csm": PRIYA, "onboarding_manager": MANAGER, "account_manager": ACCOUNT_MANAGER}
    ids = {}
    for name, team, contact in (
        ("Foxtrot Farms", "emea", ("Fay Fields", "fay@foxtrot.example")),
        ("Hotel Hydro", "", ("Hana Hill", "hana@hotel-hydro.example")),
    ):
        ids[name] = sim.add_deal(
            name, team=team, roles=priyas, contacts=[ContactSpec(*contact, "client_admin")]
        )
        sim.run()
        sim.advance(ids[name], "set-up")
    sim.task_done(ids["Foxtrot Farms"], "create-training-users")  # waits for Olivia's approval
    sim.at(now)
    ids["Echo Energy"] = sim.add_deal(
        "Echo Energy",
        roles=priyas,
        contacts=[  # the client admin is the main contact, though not the first one
            ContactSpec("Eddie Stone", "eddie@echo-energy.example", "client_sponsor"),
            ContactSpec("Erin Walsh", "erin@echo-energy.example", "client_admin"),
        ],
        client_domains=["echo-energy.example"],
    )
    sim.run()
    sim.advance(ids["Echo Energy"], "introduction-call")  # its intro email waits for Priya's review
    today = now.astimezone(LONDON).date()
    tomorrow_call = datetime.combine(today + timedelta(days=1), time(10), tzinfo=LONDON)
    earlier_today = max(now - timedelta(hours=1), datetime.combine(today, time(0), tzinfo=LONDON))
    erin = ("erin@echo-energy.example",)
    sim.meeting("echo-intro", "Echo Energy introduction call", tomorrow_call, attendees=erin)
    sim.meeting("echo-check-in", "Echo Energy check-in", earlier_today, 30, attendees=erin)
    gus = ContactSpec("Gus Green", "gus@golf.example", "client_project_lead")
    ids["Golf Gear"] = sim.add_deal("Golf Gear", "project-onboarding", contacts=[gus])
    sim.run()
    with open_store(load_config(cfg).store_url).begin() as s:
        repo = Repo(s)
        ids |= {d.name: d.id for d in repo.deals()}
        overdue = {
            name: sum(1 for t in repo.open_tasks(i) if t.due_at is not None and t.due_at < now)
            for name, i in ids.items()
        }
        fox_next = min(
            (t for t in repo.open_tasks(ids["Foxtrot Farms"]) if t.due_at is not None),
            key=lambda t: (t.due_at, t.id),
        )
        assert fox_next.due_at is not None and fox_next.responsible == "csm"
        fox_task = (fox_next.title, fox_next.due_at.astimezone(LONDON).date())
        assert repo.task(ids["Foxtrot Farms"], "create-training-users").status == "awaiting_approval"  # type: ignore[union-attr]
        assert [e.template for e in repo.outbox_all(ids["Echo Energy"]) if e.status == "review"] == ["intro"]
    assert overdue["Foxtrot Farms"] and overdue["Hotel Hydro"] and overdue["Delta Dairy"]
    with served(cfg, port) as base:
        yield World(base, ids, overdue, fox_task, tomorrow_call)


@pytest.fixture(scope="module")
def site(world: World) -> str:
    return world.base


def card(driver: Any, deal: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'a.card[data-deal="{deal}"]')


def shown(driver: Any) -> set[str]:
    from selenium.webdriver.common.by import By

    return {str(c.get_attribute("data-deal")) for c in driver.find_elements(By.CSS_SELECTOR, "a.card")}


def field(element: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return str(element.find_element(By.CSS_SELECTOR, css).text)


def day(d: date) -> str:
    return f"{d:%a} {d.day} {d:%b}"


def tasks(n: int) -> str:
    return f"{n} overdue task" + ("" if n == 1 else "s")


@pytest.mark.integration
def test_a_card_names_the_people_and_the_next_steps(driver: Any, world: World) -> None:
    driver.get(f"{world.base}/board")
    echo = card(driver, "Echo Energy")
    assert field(echo, "dd.csm") == "Priya Shah"  # her name, not her address
    assert field(echo, "dd.contact") == "Erin Walsh"  # the client admin, not the first contact
    call = world.tomorrow_call
    assert field(echo, "dd.meeting") == f"{day(call.date())}, 10:00"
    assert "Waits for approval: Priya Shah" in echo.text  # its intro, held for her review
    assert "0 of 10 days" in echo.text and "overdue" not in echo.text

    fox = card(driver, "Foxtrot Farms")
    title, due = world.fox_task
    assert field(fox, "dd.task") == f"{title}\nPriya Shah, due {day(due)} {due.year}"
    assert tasks(world.overdue["Foxtrot Farms"]) in fox.text
    assert "Waits for approval: Olivia Grant" in fox.text  # the training users, for their A
    assert "30 of 14 days" in fox.text and "past target" in fox.text
    assert "late" in (fox.get_attribute("class") or "")

    delta = card(driver, "Delta Dairy")
    assert field(delta, "dd.csm") == "Sam Carter" and field(delta, "dd.contact") == "Dee"
    assert "Waits for approval" not in delta.text and "past target" in delta.text
    assert not [c for c in driver.find_elements("css selector", "a.card dd") if "@" in c.text]
    assert axe(driver) == []
    shot(driver, "board")


@pytest.mark.integration
def test_column_headers_keep_the_stage_on_one_line_and_total_the_deals_and_overdue_tasks(
    driver: Any, world: World
) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{world.base}/board")
    set_up = driver.find_element(By.CSS_SELECTOR, 'section.column[data-stage="set-up"] .head')
    overdue = sum(world.overdue[d] for d in ("Delta Dairy", "Foxtrot Farms", "Hotel Hydro"))
    assert set_up.text == f"Set-Up\n3 deals · target 14 d\n{tasks(overdue)}"
    brief = driver.find_element(By.CSS_SELECTOR, 'section.column[data-stage="customer-brief"] .head')
    assert brief.text == "Customer Brief\n0 deals · target 2 d"
    for head in driver.find_elements(By.CSS_SELECTOR, "section.column .head"):
        title = head.find_element(By.TAG_NAME, "h2")
        line = float(
            driver.execute_script("return parseFloat(getComputedStyle(arguments[0]).lineHeight)", title)
        )
        assert title.size["height"] < 1.5 * line, f"{title.text} wraps"
        for piece in head.find_elements(By.CSS_SELECTOR, ".tally span"):
            assert piece.size["height"] < 1.5 * line, f"{piece.text} wraps"


@pytest.mark.integration
def test_filtered_by_csm_the_board_opens_with_their_morning(driver: Any, world: World) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(f"{world.base}/board")
    assert not driver.find_elements(By.CSS_SELECTOR, ".morning")  # nobody's morning on the whole board
    Select(driver.find_element(By.ID, "f-csm")).select_by_visible_text("Priya Shah")
    driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
    wait_until(lambda: "csm=" in driver.current_url)  # a form's submit may return before its page
    assert parse_qs(urlparse(driver.current_url).query)["csm"] == [PRIYA[1]]
    assert shown(driver) == {"Echo Energy", "Foxtrot Farms", "Hotel Hydro"}
    items = driver.find_elements(By.CSS_SELECTOR, ".morning li")
    overdue = world.overdue["Foxtrot Farms"] + world.overdue["Hotel Hydro"]
    assert [i.text for i in items] == [tasks(overdue), "1 waiting for your approval", "1 meeting today"]
    links = [i.find_element(By.TAG_NAME, "a").get_attribute("href") or "" for i in items]
    echo = f"/deals/{world.ids['Echo Energy']}"
    assert links[1].endswith(echo) and links[2].endswith(echo)  # Foxtrot's waits for Olivia, not her
    assert "only=overdue" in links[0]
    items[0].find_element(By.TAG_NAME, "a").click()  # two deals: the board of those two
    arrived(driver, ".showing")
    assert shown(driver) == {"Foxtrot Farms", "Hotel Hydro"}
    assert "only deals with overdue tasks" in driver.find_element(By.CSS_SELECTOR, ".showing").text
    shot(driver, "board-filtered")


@pytest.mark.integration
def test_the_search_box_finds_a_deal_by_its_contacts_name(driver: Any, world: World) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{world.base}/board")
    box = driver.find_element(By.ID, "f-q")
    box.send_keys("erin walsh")
    box.submit()
    arrived(driver, ".showing")
    assert shown(driver) == {"Echo Energy"}
    driver.find_element(By.LINK_TEXT, "Clear").click()
    wait_until(lambda: "q=" not in driver.current_url)  # the whole board again
    assert len(shown(driver)) > 5


@pytest.mark.integration
def test_team_and_pipeline_filters_narrow_the_board(driver: Any, world: World) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{world.base}/board?team=emea")
    assert shown(driver) == {"Foxtrot Farms"}
    driver.get(f"{world.base}/board?team=_main")
    assert "Foxtrot Farms" not in shown(driver) and "Echo Energy" in shown(driver)
    driver.get(f"{world.base}/board?pipeline=project-onboarding")
    stages = [s.get_attribute("data-stage") for s in driver.find_elements(By.CSS_SELECTOR, "section.column")]
    assert stages[0] == "kick-off" and "set-up" not in stages
    assert shown(driver) == {"Golf Gear"}
    assert driver.find_element(By.TAG_NAME, "h1").text == "Project onboarding"
    golf = card(driver, "Golf Gear")  # its next task is Sales', with no due date: their name, no "due"
    assert field(golf, "dd.task") == "Hand the account over from Sales to CS\nAlex Reed"
    assert field(golf, "dd.contact") == "Gus Green"  # no client admin: the first contact


@pytest.mark.integration
def test_on_a_phone_the_columns_stack_and_no_card_is_cut_off(driver: Any, world: World) -> None:
    from selenium.webdriver.common.by import By

    resize(driver, PHONE)
    try:
        driver.get(f"{world.base}/board")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
        columns = driver.find_elements(By.CSS_SELECTOR, "section.column")
        tops = [c.rect["y"] for c in columns]
        assert tops == sorted(tops) and len(set(tops)) == len(tops)  # one under the other
        for c in driver.find_elements(By.CSS_SELECTOR, "a.card"):
            assert c.rect["x"] >= 0 and c.rect["x"] + c.rect["width"] <= PHONE[0], c.text
        assert axe(driver) == []
        shot(driver, "board-phone")
    finally:
        resize(driver, LAPTOP)
