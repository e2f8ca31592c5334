"""The sync meeting's invitation over real SMTP into Dovecot and back, and the busy times the store sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import icalendar
import pytest
from imapclient import IMAPClient

from agent.businesstime import BusinessCalendar
from agent.calendars.parse import parse_invitation_parts
from agent.config import load_config
from agent.domain import Address
from agent.handling.free_slot import first_free
from agent.mime.parse import parse_message
from agent.outbox.compose import compose
from agent.outbox.invitation import build_request
from agent.outbox.transports.smtp import SmtpTransport
from agent.store import models as m
from agent.store.db import open_store
from agent.store.repo import Repo
from tests.integration.conftest import PASSWORD, smtp_config
from tests.servers import Dovecot, SmtpRelay

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday
START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
CSM = Address("sam@example.com", "Sam Smith")  # <name>@<any domain> reaches Dovecot user <name>
LEAD = Address("olivia@example.com", "Olivia Ortiz")


def delivered(dovecot: Dovecot, person: str, message_id: str) -> list[bytes]:
    """The messages with this Message-ID in `person`'s INBOX, as the bytes IMAP gives."""
    with IMAPClient("127.0.0.1", dovecot.imap_port, ssl=False) as client:
        client.login(person, PASSWORD)
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["HEADER", "Message-ID", message_id])
        fetched = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
    return [v[b"BODY[]"] for v in fetched.values()]


def calendar_part(message: EmailMessage) -> EmailMessage:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert isinstance(part, EmailMessage)
    return part


@pytest.mark.integration
def test_the_invitation_reaches_each_invitee_as_an_itip_request(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpRelay, certs: dict[str, Path]
) -> None:
    config = load_config(smtp_config(tmp_path, smtp, certs))
    organizer = Address(config.agent.address, config.agent.name)
    uid = f"sync-{tmp_path.name}@example.com"
    ics = build_request(
        uid=uid,
        organizer=organizer,
        attendees=[CSM, LEAD],
        start=START,
        end=START + timedelta(minutes=15),
        summary="Sync: critical issue on Acme Radio",
        description="SSO is down for every learner.",
        now=NOW,
    )
    message_id = make_msgid(idstring="sync", domain="example.com")
    message = compose(
        config.agent,
        to=[{"name": p.name, "email": p.email} for p in (CSM, LEAD)],
        cc=[],
        subject="Sync meeting: critical issue on Acme Radio",
        text="Let's meet for 15 minutes.",
        html="<p>Let's meet for 15 minutes.</p>",
        message_id=message_id,
        token=None,
        in_reply_to="",
        references=[],
        date=NOW,
        calendar=ics,
    )
    result = SmtpTransport(config.transport, config.agent.address).send(message, [CSM.email, LEAD.email], 1)
    assert result.accepted == (CSM.email, LEAD.email) and not result.deferred and not result.refused

    for person in ("sam", "olivia"):
        [raw] = delivered(dovecot, person, message_id)  # one copy each
        received = BytesParser(policy=default).parsebytes(raw)
        assert isinstance(received, EmailMessage)
        assert received.get_content_type() == "multipart/mixed"
        part = calendar_part(received)
        assert part.get_param("method") == "REQUEST"
        [attachment] = [p for p in received.iter_attachments() if p.get_filename() == "invite.ics"]
        assert attachment.get_content_type() == "application/ics"

        calendar = icalendar.Calendar.from_ical(part.get_content())
        assert str(calendar["METHOD"]) == "REQUEST"
        [component] = calendar.walk("VEVENT")
        vevent: Any = component  # icalendar types a property as the union of every value type
        assert str(vevent["UID"]) == uid
        assert [str(a) for a in vevent["ATTENDEE"]] == ["mailto:sam@example.com", "mailto:olivia@example.com"]
        assert str(vevent["ORGANIZER"]) == f"mailto:{config.agent.address}"
        assert vevent["DTSTART"].dt == START

        # and as the agent reads an invitation it receives: its mail parser, then its calendar parser
        parsed = parse_message(raw)
        assert len(parsed.calendar_parts) == 1  # the inline part and the attachment are one
        [meeting] = parse_invitation_parts(
            parsed.calendar_parts, window_start=NOW, window_end=NOW + timedelta(days=30)
        )
        assert meeting.uid == uid and meeting.method == "REQUEST" and not meeting.cancelled
        assert (meeting.start, meeting.end) == (START, START + timedelta(minutes=15))
        assert meeting.title == "Sync: critical issue on Acme Radio"
        assert [a.email for a in meeting.attendees] == [CSM.email, LEAD.email]


def meeting(uid: str, start: datetime, minutes: int, **values: Any) -> m.Meeting:
    return m.Meeting(
        uid=uid,
        start=start,
        end=start + timedelta(minutes=minutes),
        status=values.pop("status", "scheduled"),
        organizer=values.pop("organizer", ""),
        attendees=values.pop("attendees", []),
        **values,
    )


def test_busy_times_are_the_meetings_either_person_organises_or_attends(tmp_path: Path) -> None:
    sessions = open_store(f"sqlite:///{tmp_path / 'agent.db'}")
    day = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    other = [{"email": "someone@acme.example", "name": "Someone"}]
    with sessions.begin() as s:
        for row in (
            meeting("organised", day, 60, organizer="Sam@Example.com"),  # case aside
            meeting("attended", day + timedelta(hours=2), 30, attendees=[{"email": "OLIVIA@example.com"}]),
            meeting("cancelled", day + timedelta(hours=1), 60, organizer=CSM.email, status="cancelled"),
            meeting(
                "held",
                day + timedelta(hours=3),
                30,
                attendees=[*other, {"email": CSM.email}],
                status="completed",
            ),
            meeting("strangers", day + timedelta(hours=1), 60, organizer="x@acme.example", attendees=other),
            meeting("ends-at-window-start", day - timedelta(hours=1), 60, organizer=CSM.email),
            meeting("next-week", day + timedelta(days=7), 60, organizer=CSM.email),
        ):
            s.add(row)
    with sessions.begin() as s:
        busy = Repo(s).busy([CSM.email, LEAD.email], day, day + timedelta(days=1))
        assert Repo(s).busy([], day, day + timedelta(days=1)) == []
    assert busy == [
        (day, day + timedelta(hours=1)),
        (day + timedelta(hours=2), day + timedelta(hours=2, minutes=30)),
        (day + timedelta(hours=3), day + timedelta(hours=3, minutes=30)),
    ]
    # what the sync meeting is booked around: 10:00 is free (the cancelled meeting does not count)
    slot = first_free(busy, after=day, minutes=15, calendar=BusinessCalendar(), tz="UTC")
    assert slot == day + timedelta(hours=1)
    assert first_free(busy, after=day, minutes=90, calendar=BusinessCalendar(), tz="UTC") == day + timedelta(
        hours=3, minutes=30
    )
