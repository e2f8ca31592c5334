"""What a recap says (issue 18, item 6): worth reading, and nothing a stranger could join the call with.

Meetings come in as calendar objects whose description is a real provider's invitation body
(tests/data/invitations, and the Finnish Teams invitation of the shared corpus); attendees
carry the names their invitations give them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import icalendar
import pytest

from agent.clock import ManualClock
from agent.config import load_config
from tests.conftest import CLIENT, CSM, MANAGER, Harness, write_config
from tests.invitations import PROVIDERS, corpus_teams_description, invitation

INTRO_AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # a Tuesday
AGENT = ("Agent", "onboarding@example.com")
BOB = "bob@acme-radio.example"
# anything that lets a stranger into the call
CONFERENCING = re.compile(
    r"zoom\.us|teams\.microsoft|microsoft-teams|meet\.google|tel\.meet|webex|aka\.ms|lync|tel:|"
    r"passcode|password|\bpin\b|meeting id|conference id|meeting number|access code|"
    r"\+\s?\d[\d\s-]{7,}|\d,,\d|\d+\.\d+\.\d+\.\d+|join",
    re.IGNORECASE,
)


def invite(
    h: Harness,
    description: str,
    *,
    attendees: tuple[tuple[str, str], ...] = (("Doe, Jane", CLIENT[1]),),
    start: datetime = INTRO_AT,
) -> None:
    """The introduction call as the CSM's calendar holds it: organiser and attendees with their names."""
    event = icalendar.Event()
    event.add("uid", "intro@example.com")
    event.add("summary", "Acme Radio introduction call")
    event.add("description", description)
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=45))
    event.add("dtstamp", h.clock.now())
    event.add("sequence", 0)
    organizer = icalendar.vCalAddress(f"mailto:{CSM[1]}")
    organizer.params["cn"] = icalendar.vText(CSM[0])
    event.add("organizer", organizer)
    for name, email in attendees:
        address = icalendar.vCalAddress(f"mailto:{email}")
        if name:
            address.params["cn"] = icalendar.vText(name)
        event.add("attendee", address)
    cal = icalendar.Calendar()
    cal.add("prodid", "-//csm-agent tests//EN")
    cal.add("version", "2.0")
    cal.add_component(event)
    h.config.ics_path.mkdir(parents=True, exist_ok=True)
    (h.config.ics_path / "intro.ics").write_bytes(cal.to_ical())


def text(msg: EmailMessage) -> str:
    return str(msg.get_body(("plain",)).get_content()).replace("\r\n", "\n")  # type: ignore[union-attr]


def html(msg: EmailMessage) -> str:
    return str(msg.get_body(("html",)).get_content())  # type: ignore[union-attr]


def recap_of(h: Harness) -> EmailMessage:
    [recap] = [msg for msg in h.sent() if msg["Subject"].startswith("Recap:")]
    return recap


def to_client(h: Harness) -> list[EmailMessage]:
    return [msg for msg in h.sent() if CLIENT[1] in str(msg["To"])]


def held(h: Harness) -> None:
    """The agent reads the calendar, then the call is over and counts as held."""
    h.run()
    h.at(INTRO_AT + timedelta(hours=1))
    h.run()


def reviewing(tmp_path: Path) -> Harness:
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace("[review]\ntemplates = []", '[review]\ntemplates = ["recap"]'))
    return Harness(load_config(cfg), ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)))


def answer_review(h: Harness, reply: str) -> None:
    [request] = [msg for msg in h.sent() if "Review before it goes" in msg["Subject"]]
    h.mail(
        CSM,
        [AGENT],
        f"Re: {request['Subject']}",
        reply,
        headers={"In-Reply-To": request["Message-ID"], "References": request["Message-ID"]},
    )
    h.run()


# --- the invitation's conferencing text -------------------------------------------------------
@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_join_link_id_passcode_or_dial_in_reaches_the_client(harness: Harness, provider: str) -> None:
    body = invitation(provider)
    assert CONFERENCING.search(body)
    harness.add_deal()
    invite(harness, body)
    held(harness)
    recap = recap_of(harness)
    assert "Agenda:\nYour goals, the timeline and who does what.\n" in text(recap)
    for msg in to_client(harness):  # the intro and the recap
        for part in (text(msg), html(msg)):
            assert not CONFERENCING.search(part), CONFERENCING.search(part)


def test_a_teams_invitation_in_another_language_leaves_nothing_of_itself(harness: Harness) -> None:
    harness.add_deal()
    invite(harness, "We agree goals and dates.\n" + corpus_teams_description())
    held(harness)
    recap = text(recap_of(harness))
    assert "Agenda:\nWe agree goals and dates.\n" in recap
    assert "Liity" not in recap and "Microsoft Teams" not in recap and "teams.microsoft" not in recap


def test_an_invitation_with_nothing_else_gives_no_agenda(harness: Harness) -> None:
    zoom = invitation("zoom").split("\n", 2)[2]  # the agenda line off
    harness.add_deal()
    invite(harness, zoom)
    held(harness)
    recap = recap_of(harness)
    assert "Agenda" not in text(recap) and "Agenda" not in html(recap)
    assert not CONFERENCING.search(text(recap)) and "What we agreed" not in text(recap)


