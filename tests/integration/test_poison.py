"""Hostile inputs from strangers: each is read in bounded time and the mailbox goes on to the next message.

Before the recurrence bounds, each of these invitations (under 1 KB) kept the daemon at 100 % CPU
on one message for minutes while its memory grew into gigabytes, and the mail behind it waited.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from agent.clock import ManualClock
from agent.config import load_config
from agent.daemon.budget import resident_bytes
from agent.handling.mail.pipeline import MailItem
from agent.health import status_data
from agent.simulation import CLIENT
from agent.store import models as m
from agent.store.repo import Repo
from tests.conftest import MONDAY, Harness, subjects, write_config

STRANGER = "mallory@strangers.example"


def invitation(n: int, rule: str) -> bytes:
    ics = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "METHOD:REQUEST",
            "BEGIN:VEVENT",
            f"UID:hostile-{n}@strangers.example",
            "DTSTAMP:20261130T090000Z",
            "DTSTART:20251130T090000Z",
            "DURATION:PT30M",
            f"RRULE:{rule}",
            "SUMMARY:Sync",
            f"ORGANIZER:mailto:{STRANGER}",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    return (
        f"From: Mallory <{STRANGER}>\r\nTo: onboarding@example.com\r\n"
        f"Subject: Invitation {n}\r\nMessage-ID: <hostile-{n}@strangers.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: text/calendar; charset="UTF-8"; method=REQUEST\r\n\r\n' + ics
    ).encode()


@pytest.mark.parametrize("rule", ["FREQ=SECONDLY", "FREQ=MINUTELY", "FREQ=DAILY;INTERVAL=0", "FREQ=HOURLY"])
def test_a_hostile_recurring_invitation_does_not_hold_up_the_mail_behind_it(
    harness: Harness, rule: str
) -> None:
    harness.add_deal()
    harness.deliver(invitation(1, rule))
    harness.mail(CLIENT, [("Agent", "onboarding@example.com")], "Behind the invitation")
    started = time.monotonic()
    report = harness.run()
    assert time.monotonic() - started < 20  # before the bounds: minutes, and gigabytes
    assert report.messages == 2 and report.quarantined == 0
    assert subjects(harness) == ["Invitation 1", "Behind the invitation"]
    with harness.agent.sessions.begin() as s:
        meetings = s.scalar(select(func.count()).select_from(m.Meeting)) or 0
    assert meetings <= harness.config.calendar.max_occurrences  # refused (0), or cut at the cap


# --- poison memory: an input the process dies on ------------------------------------------------------
def start(cfg: Path) -> Harness:
    """The daemon (re)started on the same state; it dies on any message whose subject is "Killer"."""
    harness = Harness(load_config(cfg), ManualClock(MONDAY))
    pipeline = harness.agent.runtime.handlers.mail
    real = pipeline.process

    def dies_on_the_killer(item: MailItem) -> str | None:
        if item.msg.subject == "Killer":
            raise SystemExit(137)  # as an out-of-memory kill would end it: no exception handler runs
        return real(item)

    pipeline.process = dies_on_the_killer  # type: ignore[method-assign]
    return harness


def test_a_message_the_process_dies_on_is_quarantined_untried_after_five_deaths_in_a_row(
    tmp_path: Path,
) -> None:
    cfg = write_config(tmp_path)
    first = start(cfg)
    first.mail(CLIENT, [("Agent", "onboarding@example.com")], "Killer")
    first.mail(CLIENT, [("Agent", "onboarding@example.com")], "Behind the killer")
    for attempt in range(1, 6):
        harness = first if attempt == 1 else start(cfg)
        with pytest.raises(SystemExit):
            harness.run()
        harness.agent.close()  # its parsing helper; a real death takes the process with it
        stopped = status_data(harness.config, harness.agent.sessions)["interrupted"]
        assert stopped["times_in_a_row"] == attempt and stopped["key"].startswith("maildir:")
    harness = start(cfg)
    report = harness.run()  # before: it died on the same message at every start, for ever
    harness.agent.close()
    assert report.quarantined == 1 and subjects(harness) == ["Behind the killer"]
    with harness.agent.sessions.begin() as s:
        [item] = Repo(s).quarantined()
    assert "stopped 5 times in a row while processing it" in item.error
    assert "interrupted" not in status_data(harness.config, harness.agent.sessions)


def test_one_death_on_a_message_is_not_poison_it_is_processed_after_the_restart(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    harness = start(cfg)
    harness.mail(CLIENT, [("Agent", "onboarding@example.com")], "Killed once")
    real = harness.agent.runtime.handlers.mail.process

    def dies_once(item: MailItem) -> str | None:
        raise SystemExit(137)

    harness.agent.runtime.handlers.mail.process = dies_once  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        harness.run()
    harness.agent.runtime.handlers.mail.process = real  # type: ignore[method-assign]
    harness.agent.close()
    again = start(cfg)
    report = again.run()
    again.agent.close()
    assert (report.messages, report.quarantined) == (1, 0)
    assert subjects(again) == ["Killed once"]


def test_an_item_past_its_time_budget_is_quarantined_and_the_mail_behind_it_goes_on(tmp_path: Path) -> None:
    harness = Harness(
        load_config(write_config(tmp_path, "[daemon]\nitem_budget_seconds = 1\n")), ManualClock(MONDAY)
    )
    pipeline = harness.agent.runtime.handlers.mail
    real = pipeline.process

    def endless_on_one(item: MailItem) -> str | None:
        give_up = time.monotonic() + 30  # without the budget the test fails after this, never hangs
        while item.msg.subject == "Endless" and time.monotonic() < give_up:
            pass  # a parser or library caught in a loop by crafted input
        return real(item)

    pipeline.process = endless_on_one  # type: ignore[method-assign]
    harness.mail(CLIENT, [("Agent", "onboarding@example.com")], "Endless")
    harness.mail(CLIENT, [("Agent", "onboarding@example.com")], "Behind it")
    started = time.monotonic()
    report = harness.run()
    assert time.monotonic() - started < 10
    assert (report.messages, report.quarantined) == (1, 1) and subjects(harness) == ["Behind it"]
    with harness.agent.sessions.begin() as s:
        [item] = Repo(s).quarantined()
    assert "exceeded the processing budget of 1 s" in item.error
    harness.agent.close()


def test_an_item_that_eats_memory_is_stopped_at_its_budget_and_the_mail_behind_it_goes_on(
    tmp_path: Path,
) -> None:
    harness = Harness(
        load_config(write_config(tmp_path, "[daemon]\nitem_memory_mb = 50\n")), ManualClock(MONDAY)
    )
    pipeline = harness.agent.runtime.handlers.mail
    real = pipeline.process
    grew: list[int] = []

    def greedy_on_one(item: MailItem) -> str | None:
        if item.msg.subject == "Greedy":
            base, hoard = resident_bytes(), list[bytearray]()
            while len(hoard) < 1000:  # 1 GB without the budget: the test fails, the machine copes
                hoard.append(bytearray(1 << 20))
                grew.append(resident_bytes() - base)
        return real(item)

    pipeline.process = greedy_on_one  # type: ignore[method-assign]
    harness.mail(CLIENT, [("Agent", "onboarding@example.com")], "Greedy")
    harness.mail(CLIENT, [("Agent", "onboarding@example.com")], "Behind it")
    report = harness.run()
    assert (report.messages, report.quarantined) == (1, 1) and subjects(harness) == ["Behind it"]
    with harness.agent.sessions.begin() as s:
        [item] = Repo(s).quarantined()
    assert "exceeded the processing budget of 50 MB of memory" in item.error
    print(f"stopped after growing {max(grew) / 1e6:.0f} MB")
    assert max(grew) < 150e6  # stopped within a tick of passing the budget, far from the 1 GB
    harness.agent.close()
