"""The CSM's daily digest and the Accountable person's weekly scorecard, by email."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from agent.clock import ManualClock
from agent.config import load_config
from agent.deals import ContactSpec
from tests.conftest import CSM, MANAGER, MONDAY, Harness, write_config

DIGESTS = "[digests]\ndaily = true\nweekly = true\n"


def world(tmp_path: Path, extra: str = "") -> tuple[Harness, int]:
    """Two deals handed over three weeks ago, at 07:00 (before any digest); one moved on to Set-Up."""
    h = Harness(
        load_config(write_config(tmp_path, DIGESTS + extra)),
        ManualClock(MONDAY - timedelta(days=21, hours=2)),
    )
    stuck = h.add_deal(
        "Delta Dairy", contacts=[ContactSpec("Dee", "dee@delta-dairy.example", "client_admin")]
    )
    h.add_deal("Delta Dairy Labs", contacts=[ContactSpec("Lee", "lee@labs.example", "client_admin")])
    h.run()
    h.advance(stuck, "set-up")
    return h, stuck


def digests_to(h: Harness, person: str, template_subject: str) -> list[EmailMessage]:
    return [
        m for m in h.sent() if m["To"].addresses[0].addr_spec == person and template_subject in m["Subject"]
    ]


def test_each_csm_gets_what_needs_them_today_once_a_business_day(tmp_path: Path) -> None:
    h, _ = world(tmp_path)
    h.at(MONDAY - timedelta(hours=2))  # 07:00 in London: not yet
    h.run()
    assert digests_to(h, CSM[1], "Your onboarding deals today") == []
    h.at(MONDAY)  # 09:00
    h.run()
    h.run()
    [digest] = digests_to(h, CSM[1], "Your onboarding deals today")
    text = digest.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    assert text.startswith("Hello Sam,")
    overdue = "  - Delta Dairy: Gather the set-up information: stations and users (due"  # seeds/001's Set-Up
    assert overdue in text.split("Overdue tasks:")[1]
    assert "  - Delta Dairy: set-up for 21 days (target 14)" in text.split("past their stage's target:")[1]
    assert "  - Delta Dairy Labs: intro sent" in text.split("Intros with no answer yet:")[1]
    h.at(MONDAY + timedelta(days=1))
    h.run()
    assert len(digests_to(h, CSM[1], "Your onboarding deals today")) == 2  # Tuesday's
    h.at(MONDAY + timedelta(days=5))  # Saturday
    h.run()
    assert len(digests_to(h, CSM[1], "Your onboarding deals today")) == 2


def test_the_accountable_person_gets_the_weeks_scorecard_on_mondays(tmp_path: Path) -> None:
    h, _ = world(tmp_path)
    h.at(MONDAY)
    h.run()
    h.at(MONDAY + timedelta(hours=3))
    h.run()
    [card] = digests_to(h, MANAGER[1], "Onboarding scorecard, week to")
    text = card.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    assert (
        "In onboarding:        2" in text
        and "Stuck:\n  - Delta Dairy: set-up for 21.1 days (target 14)" in text
    )
    h.at(MONDAY + timedelta(days=1))
    h.run()
    assert len(digests_to(h, MANAGER[1], "Onboarding scorecard")) == 1  # weekly
    h.at(MONDAY + timedelta(days=7))
    h.run()
    assert len(digests_to(h, MANAGER[1], "Onboarding scorecard")) == 2


def test_someone_who_wants_no_digest_gets_none(tmp_path: Path) -> None:
    h, _ = world(tmp_path, f'off_for = ["{CSM[1]}", "{MANAGER[1]}"]\n')
    h.at(MONDAY)
    h.run()
    subjects = [str(m["Subject"]) for m in h.sent()]
    assert any("same stage for 14 days" in s for s in subjects)  # the agent did run, and wrote to them
    assert not [s for s in subjects if "deals today" in s or "Onboarding scorecard" in s]
