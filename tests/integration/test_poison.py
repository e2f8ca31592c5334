"""Hostile inputs from strangers: each is read in bounded time and the mailbox goes on to the next message.

Before the recurrence bounds, each of these invitations (under 1 KB) kept the daemon at 100 % CPU
on one message for minutes while its memory grew into gigabytes, and the mail behind it waited.
"""

from __future__ import annotations

import time

import pytest

from agent.simulation import CLIENT
from tests.conftest import Harness, subjects

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
        from sqlalchemy import func, select

        from agent.store import models as m

        meetings = s.scalar(select(func.count()).select_from(m.Meeting)) or 0
    assert meetings <= harness.config.calendar.max_occurrences  # refused (0), or cut at the cap
