"""A deal's story (agent.dashboard.story): one sentence per thing that happened, by day, in the viewer's zone.

The world is a real agent (tests/conftest.py's Harness): a deal with two client contacts handed
over on Monday 30 November 2026 at 09:00 UTC, its introduction call booked and held on Tuesday at
15:00 UTC, and the recap the rules sent after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.clock import ManualClock
from agent.config import load_config
from agent.dashboard.deal_words import Words
from agent.dashboard.story import Day, Line, story
from agent.deals import ContactSpec
from agent.store import models as m
from agent.store.repo import Repo
from tests.conftest import CLIENT, CSM, MONDAY, Harness, write_config

INTRO_AT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # Tuesday: 10:00 in New York, midnight in Tokyo
JOE = ("Joe Roe", "joe@acme-radio.example")
PIPELINE = "standard-onboarding"


def hold(harness: Harness) -> tuple[Harness, int]:
    """A deal whose introduction call was held and recapped."""
    deal_id = harness.add_deal(
        contacts=[ContactSpec(*CLIENT, "client_admin"), ContactSpec(*JOE, "client_admin")]
    )
    harness.run()
    harness.at(INTRO_AT - timedelta(hours=20))
    harness.meeting("intro", "Acme Radio introduction call", INTRO_AT, attendees=(CLIENT[1], JOE[1]))
    harness.run()
    harness.at(INTRO_AT + timedelta(hours=3))
    harness.run()
    assert harness.stage(deal_id) == "set-up"
    return harness, deal_id


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harness, int]]:
    """One world for the tests that only read it."""
    h = Harness(load_config(write_config(tmp_path_factory.mktemp("story"))), ManualClock(MONDAY))
    yield hold(h)
    h.agent.close()


def told(h: Harness, deal_id: int, zone: str) -> list[Day]:
    with h.agent.sessions.begin() as s:
        repo = Repo(s)
        deal = repo.deal(deal_id)
        assert deal is not None
        pipeline = h.agent.runtime.pipelines[PIPELINE]
        words = Words.of(deal, pipeline, ZoneInfo(zone), h.clock.now(), h.config.addresses())
        return story(repo, deal, pipeline, words)


def lines(days: list[Day]) -> list[Line]:
    return [line for day in days for line in day.lines]


def the_recap(days: list[Day]) -> Line:
    [line] = [line for line in lines(days) if "recap" in line.text]
    return line


def test_the_held_call_and_its_recap_are_one_sentence_naming_the_clients_contacts(
    held: tuple[Harness, int],
) -> None:
    line = the_recap(told(*held, "America/New_York"))
    assert line.kind == "meeting_completed"
    assert line.text.startswith(
        "Introduction call held Tue 1 Dec, 10:00 — recap email sent to the client's two contacts, "
        "Jane Doe and Joe Roe; "
    )
    assert "moved to Set-Up" in line.text  # the stage by its name, not set-up


def test_rule_rows_fold_into_the_sentence_they_caused_and_tell_why(held: tuple[Harness, int]) -> None:
    days = told(*held, "America/New_York")
    assert not [line for line in lines(days) if line.kind == "rule_fired" or "rule fired" in line.text]
    assert not [line for line in lines(days) if line.kind == "email_sent"]  # its queuing said "sent"
    why = the_recap(days).why
    [rule] = [r for r in why.rules if r.id == "recap-after-intro"]
    assert rule.name.startswith("The recap")  # the pipeline's own description of the rule
    assert rule.reason == "Introduction call 'Acme Radio introduction call' was held"
    assert "recap email sent to the client's two contacts, Jane Doe and Joe Roe" in rule.did
    assert why.matched == "Jane Doe, Joe Roe is a contact on the deal"  # names where the audit has addresses
    assert why.evidence == [
        "The calendar's ‘Acme Radio introduction call’, Tue 1 Dec, 10:00–10:45, with Jane Doe and Joe Roe"
    ]


def test_days_come_newest_first_each_in_the_order_things_happened(held: tuple[Harness, int]) -> None:
    days = told(*held, "America/New_York")
    assert [d.label for d in days] == ["Tue 1 Dec 2026", "Mon 30 Nov 2026"]
    handed_over, booked = days[1].lines[0], days[1].lines[-1]
    assert handed_over.kind == "deal_created" and handed_over.time == "04:00"
    assert handed_over.text.startswith("Acme Radio handed over for onboarding (Standard onboarding)")
    assert "moved to Introduction Call" in handed_over.text
    assert booked.text.startswith("Introduction call booked for Tue 1 Dec, 10:00")
    assert [line.at for line in days[1].lines] == sorted(line.at for line in days[1].lines)


def test_the_viewers_zone_decides_the_times_and_the_days(held: tuple[Harness, int]) -> None:
    """In Tokyo the call was booked on Tuesday morning, held at midnight, and seen over on Wednesday."""
    days = told(*held, "Asia/Tokyo")
    assert [d.label for d in days] == ["Wed 2 Dec 2026", "Tue 1 Dec 2026", "Mon 30 Nov 2026"]
    assert days[1].lines[0].text.startswith("Introduction call booked for Wed 2 Dec, 00:00")
    line = the_recap(days)
    assert line.time == "03:00" and line.text.startswith("Introduction call held Wed 2 Dec, 00:00")


def test_a_person_who_ticks_a_task_headlines_the_sentence(harness: Harness) -> None:
    h, deal_id = hold(harness)
    h.task_done(deal_id, "receive-set-up-info")
    last = told(h, deal_id, "Europe/London")[0].lines[-1]
    assert last.kind == "task_completed"
    assert last.text.startswith("Test marked ‘Gather the set-up information: stations and users’ done")
    assert not last.why.rules  # a person's decision: no rule behind it, the agent's record says who


def test_an_email_waiting_for_approval_says_whose(held: tuple[Harness, int]) -> None:
    h, deal_id = held
    with h.agent.sessions.begin() as s:
        deal = Repo(s).deal(deal_id)
        assert deal is not None
        words = Words.of(deal, h.agent.runtime.pipelines[PIPELINE], ZoneInfo("UTC"), h.clock.now())
        email = m.OutboxEmail(status="review", approver_role="onboarding_manager", due_at=h.clock.now())
        assert words.email_status(email) == "waiting for approval by the Onboarding Manager"
        email.approver_role = ""
        assert words.email_status(email) == "held for review"
        email.status, email.due_at = "queued", h.clock.now() + timedelta(days=1)
        assert words.email_status(email) == "planned for Wed 2 Dec, 18:00"


def test_a_recap_held_for_review_says_so_then_whose_answer_sent_it(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace("[review]\ntemplates = []", '[review]\ntemplates = ["recap"]'))
    h = Harness(load_config(cfg), ManualClock(MONDAY))
    try:
        deal_id = h.add_deal()
        h.meeting("intro", "Acme Radio introduction call", INTRO_AT)
        h.run()
        h.at(INTRO_AT + timedelta(hours=3))
        h.run()
        [request] = [msg for msg in h.sent() if "Review before it goes" in msg["Subject"]]
        h.at(INTRO_AT + timedelta(days=1))
        ids = {"In-Reply-To": request["Message-ID"], "References": request["Message-ID"]}
        h.mail(
            CSM, [("Agent", h.config.agent.address)], f"Re: {request['Subject']}", "send\n\nSam", headers=ids
        )
        h.run()
        days = told(h, deal_id, "UTC")
        held = the_recap([days[1]])
        assert held.text.startswith(
            "Introduction call held Tue 1 Dec, 15:00 — recap email to Jane Doe held for review;"
        )
        answered, sent = days[0].lines  # the answer is the review's, not a message of the deal
        assert answered.text == "Recap email to Jane Doe approved by Sam Carter"
        assert 'approved by Sam Carter: "send"' in answered.why.record[0]
        assert sent.text == "Recap email sent to Jane Doe"
    finally:
        h.agent.close()
