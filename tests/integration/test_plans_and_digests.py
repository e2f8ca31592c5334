"""The Informed people's digest of a deal and the client's weekly plan, at the pipeline's cadence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.deals import ContactSpec
from tests.conftest import ACCOUNT_MANAGER, CLIENT, CSM, MANAGER, Harness
from tests.integration.task_world import events, opt_out, text, to, world

PIPELINE = """
informed: {every: 1 week}
client_plan: {every: 1 week, to: [client_admin]}
stages:
  - id: set-up
    name: Set-Up
    tasks:
      - {id: provision, title: Provision the account, R: csm, A: onboarding_manager, I: [account_manager]}
      - {id: user-list, title: Send us the list of users, R: client_admin, A: csm, I: [account_manager],
         due: 3 business days}
  - id: training
    name: Training
    tasks:
      - {id: train, title: Train the admins, R: csm, A: onboarding_manager, C: [client_admin], I: [account_manager]}
  - {id: live, name: Live, end: true}
rules:
  - id: setup-done
    when: {stage_tasks_done: set-up}
    then: [{advance: training}]
  - id: training-done
    when: {stage_tasks_done: training}
    then: [{advance: live}]
"""
QUIET = """
client_plan: {every: 1 week}
stages:
  - id: set-up
    name: Set-Up
    tasks:
      - {id: provision, title: Provision the account, R: csm, A: onboarding_manager}
  - {id: live, name: Live, end: true}
"""
MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SPONSOR = ("Bob Stone", "bob@acme-radio.example")
DIGEST = "what happened since"
PLAN = "Your onboarding plan"


def day(n: int, hour: int = 9, minute: int = 0) -> datetime:
    """The n-th day after Monday 30 November 2026, at that time (UTC, London's time in winter)."""
    return MONDAY.replace(hour=hour, minute=minute) + timedelta(days=n)


def handed_over(tmp_path: Path, pipeline: str = PIPELINE) -> tuple[Harness, int]:
    h = world(tmp_path, pipeline, MONDAY)
    contacts = [
        ContactSpec(CLIENT[0], CLIENT[1], "client_admin"),
        ContactSpec(SPONSOR[0], SPONSOR[1], "client_sponsor"),
    ]
    deal = h.add_deal(pipeline="timing", contacts=contacts)
    h.run()
    return h, deal


def test_each_informed_person_gets_the_weeks_stage_changes_and_tasks_done(tmp_path: Path) -> None:
    h, deal = handed_over(tmp_path)
    h.at(day(1, 10))
    h.task_done(deal, "provision")
    h.at(day(2, 10))
    h.task_done(deal, "user-list")
    assert h.stage(deal) == "training"
    h.at(day(7, 8, 59))  # a week after the hand-over, a minute before opening time
    h.run()
    assert to(h, ACCOUNT_MANAGER[1], DIGEST) == []
    h.at(day(7))
    h.run()
    h.run()
    [digest] = to(h, ACCOUNT_MANAGER[1], DIGEST)
    assert str(digest["Subject"]).startswith("[agent] Acme Radio: what happened since Monday 30 November")
    body = text(digest)
    assert "Stages entered:\n  - Training (Wednesday 2 December)" in body
    assert "  - Provision the account (Tuesday 1 December)" in body
    assert "  - Send us the list of users (Wednesday 2 December)" in body
    assert to(h, CSM[1], DIGEST) == [] and to(h, CLIENT[1], DIGEST) == []  # only the Informed
    h.at(day(14))  # a week with nothing new: nothing sent
    h.run()
    assert len(to(h, ACCOUNT_MANAGER[1], DIGEST)) == 1
    assert events(h, deal, "informed_digest_skipped")
    h.at(day(15, 10))
    h.task_done(deal, "train")  # the deal is won: its last digest tells it, and the series ends
    h.at(day(21))
    h.run()
    last = to(h, ACCOUNT_MANAGER[1], DIGEST)[-1]
    assert "what happened since Monday 14 December" in str(last["Subject"])
    assert "  - Live (Tuesday 15 December)" in text(last) and "  - Train the admins" in text(last)
    h.at(day(28))
    h.run()
    h.at(day(35))
    h.run()
    assert len(to(h, ACCOUNT_MANAGER[1], DIGEST)) == 2


def test_the_client_gets_their_open_tasks_the_next_call_and_what_was_done(tmp_path: Path) -> None:
    h, deal = handed_over(tmp_path)
    h.meeting("setup", "Acme Radio set-up call", day(1, 10), attendees=(CLIENT[1],))
    h.meeting("training", "Acme Radio admin training", day(10, 14), attendees=(CLIENT[1],))
    h.run()
    h.at(day(1, 11))  # the set-up call was held
    h.run()
    h.task_done(deal, "provision")  # ours alone: not the client's news
    h.at(day(7, 8, 59))
    h.run()
    assert to(h, CLIENT[1], PLAN) == []
    h.at(day(7))
    h.run()
    [plan] = to(h, CLIENT[1], PLAN)
    assert to(h, SPONSOR[1], PLAN) == []  # `to: [client_admin]`: the main contact only
    body = text(plan)
    assert "Open on your side:\n  - Send us the list of users (Jane Doe): was due Thursday 3 December" in body
    assert "Our next call: Acme Radio admin training, Thursday 10 December at 14:00 (Europe/London)." in body
    assert "Done since Monday 30 November:\n  - Acme Radio set-up call (Tuesday 1 December)" in body
    assert "Provision the account" not in body
    h.at(day(8, 10))
    h.task_done(deal, "user-list")
    h.at(day(9, 10))
    h.task_done(deal, "train")
    assert h.stage(deal) == "live"
    h.at(day(14))  # the deal is won: no plan any more
    h.run()
    assert len(to(h, CLIENT[1], PLAN)) == 1
    assert events(h, deal, "client_plan_stopped")
    h.at(day(21))
    h.run()
    assert len(to(h, CLIENT[1], PLAN)) == 1


def test_no_plan_for_a_contact_who_opted_out(tmp_path: Path) -> None:
    h, deal = handed_over(tmp_path)
    opt_out(h, CLIENT[1], day(2))
    h.at(day(7))
    h.run()
    assert to(h, CLIENT[1], PLAN) == [] and to(h, SPONSOR[1], PLAN) == []
    assert any(
        "never goes to Jane Doe (jane@acme-radio.example)" in r
        for r in events(h, deal, "recipient_opted_out")
    )
    assert events(h, deal, "client_plan_skipped") == [
        "none of client_admin can be written to (since 2026-11-30T09:00:00+00:00)"
    ]


def test_a_week_with_nothing_to_say_sends_no_plan(tmp_path: Path) -> None:
    h, deal = handed_over(tmp_path, QUIET)
    h.at(day(7))
    h.run()
    assert to(h, CLIENT[1], PLAN) == []
    assert events(h, deal, "client_plan_skipped") == ["nothing to say (since 2026-11-30T09:00:00+00:00)"]
    assert to(h, MANAGER[1]) == []


def test_the_plan_reaches_a_client_abroad_in_their_morning(tmp_path: Path) -> None:
    h = world(tmp_path, PIPELINE, MONDAY)
    h.add_deal(pipeline="timing", timezone="America/New_York")
    h.run()
    h.at(day(7))  # 09:00 in London, 04:00 in New York
    h.run()
    assert to(h, CLIENT[1], PLAN) == []
    h.at(day(7, 14))  # 09:00 in New York
    h.run()
    assert len(to(h, CLIENT[1], PLAN)) == 1