# --- who was there --------------------------------------------------------------------------
def test_attendees_by_name_with_the_csm_and_never_the_agent(harness: Harness) -> None:
    deal_id = harness.add_deal()
    attendees = (
        ("Doe, Jane", CLIENT[1]),  # Outlook's "Last, First": the deal's own name for her wins
        ("", BOB),  # nobody knows his name: his address, not "bob"
        ("Onboarding Team", AGENT[1]),
        ("", harness.reply_address(deal_id)),  # the agent's plus-address is the agent too
    )
    invite(harness, "Goals and dates.", attendees=attendees)
    held(harness)
    recap = recap_of(harness)
    assert f"Attendees: {CSM[0]}, {CLIENT[0]}, {BOB}\n" in text(recap)
    assert f"<td>{CSM[0]}, {CLIENT[0]}, {BOB}</td>" in html(recap)
    assert "onboarding" not in text(recap).split("Attendees:")[1].split("\n")[0].lower()


# --- the CSM's notes and what was agreed ----------------------------------------------------
NOTE = (
    "Jane confirmed 200 seats.\n"
    "Action: Jane to send the user list by Friday\n"
    "TODO @Sam share the training plan\n"
)


def test_a_note_sent_while_the_recap_waits_for_review_is_in_it_with_its_next_steps(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    deal_id = h.add_deal()
    invite(h, "Goals and dates.")
    held(h)  # the recap's draft waits for the CSM; the review request has gone
    assert [e["status"] for e in h.show(deal_id)["emails"] if e["template"] == "recap"] == ["review"]
    h.at(INTRO_AT + timedelta(hours=2))
    h.mail(CSM, [("Agent", h.reply_address(deal_id))], "Notes: Acme Radio intro", NOTE)
    h.run()
    answer_review(h, "send")
    recap = text(recap_of(h))
    assert "Notes from the call:\nJane confirmed 200 seats.\n" in recap
    assert (
        "Next steps:\n- Send the user list (Jane Doe, by Friday 4 December)\n"
        "- Share the training plan (Sam Carter)\n" in recap
    )
    assert "Action:" not in recap and "TODO" not in recap  # said once, as next steps
    assert "We set up your account" not in recap  # the stage's generic text is not what was agreed
    tasks = {t["title"]: t for t in h.show(deal_id)["tasks"] if t["id"].startswith("action-")}
    assert set(tasks) == {"Send the user list (Jane Doe)", "Share the training plan (Sam Carter)"}
    user_list = tasks["Send the user list (Jane Doe)"]
    assert (user_list["status"], user_list["R"], user_list["A"]) == ("open", "csm", "csm")
    assert user_list["due_at"] == "2026-12-05T00:00:00+00:00"  # all of Friday, London time


def test_a_note_after_the_recap_went_changes_nothing(harness: Harness) -> None:
    deal_id = harness.add_deal()
    invite(harness, "Goals and dates.")
    held(harness)
    before = text(recap_of(harness))
    harness.mail(CSM, [("Agent", harness.reply_address(deal_id))], "Notes", NOTE)
    harness.run()
    assert text(recap_of(harness)) == before
    assert not [t for t in harness.show(deal_id)["tasks"] if t["id"].startswith("action-")]


def test_only_the_csms_own_notes_to_the_agent_are_the_recaps(harness: Harness) -> None:
    deal_id = harness.add_deal()
    invite(harness, "Goals and dates.")
    harness.run()
    harness.at(INTRO_AT + timedelta(minutes=50))  # the call is over; the grace is not
    agent = [("Agent", harness.reply_address(deal_id))]
    harness.mail(MANAGER, agent, "Acme Radio", "They may cut seats next year.")  # not the CSM
    harness.mail(CSM, [*agent, MANAGER], "Acme Radio", "Between us: their budget is tight.")  # a thread
    zoom = invitation("zoom").split("\n", 2)[2]
    harness.mail(CSM, agent, "Notes", f"Jane owns the data import.\n\n{zoom}")  # the invitation quoted
    harness.at(INTRO_AT + timedelta(hours=1))
    harness.run()
    recap = text(recap_of(harness))
    assert "Notes from the call:\nJane owns the data import.\n" in recap
    assert "cut seats" not in recap and "budget" not in recap
    assert not CONFERENCING.search(recap)


def test_without_action_items_the_recap_says_what_happens_next_not_what_was_agreed(harness: Harness) -> None:
    harness.add_deal()
    invite(harness, "Goals and dates.")
    held(harness)
    recap = recap_of(harness)
    assert (
        "What happens next:\n- You send us the information on your stations and the users to train.\n"
        in text(recap)
    )
    assert "Next steps" not in text(recap) and "<strong>What happens next</strong>" in html(recap)


def test_an_open_action_item_never_holds_a_stage_back(harness: Harness) -> None:
    deal_id = harness.add_deal()
    invite(harness, "Goals and dates.")
    harness.run()
    harness.at(INTRO_AT + timedelta(minutes=50))
    harness.mail(CSM, [("Agent", harness.reply_address(deal_id))], "Notes", "Action: Jane to send the list")
    harness.at(INTRO_AT + timedelta(hours=1))
    harness.run()
    [task] = [t for t in harness.show(deal_id)["tasks"] if t["id"].startswith("action-")]
    assert harness.stage(deal_id) == "set-up"
    for key in (
        "receive-set-up-info",
        "send-station-details",
        "create-entities",
        "create-training-users",
        "schedule-training",
    ):
        harness.task_done(deal_id, key)
    assert harness.stage(deal_id) == "training"  # the set-up's own tasks are done: the deal moves on
    harness.task_done(deal_id, task["id"])
    assert [t["status"] for t in harness.show(deal_id)["tasks"] if t["id"] == task["id"]] == ["done"]
