"""Reminders before a task's due date and escalations after it: once each, in the reader's business
hours, across weekends, public holidays (the `holidays` package, per team or deal) and time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from agent.deals import ContactSpec
from tests.conftest import CLIENT, CSM, MANAGER
from tests.integration.task_world import events, task, text, to, world

OURS = """
reminders: {before_due: 1 business day, escalate_after: 1 business day}
stages:
  - id: set-up
    name: Set-Up
    tasks:
      - {id: provision, title: Provision the account, R: csm, A: onboarding_manager, due: 3 business days}
  - {id: live, name: Live, end: true}
"""
BOTH = """
reminders: {before_due: 1 business day, escalate_after: 1 business day}
stages:
  - id: set-up
    name: Set-Up
    tasks:
      - {id: provision, title: Provision the account, R: csm, A: onboarding_manager, due: 4 business days}
      - {id: user-list, title: Send us the list of users, R: client_admin, A: csm, due: 4 business days}
  - {id: live, name: Live, end: true}
"""
CLIENTS = """
reminders: {before_due: 1 business day, escalate_after: 1 business day}
stages:
  - id: set-up
    name: Set-Up
    tasks:
      - {id: user-list, title: Send us the list of users, R: client_admin, A: csm, due: 3 business days}
  - {id: live, name: Live, end: true}
