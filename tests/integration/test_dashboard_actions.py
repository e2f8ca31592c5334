"""Actions on the dashboard, against the daemon: a deal moved on and back with a reason, a task done,
a held email sent once from its confirmation page, one cancelled, one only a role may let go, and
each recorded with who did it; then who acts as a signing-in proxy names them (in process).

The seeded world (tests/integration/browser.py) gets two more deals, made at the real time so
that no review deadline passes during the test: Echo Radio, whose intro is held for review, and
Foxtrot FM, with an email only its account manager (Alex Reed) may let go.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from agent import deals
from agent.clock import ManualClock
from agent.config import DashboardSection, load_config
from agent.dashboard.serve import DashboardServer
from agent.dashboard.site import Site
from agent.domain import Address
from agent.handling.cause import begin
from agent.pipeline.engine import Trigger
from agent.simulation import ACCOUNT_MANAGER, CSM, MANAGER
from agent.store.db import open_store
from agent.store.repo import Repo
from tests.conftest import MONDAY, Harness, RealTime, wait_until, write_config
from tests.integration.browser import (
    LAPTOP,
    PHONE,
    TOKEN,
    arrived,
    axe,
    resize,
    seeded_world,
    served,
    shot,
    signed_in,
)

pytestmark = pytest.mark.integration
COOKIE = f"csm_agent_token={TOKEN}"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the test reads the 303 itself


def _more_deals(cfg: Path) -> None:
    """Echo Radio's intro held for review; Foxtrot FM's email held for its account manager."""
    sim = Harness(load_config(cfg), RealTime())
    handlers, now = sim.agent.runtime.handlers, sim.clock.now()
    finn = Address("finn@foxtrot.example", "Finn Fox")
    with sim.agent.sessions.begin() as s:
        repo = Repo(s)
        cause = begin(repo, "test:more-deals", "cli", now)  # the seeding's keys are taken
        assert cause is not None
        for name, contact, stage in (
            ("Echo Radio", Address("eve@echo-radio.example", "Eve Echo"), None),
            ("Foxtrot FM", finn, "set-up"),
        ):
            spec = deals.DealSpec(
                name=name,
                pipeline="standard-onboarding",
                contacts=[deals.ContactSpec(contact.name, contact.email, "client_admin")],
                roles={"csm": CSM, "onboarding_manager": MANAGER, "account_manager": ACCOUNT_MANAGER},
                timezone="Europe/London",
                stage=stage,
            )
            deal = handlers.handover(repo, spec, cause, now)
        handlers.enqueuer.queue_email(
            repo,
            deal,
            "intro",
            (finn,),
            (),
            due=now,
            rule="",
            reason="only the account manager may let it go",
            cause=cause,
            trigger=Trigger("test"),
            now=now,
            approved_by="account_manager",
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("actions")
    cfg, port = seeded_world(folder, "[daemon]\npoll_seconds = 1\n")  # a released email goes at once
    cfg.write_text(cfg.read_text().replace("templates = []  #", 'templates = ["intro"]  #'))
    _more_deals(cfg)
    with served(cfg, port) as base:
        yield base, cfg


def store(cfg: Path) -> Any:
    return open_store(load_config(cfg).store_url)


def ids(cfg: Path, deal: str, template: str = "") -> tuple[int, int]:
    """The deal's id, and its (first) email of `template` held for review."""
    with store(cfg).begin() as s:
        repo = Repo(s)
        found = repo.deal_by_name(deal)
        assert found is not None
        held = [e.id for e in repo.outbox_all(found.id) if e.template == template and e.status == "review"]
        return found.id, (held[0] if template else 0)


def events(cfg: Path, deal_id: int, kind: str) -> list[str]:
    with store(cfg).begin() as s:
        return [a.reason for a in Repo(s).events_for(deal_id) if a.kind == kind]


def email_status(cfg: Path, email_id: int) -> str:
    with store(cfg).begin() as s:
        email = Repo(s).outbox(email_id)
        assert email is not None
        return email.status


def task_status(cfg: Path, deal_id: int, key: str) -> str:
    with store(cfg).begin() as s:
        task = Repo(s).task(deal_id, key)
        assert task is not None
        return task.status


def _sent(cfg: Path) -> list[EmailMessage]:
    folder = load_config(cfg).sent_path
    return [BytesParser(policy=default).parsebytes(p.read_bytes()) for p in folder.glob("*.eml")]


