"""Client-side tasks are real tasks: emailed to the contact in the role, reminded, done by a reply."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from agent.deals import ContactSpec
from tests.conftest import CLIENT, CSM, Harness
from tests.integration.task_world import events, opt_out, task, text, to, world

PIPELINE = """
reminders: {before_due: 1 business day, escalate_after: 1 business day}
stages:
  - id: set-up
    name: Set-Up
    tasks:
      - {id: user-list, title: Send us the list of users, R: client_admin, A: csm, due: 3 business days}
  - {id: live, name: Live, end: true}
rules:
  - id: users-in
    when: {stage_tasks_done: set-up}
    then:
      - {advance: live}
"""
MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
WEDNESDAY = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
SPONSOR = ("Bob Stone", "bob@acme-radio.example")


def handed_over(tmp_path: Path) -> tuple[Harness, int]:
    h = world(tmp_path, PIPELINE, MONDAY)
    contacts = [
        ContactSpec(CLIENT[0], CLIENT[1], "client_admin"),
        ContactSpec(SPONSOR[0], SPONSOR[1], "client_sponsor"),
    ]
    deal = h.add_deal(pipeline="timing", contacts=contacts)
    h.run()
    return h, deal


def reply(h: Harness, sender: tuple[str, str], to_email: EmailMessage, body: str) -> None:
    """A reply in the thread of the agent's email, to the deal's address (its Reply-To)."""
    parent = str(to_email["Message-ID"])
    h.mail(
        sender,
        [("Onboarding", str(to_email["Reply-To"].addresses[0].addr_spec))],
        f"Re: {to_email['Subject']}",
        f"{body}\n\nOn Monday, Onboarding wrote:\n> {text(to_email).splitlines()[0]}",
        headers={"In-Reply-To": parent, "References": parent},
    )
    h.run()


def test_the_client_contact_in_the_role_is_emailed_reminded_and_marks_it_done_by_replying(
    tmp_path: Path,
) -> None:
    h, deal = handed_over(tmp_path)
    [given] = to(h, CLIENT[1], "For you: Send us the list of users (by Thursday 3 December)")
    assert [a.addr_spec for a in given["Cc"].addresses] == [CSM[1]]  # the CSM sees what was asked
    assert to(h, SPONSOR[1]) == []  # only the role's contacts
    assert "Send us the list of users\n  Due: Thursday 3 December" in text(given)
    assert 'just reply "done" to this email' in text(given)
    h.at(WEDNESDAY)
    h.run()
    [reminder] = to(h, CLIENT[1], "Reminder: Send us the list of users is due Thursday 3 December")
    h.at(datetime(2026, 12, 2, 11, 0, tzinfo=UTC))
    reply(h, CLIENT, reminder, "Done, thanks!\n\nJane")
    assert task(h, deal, "user-list")["status"] == "done"
    assert h.stage(deal) == "live"  # the rules saw it: the stage's tasks are done
    assert any("replying to the task-reminder email" in r for r in events(h, deal, "task_completed"))
    h.at(datetime(2026, 12, 4, 9, 0, tzinfo=UTC))
    h.run()
    assert to(h, CSM[1], "overdue") == []  # done in time: no escalation


def test_done_in_german_or_french_to_the_task_email_itself(tmp_path: Path) -> None:
    for n, words in enumerate(["Erledigt.", "C'est fait, merci"]):
        h, deal = handed_over(tmp_path / str(n))
        [given] = to(h, CLIENT[1], "For you")
        reply(h, CLIENT, given, words)
        assert task(h, deal, "user-list")["status"] == "done", words


def test_a_reply_that_says_more_than_done_leaves_it_open_and_reaches_the_csm(tmp_path: Path) -> None:
    h, deal = handed_over(tmp_path)
    [given] = to(h, CLIENT[1], "For you")
    reply(h, CLIENT, given, "Done, but three users are missing from the export.")
    assert task(h, deal, "user-list")["status"] == "open"
    [forward] = to(h, CSM[1], "Re: For you")  # the client's words, for the CSM to read
    assert "three users are missing" in text(forward)
    reply(h, CLIENT, given, "Is it done?")
    assert task(h, deal, "user-list")["status"] == "open"


def test_only_a_contact_it_was_asked_of_may_say_done(tmp_path: Path) -> None:
    h, deal = handed_over(tmp_path)
    [given] = to(h, CLIENT[1], "For you")
    reply(h, SPONSOR, given, "Done.")  # a colleague on the thread is not the one asked
    assert task(h, deal, "user-list")["status"] == "open"
    [forward] = to(h, CSM[1], "Re: For you")  # their word reaches the CSM, who may tick it
    assert "Bob Stone (bob@acme-radio.example) wrote about Acme Radio" in text(forward)


def test_done_in_reply_to_an_email_that_gives_no_task_marks_nothing(tmp_path: Path) -> None:
    h, deal = handed_over(tmp_path)
    h.at(WEDNESDAY)
    h.run()
    h.at(datetime(2026, 12, 4, 9, 0, tzinfo=UTC))  # Friday: the CSM (A) hears it is overdue
    h.run()
    [escalation] = to(h, CSM[1], "overdue")
    reply(h, CLIENT, escalation, "Done")  # not an email to the client: answers no task of theirs
    assert task(h, deal, "user-list")["status"] == "open"


def test_a_contact_who_opted_out_is_not_emailed_the_task_and_the_csm_is_told(tmp_path: Path) -> None:
    h = world(tmp_path, PIPELINE, MONDAY)
    opt_out(h, CLIENT[1], MONDAY)
    deal = h.add_deal(pipeline="timing")
    h.run()
    assert to(h, CLIENT[1]) == []
    [notice] = to(h, CSM[1], "the client's task 'Send us the list of users' was not emailed")
    assert "jane@acme-radio.example) opted out of email" in text(notice)
    assert "done user-list" in text(notice)
    h.at(WEDNESDAY)
    h.run()
    assert to(h, CLIENT[1]) == []  # no reminder either
    [told] = to(h, CSM[1], "'Send us the list of users' is due Thursday 3 December")
    assert "The agent did not remind them" in text(told)
    assert task(h, deal, "user-list")["status"] == "open"


def test_a_role_no_contact_fills_is_the_csms_to_hand_over(tmp_path: Path) -> None:
    h = world(tmp_path, PIPELINE, MONDAY)
    h.add_deal(pipeline="timing", contacts=[ContactSpec(SPONSOR[0], SPONSOR[1], "client_sponsor")])
    h.run()
    assert to(h, SPONSOR[1]) == []
    [notice] = to(h, CSM[1], "was not emailed")
    assert "no contact of the deal is its Client administrator" in text(notice)


def test_a_task_the_client_answers_for_is_escalated_to_the_csm_not_to_the_client(tmp_path: Path) -> None:
    own = PIPELINE.replace("R: client_admin, A: csm", "R: client_admin, A: client_admin")
    h = world(tmp_path, own, MONDAY)
    h.add_deal(pipeline="timing")
    h.run()
    h.at(WEDNESDAY)
    h.run()
    h.at(datetime(2026, 12, 4, 9, 0, tzinfo=UTC))  # Friday: a business day after Thursday's due date
    h.run()
    assert [str(m["Subject"]).split(" [ref")[0] for m in to(h, CLIENT[1])] == [
        "For you: Send us the list of users (by Thursday 3 December)",
        "Reminder: Send us the list of users is due Thursday 3 December",
    ]
    [escalation] = to(h, CSM[1], "overdue")
    assert "You get this because the Accountable role, Client administrator, is the client's." in text(
        escalation
    )