"""
DEE = ("Dee Brandt", "dee@delta-dairy.example")


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_reminder_before_the_weekend_and_an_escalation_after_it_each_once(tmp_path: Path) -> None:
    h = world(tmp_path, OURS, utc(2026, 12, 2, 9, 0))  # Wednesday; London is on UTC in December
    deal = h.add_deal(pipeline="timing")
    h.run()
    assert task(h, deal, "provision")["due_at"] == "2026-12-07T09:00:00+00:00"  # Monday: the weekend skipped
    h.at(utc(2026, 12, 4, 8, 59))  # Friday, a minute before
    h.run()
    assert to(h, CSM[1], "Reminder") == []
    h.at(utc(2026, 12, 4, 9, 0))  # one business day before Monday 09:00
    h.run()
    h.run()
    [reminder] = to(h, CSM[1], "Reminder")
    assert str(reminder["Subject"]).startswith("Reminder: Provision the account is due Monday 7 December")
    assert 'reply to this email with "done provision"' in text(reminder)
    for day in (5, 6, 7):  # Saturday, Sunday, and Monday, when it is due
        h.at(utc(2026, 12, day, 12, 0))
        h.run()
    assert to(h, MANAGER[1], "overdue") == []
    h.at(utc(2026, 12, 8, 8, 59))
    h.run()
    assert to(h, MANAGER[1], "overdue") == []
    h.at(utc(2026, 12, 8, 9, 0))  # Tuesday: one business day after it was due, and still open
    h.run()
    [escalation] = to(h, MANAGER[1], "overdue")
    assert "Provision the account" in str(escalation["Subject"])
    assert "was due Monday 7 December and is still open" in text(escalation)
    assert "Responsible: Customer Success Manager, Sam Carter (sam@example.com)" in text(escalation)
    h.at(utc(2026, 12, 15, 9, 0))
    h.run()
    assert len(to(h, CSM[1], "Reminder")) == 1 and len(to(h, MANAGER[1], "overdue")) == 1
    assert len(events(h, deal, "task_reminded")) == 1 and len(events(h, deal, "task_escalated")) == 1


def test_public_holidays_of_the_team_and_of_the_deal_are_no_business_days(tmp_path: Path) -> None:
    # [agent] country = "GB": 25 December, and Boxing Day observed on Monday 28, are not business
    # days for our people and for a deal with no country; a deal in Germany works on the 28th.
    h = world(tmp_path, BOTH, utc(2026, 12, 21, 10, 0))  # Monday
    uk = h.add_deal(pipeline="timing")
    de = h.add_deal(
        "Delta Dairy",
        pipeline="timing",
        contacts=[ContactSpec(DEE[0], DEE[1], "client_admin")],
        timezone="Europe/Berlin",
        attributes={"country": "DE"},
    )
    h.run()
    assert task(h, uk, "provision")["due_at"] == "2026-12-29T10:00:00+00:00"  # 22, 23, 24, 29
    assert task(h, uk, "user-list")["due_at"] == "2026-12-29T10:00:00+00:00"
    assert task(h, de, "user-list")["due_at"] == "2026-12-28T10:00:00+00:00"  # 22, 23, 24, 28 in Berlin
    assert [str(m["Subject"]) for m in to(h, DEE[1])] == [
        "For you: Send us the list of users (by Monday 28 December) [ref:" + h.show(de)["token"] + "]"
    ]
    h.at(utc(2026, 12, 24, 9, 59))  # Thursday
    h.run()
    assert to(h, CSM[1], "Reminder") == [] and to(h, CLIENT[1], "Reminder") == []
    h.at(utc(2026, 12, 24, 10, 0))  # the last business day before the holidays
    h.run()
    assert len(to(h, CSM[1], "Reminder: Provision the account is due Tuesday 29 December")) == 2
    assert len(to(h, CLIENT[1], "Reminder: Send us the list of users is due Tuesday 29 December")) == 1
    assert len(to(h, DEE[1], "Reminder: Send us the list of users is due Monday 28 December")) == 1
    h.at(utc(2026, 12, 28, 12, 0))  # Boxing Day observed: our CSM is not told on a holiday of theirs
    h.run()
    assert to(h, CSM[1], "overdue") == []
    h.at(utc(2026, 12, 29, 10, 0))  # one of the CSM's business days after the German due date
    h.run()
    [late] = to(h, CSM[1], "overdue")
    assert "Delta Dairy" in str(late["Subject"]) and "Responsible: Client administrator, Dee Brandt" in text(
        late
    )
    h.at(utc(2026, 12, 30, 10, 0))
    h.run()
    assert len(to(h, MANAGER[1], "overdue since Tuesday 29 December: Provision the account")) == 2
    assert len(to(h, CSM[1], "overdue")) == 2  # and the UK deal's client task, A: csm


def test_a_client_in_another_time_zone_is_reached_in_their_business_hours(tmp_path: Path) -> None:
    h = world(tmp_path, CLIENTS, utc(2026, 11, 30, 9, 0))  # Monday 09:00 in London, 04:00 in New York
    deal = h.add_deal(pipeline="timing", timezone="America/New_York")
    h.run()
    assert task(h, deal, "user-list")["due_at"] == "2026-12-03T09:00:00+00:00"  # Thursday 04:00 New York
    assert to(h, CLIENT[1]) == []  # the client's night: the task waits for their morning
    h.at(utc(2026, 11, 30, 14, 0))  # 09:00 in New York
    h.run()
    [given] = to(h, CLIENT[1], "For you: Send us the list of users")
    assert "Due: Thursday 3 December" in text(given)
    h.at(utc(2026, 12, 2, 9, 0))  # Wednesday, 09:00 in London: still night in New York
    h.run()
    h.at(utc(2026, 12, 2, 13, 59))
    h.run()
    assert to(h, CLIENT[1], "Reminder") == []
    h.at(utc(2026, 12, 2, 14, 0))  # Wednesday 09:00 New York: a business day before, in their hours
    h.run()
    [reminder] = to(h, CLIENT[1], "Reminder")
    assert "Send us the list of users" in str(reminder["Subject"])
    assert 'just reply "done" to this email' in text(reminder)
    h.at(utc(2026, 12, 4, 8, 59))
    h.run()
    assert to(h, CSM[1], "overdue") == []
    h.at(utc(2026, 12, 4, 9, 0))  # the Accountable CSM is in London: Friday 09:00 there
    h.run()
    assert len(to(h, CSM[1], "overdue")) == 1


def test_a_reminder_that_fell_in_downtime_is_not_sent_after_the_due_date(tmp_path: Path) -> None:
    h = world(tmp_path, OURS, utc(2026, 12, 2, 9, 0))
    deal = h.add_deal(pipeline="timing")
    h.run()
    h.at(utc(2026, 12, 5, 3, 0))  # the agent was down from Wednesday until Saturday night
    h.run()
    h.at(utc(2026, 12, 7, 9, 0))  # its reminder waited for the CSM's hours: Monday 09:00, the due time
    h.run()
    assert to(h, CSM[1], "Reminder") == []
    assert events(h, deal, "task_reminder_skipped")
    h.at(utc(2026, 12, 8, 9, 0))
    h.run()
    assert len(to(h, MANAGER[1], "overdue")) == 1


def test_a_task_done_in_time_gets_neither(tmp_path: Path) -> None:
    h = world(tmp_path, OURS, utc(2026, 12, 2, 9, 0))
    deal = h.add_deal(pipeline="timing")
    h.run()
    h.at(utc(2026, 12, 3, 15, 0))
    h.task_done(deal, "provision")
    for day in (4, 7, 8, 9):
        h.at(utc(2026, 12, day, 10, 0))
        h.run()
    assert to(h, CSM[1], "Reminder") == [] and to(h, MANAGER[1], "overdue") == []


def test_a_csm_ticks_the_task_by_replying_done_to_the_reminder(tmp_path: Path) -> None:
    h = world(tmp_path, OURS, utc(2026, 12, 2, 9, 0))
    deal = h.add_deal(pipeline="timing")
    h.run()
    h.at(utc(2026, 12, 4, 9, 0))
    h.run()
    [reminder] = to(h, CSM[1], "Reminder")
    h.at(utc(2026, 12, 4, 11, 0))
    h.mail(
        CSM,
        [("Onboarding", h.reply_address(deal))],
        f"Re: {reminder['Subject']}",
        "done provision",
        headers={"In-Reply-To": str(reminder["Message-ID"]), "References": str(reminder["Message-ID"])},
    )
    h.run()
    assert task(h, deal, "provision")["status"] == "done"


DUES = """
reminders: {before_due: 1 business day}
stages:
  - id: set-up
    name: Set-Up
    tasks:
      - id: sign
        title: Sign the order form
        R: csm
        A: onboarding_manager
        due: {after: contract_start, in: 5 business days}
      - {id: user-list, title: Get the user list, R: csm, A: onboarding_manager, due: 1 business day}
      - id: import-users
        title: Import the users
        R: csm
        A: onboarding_manager
        due: {after: user-list, in: 2 business days}
  - {id: live, name: Live, end: true}
