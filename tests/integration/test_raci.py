"""RACI that means what it says, through the agent's own ways in: stage gates, a task approved by its
Accountable person, and its Consulted people asked before the decision (docs/rules.md)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from agent.clock import ManualClock
from agent.config import load_config
from agent.deals import ContactSpec
from tests.conftest import ACCOUNT_MANAGER, CLIENT, CSM, MANAGER, MONDAY, ROOT, Harness, write_config
from tests.integration.cli_helpers import add_acme, as_json, run

LAUNCH_AT = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)  # a Tuesday
SETUP_AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
QUESTION = "Which system holds your user list?"
# A small pipeline whose set-up task is consulted on and approved; its first stage has no tasks.
RACI_PIPELINE = f"""\
pipeline: raci-test
name: RACI test
roles:
  csm: {{side: ours, title: Customer Success Manager}}
  onboarding_manager: {{side: ours, title: Onboarding Manager}}
  account_manager: {{side: ours, title: Account Manager}}
  client_admin: {{side: client, title: Client administrator}}
stages:
  - id: welcome
    name: Welcome
  - id: set-up
    name: Set-Up
    meetings:
      setup-call: {{title: ['set-?up']}}
    tasks:
      - {{id: provision, title: Provision the account, R: csm, A: onboarding_manager}}
      - id: import-data
        title: Import the client's data
        R: csm
        A: onboarding_manager
        C: [account_manager, client_admin]
        consult: "{QUESTION}"
        approval: true
  - id: training
    name: Training
    tasks:
      - {{id: train, title: Train the users, R: csm, A: onboarding_manager}}
  - id: won
    name: Won
    end: true
rules:
  - id: welcomed
    when: {{deal_created: true}}
    then: [{{advance: set-up}}]
  - id: setup-call-held
    when: {{meeting_completed: setup-call}}
    then:
      - {{complete_task: provision}}
      - {{advance: training}}
