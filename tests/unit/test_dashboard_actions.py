"""The dashboard's action forms and routes, on a test's own agent through Flask's test client (no
browser, no daemon): which forms a deal, a task or an email gets, a move that would write to a
client held until confirmed, and a task's approval decided only by its Accountable person."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template_string
from flask.testing import FlaskClient

from agent.clock import ManualClock
from agent.config import load_config
from agent.dashboard.app import create_app
from agent.dashboard.site import Site
from agent.simulation import ACCOUNT_MANAGER, CSM, MANAGER
from tests.conftest import MONDAY, Harness, write_config
from tests.integration.sign_off import with_sign_off

MACROS = (
    '{% from "actions.html" import stage_actions, task_actions, email_actions %}'
    "{{ stage_actions(deal) }}{% for t in tasks %}{{ task_actions(deal, t) }}{% endfor %}"
    "{% for e in emails %}{{ email_actions(deal, e) }}{% endfor %}"
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Harness, Site, Flask]]:
    sim = Harness(load_config(write_config(tmp_path, "")), ManualClock(MONDAY))
    site = Site(sim.agent.sessions, lambda: sim.agent.runtime, sim.clock)
    yield sim, site, create_app(site)


def post(client: FlaskClient, site: Site, path: str, **form: str) -> tuple[int, str, str]:
    answer = client.post(path, data={"csrf": site.csrf, **form})
    return answer.status_code, urllib.parse.unquote_plus(answer.location or ""), answer.get_data(as_text=True)


def problem(page: str) -> str:
    found = re.search(r'<p class="problem" role="alert">([^<]*)</p>', page)
    return found.group(1).replace("&#39;", "'") if found else ""


def forms(app: Flask, cookie: str = "", **given: Any) -> str:
    headers = {"Cookie": f"csm_agent_actor={cookie}"} if cookie else {}
    with app.test_request_context("/deals/1", headers=headers):
        return render_template_string(MACROS, **{"tasks": [], "emails": [], **given})


def test_each_form_fits_where_the_deal_task_or_email_is(world: tuple[Harness, Site, Flask]) -> None:
    _, _, app = world
    deal = {"id": 1, "stage": "set-up", "pipeline": "standard-onboarding"}
    page = forms(
        app,
        deal=deal,
        tasks=[
            {"key": "a", "status": "open"},
            {"key": "b", "status": "awaiting_approval"},
            {"key": "c", "status": "done"},
        ],
        emails=[{"id": 7, "status": "review"}, {"id": 8, "status": "queued"}, {"id": 9, "status": "sent"}],
    )
    assert "Advance to Training</button>" in page and "Move back to Introduction Call</button>" in page
    assert re.findall(r'data-action="(\w+)"', page) == [
        "advance", "back", "done", "approve", "reject", "send", "cancel", "cancel",
    ]  # fmt: skip
    assert 'action="/deals/1/tasks/a/done"' in page and "/tasks/c/" not in page
    assert 'href="/deals/1/emails/7/send"' in page and "/emails/9/" not in page
    # nobody named yet: each form asks; once named, the stage's forms show who acts (to change),
    # a task's buttons carry it without repeating it
    assert page.count('<input type="email" name="actor" required autocomplete="email" value="">') == 7
    named = forms(app, "sam@example.com", deal=deal, tasks=[{"key": "a", "status": "open"}])
    stage, task = named.split('data-action="done"')
    assert stage.count('name="actor" required autocomplete="email" value="sam@example.com">') == 2
    assert '<input type="hidden" name="actor" value="sam@example.com">' in task
    won = forms(app, deal={"id": 1, "stage": "won", "pipeline": "standard-onboarding"})
    assert "Advance" not in won and "Move back to Post Training - Sales" in won


def test_a_move_that_writes_to_the_client_waits_for_its_confirmation(
    world: tuple[Harness, Site, Flask],
) -> None:
    sim, site, app = world
    deal = sim.add_deal("Acme Onboarding", stage="set-up")
    client = app.test_client()
    back = {"from": "set-up", "to": "introduction-call", "reason": "The call was cancelled"}
    status, location, _ = post(client, site, f"/deals/{deal}/stage", **back, actor="sam@example.com")
    assert status == 303 and location.startswith(f"/deals/{deal}/stage?")
    assert sim.stage(deal) == "set-up"  # nothing happened yet
    page = client.get(location).get_data(as_text=True)
    assert "Move Acme Onboarding back to Introduction Call?" in page
    assert 'Jane Doe <span class="muted">&lt;jane@acme-radio.example&gt;</span>' in page
    assert 'value="The call was cancelled"' in page and 'value="sam@example.com"' in page
    status, location, _ = post(
        client, site, f"/deals/{deal}/stage", **back, actor="sam@example.com", confirmed="1"
    )
    assert status == 303 and location == f"/deals/{deal}?done=Acme Onboarding moved to Introduction Call."
    assert sim.stage(deal) == "introduction-call"
    assert [e["status"] for e in sim.show(deal)["emails"] if e["template"] == "intro"][-1] == "queued"


def test_only_the_accountable_person_decides_a_task_waiting_for_approval(
    world: tuple[Harness, Site, Flask],
) -> None:
    sim, site, app = world
    roles = {"csm": CSM, "project_manager": MANAGER, "account_manager": ACCOUNT_MANAGER}
    deal = sim.add_deal(
        "Acme Project", pipeline="project-onboarding", stage="business-discovery", roles=roles
    )
    client = app.test_client()
    tasks = f"/deals/{deal}/tasks/success-plan"
    status, location, _ = post(client, site, f"{tasks}/done", actor="sam@example.com")
    assert status == 303 and "'Write the success plan' waits for Olivia Grant to approve it." in location
    status, _, page = post(client, site, f"{tasks}/approve", actor="sam@example.com")
    assert status == 403 and problem(page).startswith(
        "Only the task's Accountable person may decide it (Olivia Grant)"
    )
    status, _, page = post(client, site, f"{tasks}/reject", actor="olivia@example.com")
    assert status == 422 and problem(page).startswith("Give a reason")
    status, _, _ = post(client, site, f"{tasks}/reject", actor="olivia@example.com", reason="No go-live date")
    assert status == 303
    task = next(t for t in sim.show(deal)["tasks"] if t["id"] == "success-plan")
    assert (task["status"], task["rejection"]) == ("open", "No go-live date")
    post(client, site, f"{tasks}/done", actor="sam@example.com")
    status, location, _ = post(client, site, f"{tasks}/approve", actor="olivia@example.com")
    assert status == 303 and "'Write the success plan' is approved." in location
    task = next(t for t in sim.show(deal)["tasks"] if t["id"] == "success-plan")
    assert (task["status"], task["approved_by"]) == ("done", "olivia@example.com on the dashboard")


def test_the_address_typed_is_kept_for_the_next_form_only_by_this_browser(
    world: tuple[Harness, Site, Flask],
) -> None:
    sim, site, app = world
    deal = sim.add_deal("Acme Onboarding")
    answer = app.test_client().post(
        f"/deals/{deal}/tasks/schedule-intro/done", data={"csrf": site.csrf, "actor": "Sam@Example.com"}
    )
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("csm_agent_actor=sam@example.com;")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    status, _, page = post(
        app.test_client(), site, f"/deals/{deal}/tasks/hold-intro/done", actor="not an address"
    )
    assert status == 400 and "Give your email address" in problem(page)


def test_leaving_a_stage_that_needs_approval_is_decided_by_its_approver_alone(tmp_path: Path) -> None:
    sim = with_sign_off(tmp_path)
    site = Site(sim.agent.sessions, lambda: sim.agent.runtime, sim.clock)
    app, client = create_app(site), create_app(site).test_client()
    deal = sim.add_deal("Acme Sign-off", pipeline="sign-off")
    sim.task_done(deal, "sales-handover")  # the stage's move waits for Olivia Grant, its A
    assert sim.stage(deal) == "post-training-sales"
    shown = forms(app, deal={"id": deal, "stage": "post-training-sales", "pipeline": "sign-off"})
    assert "Waits for Olivia Grant to approve moving on to Won" in shown and 'data-action="grant"' in shown
    grant = f"/deals/{deal}/approval/grant"
    status, _, page = post(client, site, grant, actor="sam@example.com", **{"from": "post-training-sales"})
    assert status == 403 and problem(page).startswith("Only Olivia Grant may decide it")
    status, location, _ = post(
        client, site, grant, actor="olivia@example.com", **{"from": "post-training-sales"}
    )
    assert status == 303 and location.endswith("?done=Acme Sign-off moved to Won.")
    assert sim.stage(deal) == "won"
    status, _, page = post(client, site, grant, actor="olivia@example.com", **{"from": "post-training-sales"})
    assert status == 409 and "waits for no approval" in problem(page)