def csrf(base: str) -> str:
    """The form value every page's forms carry (the unmatched queue's forms have it)."""
    page = fetch(base + "/unmatched")[2]
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no form on the unmatched page"
    return found.group(1)


def fetch(
    url: str, form: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """(status, Location, page) of a GET, or of a POST of `form`."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, headers={"Cookie": COOKIE, **(headers or {})})
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as answer:
            return answer.status, answer.headers.get("Location", ""), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", ""), exc.read().decode()


def post(base: str, path: str, **form: str) -> tuple[int, str, str]:
    return fetch(base + path, {"csrf": csrf(base), **form})


def problem(page: str) -> str:
    found = re.search(r'<p class="problem" role="alert">([^<]*)</p>', page)
    return found.group(1).replace("&#39;", "'") if found else ""


def test_a_deal_moves_on_past_open_tasks_and_back_only_with_a_reason_recorded_with_who(
    world: tuple[str, Path],
) -> None:
    base, cfg = world
    delta, _ = ids(cfg, "Delta Dairy")
    on = {"from": "set-up", "to": "training", "actor": "olivia@example.com"}
    status, _, page = post(base, f"/deals/{delta}/stage", **on)
    assert status == 422 and "Give a reason: Set-Up has tasks not done" in problem(page)
    status, location, _ = post(base, f"/deals/{delta}/stage", **on, reason="The client is ready early")
    assert status == 303
    assert urllib.parse.unquote_plus(location) == f"/deals/{delta}?done=Delta Dairy moved to Training."
    [moved] = events(cfg, delta, "stage_changed")[-1:]
    assert (
        moved == "set-up → training: moved by olivia@example.com on the dashboard: The client is ready early"
    )
    assert (
        "olivia@example.com on the dashboard moved the deal on" in events(cfg, delta, "gate_overridden")[-1]
    )

    back = {"from": "training", "to": "set-up", "actor": "olivia@example.com"}
    status, _, page = post(base, f"/deals/{delta}/stage", **back)
    assert status == 422 and problem(page) == "Give a reason: why Delta Dairy goes back to Set-Up."
    status, _, _ = post(base, f"/deals/{delta}/stage", **back, reason="The stations are not set up")
    assert status == 303
    assert events(cfg, delta, "stage_changed")[-1] == (
        "training → set-up: moved by olivia@example.com on the dashboard: The stations are not set up"
    )
    # the same form again (a second click, a stale page): the deal is not where it saw it
    moves = len(events(cfg, delta, "stage_changed"))
    status, _, page = post(base, f"/deals/{delta}/stage", **back, reason="The stations are not set up")
    assert status == 409 and "Delta Dairy is in Set-Up now, not Training: nothing was moved" in problem(page)
    assert len(events(cfg, delta, "stage_changed")) == moves


def test_a_task_is_marked_done_once_and_nobody_unnamed_can_do_it(world: tuple[str, Path]) -> None:
    base, cfg = world
    delta, _ = ids(cfg, "Delta Dairy")
    path = f"/deals/{delta}/tasks/receive-set-up-info/done"
    status, _, page = post(base, path)
    assert status == 400 and "Give your email address" in problem(page)
    assert task_status(cfg, delta, "receive-set-up-info") == "open"
    status, location, _ = post(base, path, actor="sam@example.com")
    assert status == 303 and "is+done" in location
    assert task_status(cfg, delta, "receive-set-up-info") == "done"
    assert any(
        "marked done by sam@example.com on the dashboard" in r for r in events(cfg, delta, "task_completed")
    )
    status, _, page = post(base, path, actor="sam@example.com")
    assert status == 409 and "is done already: nothing was changed" in problem(page)


def test_a_held_email_goes_once_from_its_confirmation_page(world: tuple[str, Path]) -> None:
    from selenium.webdriver.common.by import By

    base, cfg = world
    echo, intro = ids(cfg, "Echo Radio", "intro")
    path = f"/deals/{echo}/emails/{intro}/send"
    # not confirmed: nothing goes, the confirmation page is where it leads
    status, location, _ = post(base, path, actor="sam@example.com")
    assert status == 303 and location == path and email_status(cfg, intro) == "review"

    driver = signed_in(base)
    try:
        driver.get(base + path)
        assert arrived(driver, "h1").text == "Send the intro email to Eve Echo?"
        card = driver.find_element(By.CSS_SELECTOR, "article.email").text
        assert (
            "Eve Echo <eve@echo-radio.example>" in card and "Hello Eve," in card and "Welcome aboard!" in card
        )
        assert axe(driver) == []
        shot(driver, "confirm-send")
        resize(driver, PHONE)
        assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
        shot(driver, "confirm-send-phone")
        resize(driver, LAPTOP)
        driver.find_element(By.ID, "actor").send_keys("sam@example.com")
        driver.find_element(By.CSS_SELECTOR, "form.confirm button").click()
        wait_until(lambda: "done=" in driver.current_url, timeout=15)
        assert "The intro email to Eve Echo is approved: it goes now." in urllib.parse.unquote_plus(
            driver.current_url
        )
        notice = arrived(driver, "p.notice[role=status]", "approved").text  # the deal's page says it
        assert notice == "The intro email to Eve Echo is approved: it goes now."
        wait_until(lambda: email_status(cfg, intro) == "sent", timeout=20)
        # the page again (back, a second click): it is not sent twice, and says why
        driver.get(base + path)
        assert "The intro email is sent already: nothing was changed." in arrived(driver, ".problem").text
        assert not driver.find_elements(By.CSS_SELECTOR, "form.confirm")
    finally:
        driver.quit()
    status, _, page = post(base, path, actor="sam@example.com", confirmed="1")
    assert status == 409 and "sent already" in problem(page)
    sent = [m for m in _sent(cfg) if "eve@echo-radio.example" in str(m["To"])]
    assert len(sent) == 1 and "Welcome aboard!" in str(sent[0].get_body(("plain",)))
    assert events(cfg, echo, "email_released") == ["intro: approved by sam@example.com on the dashboard"]


def test_an_email_a_role_must_approve_is_refused_to_others_and_cancelled_by_its_people(
    world: tuple[str, Path],
) -> None:
    base, cfg = world
    fox, held = ids(cfg, "Foxtrot FM", "intro")
    status, _, page = post(base, f"/deals/{fox}/emails/{held}/send", actor="sam@example.com", confirmed="1")
    assert status == 403
    assert problem(page) == (
        "Only the Account Manager may decide the intro email (Alex Reed); "
        "you are sam@example.com: nothing was changed."
    )
    assert email_status(cfg, held) == "review"
    status, location, _ = post(base, f"/deals/{fox}/emails/{held}/cancel", actor="alex@example.com")
    assert status == 303 and "is+cancelled" in location
    assert email_status(cfg, held) == "withdrawn"
    assert events(cfg, fox, "email_withdraw")[-1] == "intro: cancelled by alex@example.com on the dashboard"


def test_behind_a_signing_in_proxy_the_person_it_names_is_who_acts(tmp_path: Path) -> None:
    sim = Harness(load_config(write_config(tmp_path, "")), ManualClock(MONDAY))
    deal = sim.add_deal("Acme Onboarding")
    site = Site(sim.agent.sessions, lambda: sim.agent.runtime, sim.clock, user_header="X-Forwarded-Email")
    server = DashboardServer(site, DashboardSection(), 0).start()
    try:
        url = f"{server.url}deals/{deal}/tasks/schedule-intro/done"
        form = {"csrf": site.csrf, "actor": "mallory@example.com"}  # a form cannot say who acts
        status, _, page = fetch(url, form)
        assert status == 400 and "The signing-in proxy did not say who you are" in problem(page)
        status, _, _ = fetch(url, form, {"X-Forwarded-Email": "olivia@example.com"})
        assert status == 303
    finally:
        server.shutdown()
    reasons = [e["reason"] for e in sim.show(deal)["events"] if e["kind"] == "task_completed"]
    assert (
        reasons[-1]
        == "task 'Schedule the introduction call': marked done by olivia@example.com on the dashboard"
    )


def test_filing_an_unmatched_message_wants_a_deal_and_a_person(world: tuple[str, Path]) -> None:
    base, cfg = world
    page = fetch(base + "/unmatched")[2]
    found = re.search(r'action="(/unmatched/(\d+)/assign)"', page)
    assert found, "no message waits in the seeded world"
    path, message = found.group(1), int(found.group(2))
    deal, _ = ids(cfg, "Client 2")
    status, location, _ = post(base, path, deal=str(deal))  # nobody named
    assert status == 303 and "Not assigned: say who you are" in urllib.parse.unquote_plus(location)
    status, location, _ = post(base, path, deal="", actor="sam@example.com")
    assert "Not assigned: choose a deal" in urllib.parse.unquote_plus(location)
    with store(cfg).begin() as s:
        waiting = Repo(s).message(message)
        assert waiting is not None and waiting.status in ("unmatched", "held")  # nothing was filed