"""


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    """The shipped pipelines and the RACI test pipeline."""
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    (rules / "raci-test.yaml").write_text(RACI_PIPELINE, encoding="utf-8")
    cfg = write_config(tmp_path / "agent")
    cfg.write_text(cfg.read_text().replace(f'rules = "{ROOT / "rules"}"', f'rules = "{rules}"'))
    harness = Harness(load_config(cfg), ManualClock(MONDAY))
    harness.cfg = cfg  # type: ignore[attr-defined]
    return harness


def raci_deal(h: Harness) -> int:
    return h.add_deal(pipeline="raci-test", contacts=[ContactSpec(CLIENT[0], CLIENT[1], "client_admin")])


def task(h: Harness, deal_id: int, key: str) -> dict[str, Any]:
    return next(t for t in h.show(deal_id)["tasks"] if t["id"] == key)


def events(h: Harness, deal_id: int, kind: str) -> list[dict[str, Any]]:
    return [e for e in h.show(deal_id)["events"] if e["kind"] == kind]


def body(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def reply(h: Harness, who: tuple[str, str], deal_id: int, to: EmailMessage, text: str) -> None:
    """`who` answers the agent's email `to`, in its thread, to the deal's address."""
    h.mail(
        who,
        [("Agent", h.reply_address(deal_id))],
        f"Re: {to['Subject']}",
        f"{text}\n\nOn Monday, the agent wrote:\n> {body(to).splitlines()[0]}",
        headers={"In-Reply-To": to["Message-ID"], "References": to["Message-ID"]},
    )


def sent_to(h: Harness, template_subject: str, address: str) -> list[EmailMessage]:
    return [
        m for m in h.sent() if template_subject in m["Subject"] and m["To"].addresses[0].addr_spec == address
    ]


# --- gates ---------------------------------------------------------------------------------------
def setup_call_held(h: Harness, deal_id: int) -> None:
    h.meeting("setup", "Acme Radio set-up call", SETUP_AT, attendees=(CLIENT[1],))
    h.run()
    h.at(SETUP_AT + timedelta(hours=1))
    h.run()


def test_a_rules_move_waits_until_the_stages_tasks_are_done_then_happens(h: Harness) -> None:
    deal_id = raci_deal(h)
    setup_call_held(h, deal_id)
    # the call's rule ticked provision and asked to move on: import-data is open
    assert h.stage(deal_id) == "set-up"
    [waiting] = events(h, deal_id, "stage_move_waiting")
    assert waiting["rule"] == "setup-call-held"
    assert waiting["reason"] == "set-up → training waits until the stage's tasks are done: import-data (open)"
    show = h.show(deal_id)
    assert (show["move_waiting"]["target"], show["move_waiting"]["rule"]) == ("training", "setup-call-held")

    h.mail(MANAGER, [("Agent", h.reply_address(deal_id))], "Acme Radio", "done import-data")
    h.run()  # the last task (its Accountable person did it: approved): the held move goes now
    show = h.show(deal_id)
    assert show["stage"] == "training" and show["move_waiting"] == {}
    [moved] = [e for e in show["events"] if e["kind"] == "stage_changed" and e["rule"] == "setup-call-held"]
    assert moved["reason"].startswith("set-up → training: rule setup-call-held: ")
    assert moved["reason"].endswith("(it waited for the stage's tasks)")


def test_a_rule_that_completes_the_last_tasks_then_advances_moves_at_once(harness: Harness) -> None:
    deal_id = harness.add_deal(stage="training")
    harness.meeting("launch", "Acme Radio learner launch", LAUNCH_AT, 60)
    harness.run()
    harness.at(LAUNCH_AT + timedelta(minutes=80))
    harness.run()
    # complete_task deliver-training (Training's one task: seeds/001), then advance: nothing left open
    assert harness.stage(deal_id) == "post-training-cs"
    assert events(harness, deal_id, "stage_move_waiting") == []
    training = [t for t in harness.show(deal_id)["tasks"] if t["stage"] == "training"]
    assert [(t["id"], t["status"], t["done_by"]) for t in training] == [
        ("deliver-training", "done", "rule survey-after-final-call"),
    ]


def test_a_stage_without_tasks_lets_a_rules_move_go_at_once(h: Harness) -> None:
    deal_id = raci_deal(h)
    assert h.stage(deal_id) == "set-up"  # welcome has no tasks: its rule's move was not held
    assert [s["stage"] for s in h.show(deal_id)["stage_history"]] == ["welcome", "set-up"]


def test_a_person_moves_on_past_open_tasks_only_with_a_reason_and_it_is_recorded(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_acme(cfg, capsys)  # in introduction-call: schedule-intro and hold-intro are open
    code, _, err = run(cfg, "deals", "advance", "1", "--stage", "set-up", capsys=capsys)
    assert code == 2
    assert "the tasks of introduction-call are not done: schedule-intro (open), hold-intro (open)" in err
    code, _, err = run(cfg, "deals", "advance", "1", "--stage", "set-up", "--force", capsys=capsys)
    assert code == 2 and '--force needs --reason "why the deal moves on anyway"' in err
    assert as_json(cfg, capsys, "deals", "show", "1")["stage"] == "introduction-call"

    why = "the client had the call with Sales"
    code, out, err = run(
        cfg, "deals", "advance", "1", "--stage", "set-up", "--force", "--reason", why, capsys=capsys
    )
    assert code == 0 and "stage set-up" in out, err
    show = as_json(cfg, capsys, "deals", "show", "1")
    [override] = [e for e in show["events"] if e["kind"] == "gate_overridden"]
    assert override["reason"] == (
        "the command line moved the deal on from introduction-call with tasks not done "
        f"(schedule-intro (open), hold-intro (open)): {why}"
    )
    assert override["details"] == {"reason_given": why, "left_open": ["schedule-intro", "hold-intro"]}
    [moved] = [e for e in show["events"] if e["kind"] == "stage_changed" and e["rule"] == ""]
    assert moved["reason"] == f"introduction-call → set-up: moved by the command line: {why}"


def test_advancing_by_email_past_open_tasks_needs_a_because(harness: Harness) -> None:
    deal_id = harness.add_deal(stage="set-up")
    agent = [("Agent", harness.reply_address(deal_id))]
    harness.mail(CSM, agent, "Re: set-up", "advance to training")
    harness.run()
    assert harness.stage(deal_id) == "set-up"
    [failed] = events(harness, deal_id, "command_failed")
    open_tasks = (
        "receive-set-up-info (open), send-station-details (open), create-entities (open), "
        "create-training-users (open), schedule-training (open)"
    )
    assert f"the tasks of set-up are not done: {open_tasks}" in failed["reason"]
    assert 'write "advance to training because <why>"' in failed["reason"]

    harness.mail(CSM, agent, "Re: set-up", "advance to training because IT set the account up themselves")
    harness.run()
    assert harness.stage(deal_id) == "training"
    [override] = events(harness, deal_id, "gate_overridden")
    assert override["reason"].endswith(": IT set the account up themselves")
    assert override["reason"].startswith("sam@example.com moved the deal on from set-up")


def test_moving_back_is_never_held_by_tasks(harness: Harness) -> None:
    deal_id = harness.add_deal(stage="set-up")
    harness.advance(deal_id, "introduction-call")  # a person moves it back; set-up's tasks are open
    assert harness.stage(deal_id) == "introduction-call"


# --- approval by A -------------------------------------------------------------------------------
def marked_done(h: Harness) -> tuple[int, EmailMessage]:
    """A deal in set-up whose call was held (its move waits), and import-data marked done by the CSM."""
    deal_id = raci_deal(h)
    setup_call_held(h, deal_id)
    assert h.stage(deal_id) == "set-up"  # provision ticked, the move waits for import-data
    h.mail(CSM, [("Agent", h.reply_address(deal_id))], "Acme Radio", "done import-data")
    h.run()
    assert task(h, deal_id, "import-data")["status"] == "awaiting_approval"
    [request] = sent_to(h, "Approve: Import the client's data", MANAGER[1])
    return deal_id, request


def test_a_task_needing_approval_counts_as_done_only_once_its_accountable_person_approves(h: Harness) -> None:
    deal_id, request = marked_done(h)
    text = body(request)
    assert "sam@example.com marked this task of Acme Radio done" in text
    assert "As its Onboarding Manager, you approve it" in text
    assert h.stage(deal_id) == "set-up"  # awaiting approval is not done: the gate holds
    [waiting] = events(h, deal_id, "task_awaiting_approval")
    assert "waits for its Accountable person to approve it: olivia@example.com" in waiting["reason"]

    reply(h, CSM, deal_id, request, "approve")  # not the Accountable person
    h.run()
    assert task(h, deal_id, "import-data")["status"] == "awaiting_approval"
    [refused] = events(h, deal_id, "task_answer_refused")
    assert "sam@example.com answered the approval of task" in refused["reason"]

    reply(h, MANAGER, deal_id, request, "Approved, thanks!\n\nOlivia")
    h.run()
    done = task(h, deal_id, "import-data")
    assert (done["status"], done["approved_by"], done["done_by"]) == ("done", MANAGER[1], CSM[1])
    assert h.stage(deal_id) == "training"  # the last task done: the held move went
    commands = events(h, deal_id, "command") + events(h, deal_id, "command_failed")
    assert [e["reason"] for e in commands] == [
        "'done import-data' from sam@example.com"
    ]  # answers, not commands


def test_a_rejected_task_is_open_again_and_its_responsible_person_is_told_why(h: Harness) -> None:
    deal_id, request = marked_done(h)
    reply(h, MANAGER, deal_id, request, "Reject: the London office's users are missing")
    h.run()
    rejected = task(h, deal_id, "import-data")
    assert (rejected["status"], rejected["rejection"]) == ("open", "the London office's users are missing")
    [notice] = sent_to(h, "Not approved: Import the client's data", CSM[1])
    assert "olivia@example.com did not approve the task" in body(notice)
    assert "the London office's users are missing" in body(notice)
    assert h.stage(deal_id) == "set-up"

    h.mail(CSM, [("Agent", h.reply_address(deal_id))], "Acme Radio", "done import-data")  # fixed: asked again
    h.run()
    assert len(sent_to(h, "Approve: Import the client's data", MANAGER[1])) == 2


def test_an_unclear_answer_decides_nothing_and_is_asked_back(h: Harness) -> None:
    deal_id, request = marked_done(h)
    reply(h, MANAGER, deal_id, request, "Did they include the archived users?")
    h.run()
    assert task(h, deal_id, "import-data")["status"] == "awaiting_approval"
    [unclear] = events(h, deal_id, "task_answer_unclear")
    assert "Did they include the archived users?" in unclear["reason"]
    back = sent_to(h, "Approve: Import the client's data", MANAGER[1])[-1]
    assert back["Message-ID"] != request["Message-ID"]
    assert 'You answered the approval of this task with:\n\n  "Did they include the archived users?"' in body(
        back
    )

    reply(h, MANAGER, deal_id, back, "ok")  # the answer to the question back decides the task
    h.run()
    assert task(h, deal_id, "import-data")["status"] == "done"


def test_the_accountable_person_marking_it_done_approves_it(h: Harness) -> None:
    deal_id = raci_deal(h)
    h.mail(MANAGER, [("Agent", h.reply_address(deal_id))], "Acme Radio", "done import-data")
    h.run()
    done = task(h, deal_id, "import-data")
    assert (done["status"], done["approved_by"]) == ("done", MANAGER[1])
    assert sent_to(h, "Approve:", MANAGER[1]) == []


def test_the_command_line_marks_done_and_approves_a_task(
    h: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    deal_id = raci_deal(h)
    cfg: Path = h.cfg  # type: ignore[attr-defined]
    code, out, _ = run(cfg, "deals", "task-done", str(deal_id), "import-data", capsys=capsys)
    assert code == 0 and "task import-data waits for its Accountable person's approval" in out
    code, out, _ = run(cfg, "deals", "show", str(deal_id), capsys=capsys)
    assert "[?] Import the client's data (R csm, A onboarding_manager) — awaiting approval" in out
    code, _, err = run(cfg, "deals", "approve", str(deal_id), "--task", "provision", capsys=capsys)
    assert code == 2 and "not waiting for approval" in err and "['import-data']" in err
    code, out, _ = run(
        cfg,
        "deals",
        "approve",
        str(deal_id),
        "--task",
        "import-data",
        "--reject",
        "--reason",
        "not yet",
        capsys=capsys,
    )
    assert code == 0 and "task import-data open" in out
    assert task(h, deal_id, "import-data")["rejection"] == "not yet"
    run(cfg, "deals", "task-done", str(deal_id), "import-data", capsys=capsys)
    code, out, _ = run(cfg, "deals", "approve", str(deal_id), "--task", "import-data", capsys=capsys)
    assert code == 0 and "task import-data done" in out


# --- Consulted -----------------------------------------------------------------------------------
def consults(h: Harness) -> list[EmailMessage]:
    return [m for m in h.sent() if m["Subject"].startswith("Your input, please: Import the client's data")]


def test_the_consulted_people_are_asked_once_when_the_task_opens(h: Harness) -> None:
    deal_id = raci_deal(h)
    h.run()
    asked = consults(h)
    assert sorted(m["To"].addresses[0].addr_spec for m in asked) == sorted([ACCOUNT_MANAGER[1], CLIENT[1]])
    assert all(QUESTION in body(m) for m in asked)
    [line] = events(h, deal_id, "consult_asked")
    assert (
        "alex@example.com (account_manager)" in line["reason"] and "jane@acme-radio.example" in line["reason"]
    )
    answers = task(h, deal_id, "import-data")["consulted_answers"]
    assert [(a["email"], a.get("answer", "")) for a in answers] == [(ACCOUNT_MANAGER[1], ""), (CLIENT[1], "")]

    h.advance(deal_id, "welcome")  # back, and on again: the task is the same, and was asked already
    h.advance(deal_id, "set-up")
    h.run()
    assert len(consults(h)) == 2


def test_an_answer_is_recorded_and_quoted_to_the_accountable_person(h: Harness) -> None:
    deal_id = raci_deal(h)
    h.run()
    [to_client] = [m for m in consults(h) if m["To"].addresses[0].addr_spec == CLIENT[1]]
    reply(h, CLIENT, deal_id, to_client, "Our users are in Workday; the interns are in a spreadsheet.")
    h.run()
    [answer] = [a for a in task(h, deal_id, "import-data")["consulted_answers"] if a["email"] == CLIENT[1]]
    assert answer["answer"] == "Our users are in Workday; the interns are in a spreadsheet."
    [line] = events(h, deal_id, "consult_answered")
    assert line["reason"].startswith(
        "jane@acme-radio.example (client_admin) on task 'Import the client's data'"
    )
    assert any(m["from"] == CLIENT[1] for m in h.show(deal_id)["messages"])  # the client's mail, on the deal

    h.mail(CSM, [("Agent", h.reply_address(deal_id))], "Acme Radio", "done import-data")
    h.run()
    [request] = sent_to(h, "Approve: Import the client's data", MANAGER[1])
    text = body(request)
    assert "What the people consulted said:" in text
    assert (
        "Jane Doe (Client administrator):\n    Our users are in Workday; the interns are in a spreadsheet."
        in text
    )
    assert "Asked for their input, no answer yet: Alex Reed (Account Manager)." in text

    [to_am] = [m for m in consults(h) if m["To"].addresses[0].addr_spec == ACCOUNT_MANAGER[1]]
    reply(h, ACCOUNT_MANAGER, deal_id, to_am, "Check the SSO group mapping first.")
    h.run()  # while the decision is open: its maker gets the new answer too
    latest = sent_to(h, "Approve: Import the client's data", MANAGER[1])[-1]
    assert latest["Message-ID"] != request["Message-ID"]
    assert "alex@example.com answered since you were asked" in body(latest)
    assert "Check the SSO group mapping first." in body(latest)


def test_completion_does_not_wait_for_the_consulted_and_a_late_answer_is_still_recorded(h: Harness) -> None:
    deal_id = raci_deal(h)
    h.run()
    h.mail(MANAGER, [("Agent", h.reply_address(deal_id))], "Acme Radio", "done import-data")
    h.run()
    assert task(h, deal_id, "import-data")["status"] == "done"  # nobody had answered
    [to_am] = [m for m in consults(h) if m["To"].addresses[0].addr_spec == ACCOUNT_MANAGER[1]]
    reply(h, ACCOUNT_MANAGER, deal_id, to_am, "Fine by me.")
    h.run()
    [line] = events(h, deal_id, "consult_answered")
    assert line["reason"].endswith("Fine by me.; task is done already")


def test_an_out_of_office_or_a_stranger_answers_no_consultation(h: Harness) -> None:
    deal_id = raci_deal(h)
    h.run()
    [to_client] = [m for m in consults(h) if m["To"].addresses[0].addr_spec == CLIENT[1]]
    h.mail(
        CLIENT,
        [("Agent", h.reply_address(deal_id))],
        f"Automatic reply: {to_client['Subject']}",
        "I am out of the office until Monday.",
        headers={"In-Reply-To": to_client["Message-ID"], "Auto-Submitted": "auto-replied"},
    )
    reply(h, ("Bob Other", "bob@acme-radio.example"), deal_id, to_client, "Ask Jane.")
    h.run()
    assert all(not a.get("answer") for a in task(h, deal_id, "import-data")["consulted_answers"])
    assert events(h, deal_id, "consult_answered") == []


def test_an_approval_request_is_held_by_no_daily_cap(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "raci-test.yaml").write_text(RACI_PIPELINE, encoding="utf-8")
    cfg = write_config(tmp_path / "agent")
    text = cfg.read_text().replace(f'rules = "{ROOT / "rules"}"', f'rules = "{rules}"')
    cfg.write_text(text.replace("[agent]\n", "[agent]\nmax_emails_per_deal_per_day = 1\n"))
    h = Harness(load_config(cfg), ManualClock(MONDAY))
    deal_id = raci_deal(h)
    h.run()  # the day's one email of ours on the deal: the consultation of the Account Manager
    assert sent_to(h, "Your input, please", ACCOUNT_MANAGER[1])
    h.mail(CSM, [("Agent", h.reply_address(deal_id))], "Acme Radio", "done import-data")
    h.run()
    assert sent_to(h, "Approve: Import the client's data", MANAGER[1])  # a person waits on it: it goes
