"""Which deal? (issue 18, item 8 in part): asked only of who can answer, and never held back by a daily cap."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from agent.clock import ManualClock
from agent.config import load_config
from agent.simulation import ics_event
from tests.conftest import CLIENT, CSM, MANAGER, MONDAY, Harness, write_config

KIM = ("Kim Lee", "kim@example.com")  # the CSM of the other deal
AGENT = ("Onboarding", "onboarding@example.com")


def two_deals(h: Harness) -> tuple[int, int]:
    """Jane is a contact on two deals with different CSMs: a message from her fits both."""
    radio = h.add_deal("Acme Radio")
    tv = h.add_deal("Acme TV", roles={"csm": KIM, "onboarding_manager": MANAGER})
    h.run()
    return radio, tv


def questions(h: Harness, since: int = 0) -> list[EmailMessage]:
    return [m for m in h.sent()[since:] if m["Subject"].startswith("[agent] Which deal")]


def to(m: EmailMessage) -> list[str]:
    return [a.addr_spec for a in m["To"].addresses]


def test_a_client_writing_to_one_of_the_csms_asks_only_that_csm(harness: Harness) -> None:
    two_deals(harness)
    harness.mail(CLIENT, [CSM], "Training dates", "Can we move the training?", cc=[AGENT])
    harness.run()
    [question] = questions(harness)
    assert to(question) == [CSM[1]]  # Kim's deal is a candidate, but Jane wrote to Sam


def test_a_message_written_to_none_of_the_csms_asks_every_candidates_csm(harness: Harness) -> None:
    two_deals(harness)
    harness.mail(CLIENT, [AGENT], "Training dates", "Can we move the training?")
    harness.run()
    [question] = questions(harness)
    assert sorted(to(question)) == sorted([CSM[1], KIM[1]])  # nobody to tell them apart: both asked


def test_a_clients_meeting_that_fits_two_deals_asks_only_the_csm_it_invites(harness: Harness) -> None:
    two_deals(harness)
    start = MONDAY + timedelta(days=2)
    ics = ics_event(
        "client-booked@acme-radio.example",
        "Training",
        start,
        stamp=harness.clock.now(),
        attendees=(CSM[1], "onboarding@example.com"),
        organizer=CLIENT[1],
    )
    (harness.config.ics_path).mkdir(parents=True, exist_ok=True)
    (harness.config.ics_path / "training.ics").write_text(ics, encoding="utf-8")
    harness.run()
    [question] = questions(harness)
    assert to(question) == [CSM[1]]  # before: Sam and Kim, though Jane invited Sam alone


def test_our_own_sender_is_asked_alone_even_when_only_one_candidate_is_theirs(harness: Harness) -> None:
    two_deals(harness)
    # Sam writes to Jane with the agent in Bcc (it shows in Delivered-To), copying Kim
    harness.mail(
        CSM,
        [CLIENT],
        "Training dates",
        "Hi Jane, shall we move it?",
        cc=[KIM],
        headers={"Delivered-To": AGENT[1]},
    )
    harness.run()
    [question] = questions(harness)
    assert to(question) == [CSM[1]]


def test_questions_are_not_held_back_by_the_per_recipient_cap_which_still_holds_for_clients(
    tmp_path: Path,
) -> None:
    cfg = write_config(tmp_path)
    cfg.write_text(
        cfg.read_text().replace(
            'timezone = "Europe/London"',
            'timezone = "Europe/London"\nmax_emails_per_recipient_per_day = 1',
            1,
        )
    )
    h = Harness(load_config(cfg), ManualClock(MONDAY))
    two_deals(h)
    intros = [e for d in (1, 2) for e in h.show(d)["emails"] if e["template"] == "intro"]
    assert sorted(e["status"] for e in intros) == ["queued", "sent"]  # Jane's second intro waits: the cap
    before = len(h.sent())
    h.mail(CLIENT, [AGENT], "Training dates", "Can we move the training?")
    h.run()
    h.mail(CLIENT, [AGENT], "Invoice", "Who gets the invoice?")
    h.run()
    asked = questions(h, before)
    assert [m["Subject"] for m in asked] == [
        '[agent] Which deal is "Training dates" about?',
        '[agent] Which deal is "Invoice" about?',
    ]  # the second in its own pass, though Sam and Kim each had one today
    assert all(CSM[1] in to(m) for m in asked)
    postponed = [e["reason"] for e in h.show(2)["events"] if e["kind"] == "email_postpone"]
    assert postponed and "jane@acme-radio.example in 24 h (limit)" in postponed[0]