"""


def test_due_dates_count_from_the_contract_start_or_from_the_task_before(tmp_path: Path) -> None:
    h = world(tmp_path, DUES, utc(2026, 11, 30, 9, 0))  # Monday
    deal = h.add_deal(pipeline="timing", contract_start=date(2026, 12, 1))
    unsigned = h.add_deal(
        "Delta Dairy", pipeline="timing", contacts=[ContactSpec(DEE[0], DEE[1], "client_admin")]
    )
    h.run()
    # five business days after the close of business on the contract's first day (Tuesday 17:00)
    assert task(h, deal, "sign")["due_at"] == "2026-12-08T17:00:00+00:00"
    assert task(h, deal, "import-users")["due_at"] is None  # waits for the user list
    assert task(h, unsigned, "sign")["due_at"] is None
    assert events(h, unsigned, "task_due_unknown") == [
        "task 'Sign the order form' is due 5 business days after the contract start, and the deal has no "
        "contract start: it has no due date"
    ]
    h.at(utc(2026, 12, 3, 11, 0))  # Thursday: the user list came in
    h.task_done(deal, "user-list")
    assert task(h, deal, "import-users")["due_at"] == "2026-12-07T11:00:00+00:00"  # Friday, Monday
    h.at(utc(2026, 12, 4, 11, 0))  # and it is reminded like any task with a due date
    h.run()
    assert len(to(h, CSM[1], "Reminder: Import the users is due Monday 7 December")) == 1


CALLS = """
reminders: {before_due: 1 business day}
stages:
  - id: set-up
    name: Set-Up
    meetings:
      setup-call: {title: ['set-?up']}
  - {id: live, name: Live, end: true}
rules:
  - id: recap-after-setup
    when: {meeting_completed: setup-call}
    then:
      - {send: recap, to: [client_contacts], cc: [csm]}
"""


def test_an_action_item_from_the_csms_note_is_reminded_like_any_task(tmp_path: Path) -> None:
    # The recap waits for the CSM's review, so their note opens the action item without any rule firing.
    h = world(tmp_path, CALLS, utc(2026, 11, 30, 9, 0), review="recap")
    deal = h.add_deal(pipeline="timing")
    h.meeting("setup", "Acme Radio set-up call", utc(2026, 11, 30, 10, 0), attendees=(CLIENT[1],))
    h.run()
    h.at(utc(2026, 11, 30, 11, 0))
    h.run()
    assert [e["status"] for e in h.show(deal)["emails"] if e["template"] == "recap"] == ["review"]
    h.at(utc(2026, 11, 30, 11, 30))
    h.mail(
        CSM, [("Agent", h.reply_address(deal))], "Notes", "Action: Sam to share the training plan by Thursday"
    )
    h.run()
    [item] = [t for t in h.show(deal)["tasks"] if str(t["id"]).startswith("action-")]
    assert item["due_at"] == "2026-12-04T00:00:00+00:00"  # all of Thursday
    h.at(utc(2026, 12, 3, 8, 59))
    h.run()
    assert to(h, CSM[1], "Reminder") == []
    h.at(utc(2026, 12, 3, 9, 0))  # the day before the day ends: Thursday's opening
    h.run()
    [reminder] = to(h, CSM[1], "Reminder")
    assert str(reminder["Subject"]).startswith(
        "Reminder: Share the training plan (Sam Carter) is due Thursday 3 December"
    )
