"""Nothing from strangers accumulates: a recurring series no deal claims is stored as one meeting.

Before, six invitations from an unknown organiser made 21,907 meeting rows (10,000 from one
240 KB invitation of 10,000 RDATEs). Now each such series is one row, its first occurrence in
the window, with the calendar text kept on it; the other occurrences are stored when a deal
claims it (a hand-over of the organiser's company, or a person assigning it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from agent import deals
from agent.handling.cause import begin
from agent.store import models as m
from agent.store.repo import Repo
from tests.conftest import MONDAY, Harness
from tests.integration.test_poison import STRANGER, invitation

DAILY_IN_WINDOW = 150  # a daily call over the default window: 30 days back, 120 ahead


def counts(h: Harness) -> tuple[int, int, int]:
    """(meetings of no deal, meetings of a deal, meeting-end timers)."""
    with h.agent.sessions.begin() as s:
        unclaimed = s.scalar(select(func.count()).select_from(m.Meeting).where(m.Meeting.deal_id.is_(None)))
        claimed = s.scalar(select(func.count()).select_from(m.Meeting).where(m.Meeting.deal_id.is_not(None)))
        timers = s.scalar(select(func.count()).select_from(m.Timer).where(m.Timer.kind == "meeting_end"))
    return unclaimed or 0, claimed or 0, timers or 0


def strangers_deal(h: Harness) -> int:
    contact = deals.ContactSpec("Mallory", STRANGER, "client_admin")
    return h.add_deal("Strangers Inc", contacts=[contact])


def test_a_strangers_daily_series_is_one_meeting_and_is_expanded_when_their_deal_is_handed_over(
    harness: Harness,
) -> None:
    harness.deliver(invitation(1, "FREQ=DAILY"))
    harness.run()
    assert counts(harness) == (1, 0, 0)  # before: 150 rows
    with harness.agent.sessions.begin() as s:
        kept = Repo(s).occurrences("hostile-1@strangers.example")
        assert len(kept) == 1 and "RRULE:FREQ=DAILY" in kept[0].series
        assert kept[0].start >= MONDAY - timedelta(days=30)  # the first occurrence in the window

    deal = strangers_deal(harness)  # the organiser's company becomes a client: its series is the deal's
    unclaimed, claimed, timers = counts(harness)
    assert (unclaimed, claimed) == (0, DAILY_IN_WINDOW)
    assert timers >= DAILY_IN_WINDOW - 30  # each call not yet over is watched for its end
    with harness.agent.sessions.begin() as s:
        meetings = Repo(s).meetings_for(deal)
        assert len({mt.recurrence_id for mt in meetings}) == DAILY_IN_WINDOW
        assert all(mt.series == "" for mt in meetings)
        assert any("an occurrence of 'Sync'" in mt.match_reason for mt in meetings)


def test_ten_thousand_rdates_from_a_stranger_are_one_row(harness: Harness) -> None:
    start = datetime(2026, 12, 1, 9, 0)
    rdates = ",".join(f"{start + timedelta(hours=n):%Y%m%dT%H%M%SZ}" for n in range(10_000))
    raw = invitation(2, "FREQ=YEARLY;COUNT=1").replace(
        b"RRULE:FREQ=YEARLY;COUNT=1", f"RDATE:{rdates}".encode()
    )
    assert len(raw) > 150_000
    harness.deliver(raw)
    harness.run()
    assert counts(harness) == (1, 0, 0)  # before: 10,000 rows and as many timers


def test_a_strangers_series_in_the_calendar_folder_is_one_meeting(harness: Harness) -> None:
    ics = invitation(3, "FREQ=DAILY").split(b"\r\n\r\n", 1)[1]
    path = harness.config.ics_path / "sync.ics"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ics)
    report = harness.run()
    assert counts(harness) == (1, 0, 0) and report.meetings == 1


def test_a_kept_series_assigned_by_a_person_is_expanded_for_that_deal(harness: Harness) -> None:
    deal = harness.add_deal()
    harness.deliver(invitation(4, "FREQ=WEEKLY"))
    harness.run()
    assert counts(harness)[:2] == (1, 0)
    with harness.agent.sessions.begin() as s:
        repo = Repo(s)
        meeting = repo.occurrences("hostile-4@strangers.example")[0]
        found = repo.deal(deal)
        assert found is not None
        cause = begin(repo, "test:assign", "cli", harness.clock.now())
        assert cause is not None
        harness.agent.runtime.handlers.meetings.assign(
            repo, meeting, found, cause, harness.clock.now(), "a test"
        )
    unclaimed, claimed, _ = counts(harness)
    assert unclaimed == 0 and claimed == 150 // 7 + 1  # the weekly occurrences in the window


def test_an_invitation_of_a_thousand_meetings_is_read_for_its_first_twenty(harness: Harness) -> None:
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:many-{n}@strangers.example\r\nDTSTAMP:20261130T090000Z\r\n"
        f"DTSTART:20261202T{n % 10:02d}0000Z\r\nDURATION:PT30M\r\nSUMMARY:Sync {n}\r\n"
        f"ORGANIZER:mailto:{STRANGER}\r\nEND:VEVENT\r\n"
        for n in range(1000)
    )
    ics = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\n{events}END:VCALENDAR\r\n"
    harness.deliver(
        (
            f"From: Mallory <{STRANGER}>\r\nTo: onboarding@example.com\r\nSubject: Many\r\n"
            "Message-ID: <many@strangers.example>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: text/calendar; charset="UTF-8"; method=REQUEST\r\n\r\n' + ics
        ).encode()
    )
    report = harness.run()
    assert report.quarantined == 0 and counts(harness) == (20, 0, 0)  # before: 1,000 rows
