"""The sync meeting's parts: the iTIP REQUEST, the first free business-hours slot, and the email carrying it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from agent.businesstime import BusinessCalendar
from agent.calendars.parse import parse_calendar
from agent.config import AgentSection
from agent.domain import Address
from agent.handling.free_slot import first_free, proposed
from agent.mime.parse import parse_message
from agent.outbox.compose import compose
from agent.outbox.invitation import build_request

AGENT = Address("onboarding@example.com", "Onboarding Team")
CSM = Address("sam@example.com", "Sam Smith")
LEAD = Address("olivia@example.com", "Olivia Ortiz, Training Lead")
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday
LONDON = "Europe/London"
CAL = BusinessCalendar()  # Monday to Friday, 09:00-17:00


def request(**changes: Any) -> str:
    values: dict[str, Any] = {
        "uid": "sync-42@example.com",
        "organizer": AGENT,
        "attendees": [CSM, LEAD],
        "start": datetime(2026, 12, 1, 14, 0, tzinfo=UTC),
        "end": datetime(2026, 12, 1, 14, 15, tzinfo=UTC),
        "summary": "Sync: critical issue on Acme Radio",
        "description": "SSO is down for every learner.\nLet's agree who does what.",
        "now": NOW,
    }
    return build_request(**{**values, **changes})


def event(text: str) -> Any:
    """The one VEVENT (Any: icalendar types a property as the union of every value type)."""
    [vevent] = icalendar.Calendar.from_ical(text).walk("VEVENT")
    return vevent


# ------------------------------------------------------------------ the REQUEST


def test_the_request_parses_back_as_an_itip_request_with_one_event() -> None:
    text = request(sequence=2)
    calendar = icalendar.Calendar.from_ical(text)
    assert str(calendar["METHOD"]) == "REQUEST" and str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"])
    assert len(calendar.walk("VEVENT")) == 1
    vevent = event(text)
    assert str(vevent["UID"]) == "sync-42@example.com"
    assert int(vevent["SEQUENCE"]) == 2
    assert vevent["DTSTAMP"].dt == NOW
    assert str(vevent["STATUS"]) == "CONFIRMED" and str(vevent["TRANSP"]) == "OPAQUE"
    assert str(vevent["SUMMARY"]) == "Sync: critical issue on Acme Radio"
    assert str(vevent["DESCRIPTION"]) == "SSO is down for every learner.\nLet's agree who does what."
    [alarm] = vevent.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY" and alarm["TRIGGER"].dt == timedelta(minutes=-10)


def test_organizer_and_attendees_are_mailto_uris_with_their_names() -> None:
    vevent = event(request())
    organizer = vevent["ORGANIZER"]
    assert str(organizer) == "mailto:onboarding@example.com"
    assert organizer.params["CN"] == "Onboarding Team"
    attendees = vevent["ATTENDEE"]
    assert [str(a) for a in attendees] == ["mailto:sam@example.com", "mailto:olivia@example.com"]
    assert [a.params["CN"] for a in attendees] == ["Sam Smith", "Olivia Ortiz, Training Lead"]
    for attendee in attendees:
        assert {k: attendee.params[k] for k in ("ROLE", "PARTSTAT", "RSVP", "CUTYPE")} == {
            "ROLE": "REQ-PARTICIPANT",
            "PARTSTAT": "NEEDS-ACTION",
            "RSVP": "TRUE",
            "CUTYPE": "INDIVIDUAL",
        }


def test_times_are_written_in_utc_and_round_trip() -> None:
    chicago = ZoneInfo("America/Chicago")
    start = datetime(2026, 12, 1, 8, 30, tzinfo=chicago)
    text = request(start=start, end=start + timedelta(minutes=15))
    assert "DTSTART:20261201T143000Z" in text and "DTEND:20261201T144500Z" in text
    assert "VTIMEZONE" not in text  # nothing for a client to resolve
    vevent = event(text)
    assert vevent["DTSTART"].dt == start and vevent["DTSTART"].dt.utcoffset() == timedelta(0)
    assert vevent["DTEND"].dt == start + timedelta(minutes=15)


def test_a_name_cannot_break_the_text_and_a_person_is_invited_once() -> None:
    odd = Address("jane@acme.example", 'Jane "JJ"\r\nDoe')
    text = request(attendees=[odd, Address("JANE@acme.example", "Jane again"), CSM])
    vevent = event(text)
    assert [str(a) for a in vevent["ATTENDEE"]] == ["mailto:jane@acme.example", "mailto:sam@example.com"]
    assert vevent["ATTENDEE"][0].params["CN"] == "Jane 'JJ' Doe"
    unfolded = re.sub(r"\r\n[ \t]", "", text).splitlines()
    assert all(re.match(r"[A-Z-]+[;:]", line) for line in unfolded)  # every line is a property


@pytest.mark.parametrize(
    "changes",
    [
        {"start": datetime(2026, 12, 1, 14, 0)},  # naive
        {"end": datetime(2026, 12, 1, 13, 0, tzinfo=UTC)},  # before the start
        {"attendees": []},
        {"uid": " "},
        {"sequence": -1},
    ],
)
def test_an_invitation_clients_would_reject_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        request(**changes)


def test_the_agents_own_invitation_reader_takes_the_request() -> None:
    [meeting] = parse_calendar(
        request(sequence=1).encode(),
        window_start=datetime(2026, 11, 1, tzinfo=UTC),
        window_end=datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert meeting.uid == "sync-42@example.com" and meeting.sequence == 1 and meeting.dtstamp == NOW
    assert meeting.method == "REQUEST" and not meeting.cancelled and not meeting.all_day
    assert meeting.title == "Sync: critical issue on Acme Radio"
    assert (meeting.start, meeting.end) == (
        datetime(2026, 12, 1, 14, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 14, 15, tzinfo=UTC),
    )
    assert meeting.organizer == Address("onboarding@example.com", "Onboarding Team")
    assert meeting.attendees == (
        Address("sam@example.com", "Sam Smith"),
        Address("olivia@example.com", "Olivia Ortiz, Training Lead"),
    )


# ------------------------------------------------------------------ the free slot


def at(day: int, hour: int, minute: int = 0, tz: str = "UTC") -> datetime:
    """A time in December 2026 (the 1st is a Tuesday), in UTC."""
    return datetime(2026, 12, day, hour, minute, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def test_the_first_free_quarter_hour_is_taken_and_a_busy_hour_skipped() -> None:
    assert first_free([], after=at(1, 9), minutes=15, calendar=CAL, tz=LONDON) == at(1, 9)
    assert first_free([], after=at(1, 10, 7), minutes=15, calendar=CAL, tz=LONDON) == at(1, 10, 15)
    busy = [(at(1, 9), at(1, 10)), (at(1, 10), at(1, 10, 20))]
    assert first_free(busy, after=at(1, 9), minutes=15, calendar=CAL, tz=LONDON) == at(1, 10, 30)
    # a meeting that ends as the slot starts is not in the way
    assert first_free([(at(1, 8), at(1, 9))], after=at(1, 9), minutes=15, calendar=CAL, tz=LONDON) == at(1, 9)
    # a short gap does not hold a longer meeting
    gap = [(at(1, 9), at(1, 10)), (at(1, 10, 30), at(1, 12))]
    assert first_free(gap, after=at(1, 9), minutes=45, calendar=CAL, tz=LONDON) == at(1, 12)


def test_before_opening_the_slot_is_at_opening() -> None:
    assert first_free([], after=at(1, 6, 40), minutes=15, calendar=CAL, tz=LONDON) == at(1, 9)


def test_a_weekend_and_a_holiday_are_skipped() -> None:
    friday_late = at(4, 16, 50)
    assert first_free([], after=friday_late, minutes=15, calendar=CAL, tz=LONDON) == at(7, 9)
    holiday = BusinessCalendar(holidays=frozenset({date(2026, 12, 7)}))
    assert first_free([], after=friday_late, minutes=15, calendar=holiday, tz=LONDON) == at(8, 9)
    # the same through the country's public holidays: 25 and 28 December in England in 2026
    england = BusinessCalendar(country="GB")
    assert first_free([], after=at(24, 17), minutes=15, calendar=england, tz=LONDON) == at(29, 9)


def test_the_whole_meeting_ends_by_closing() -> None:
    # 16:45 + 30 minutes would run past 17:00: the next morning
    assert first_free([], after=at(1, 16, 40), minutes=30, calendar=CAL, tz=LONDON) == at(2, 9)
    assert first_free([], after=at(1, 16, 40), minutes=15, calendar=CAL, tz=LONDON) == at(1, 16, 45)
    # hours to 18:00 and ten-minute steps: 17:50 + 15 would end at 18:05, so not 17:50
    late = BusinessCalendar.from_names(("mon", "tue", "wed", "thu", "fri"), (), hours="09:00-18:00")
    kwargs: dict[str, Any] = {"minutes": 15, "calendar": late, "tz": LONDON, "step_minutes": 10}
    assert first_free([], after=at(1, 17, 35), **kwargs) == at(1, 17, 40)
    assert first_free([], after=at(1, 17, 41), **kwargs) == at(2, 9)
    # a meeting longer than the day never fits
    assert first_free([], after=at(1, 9), minutes=9 * 60, calendar=CAL, tz=LONDON) is None


def test_none_when_the_horizon_is_full() -> None:
    booked = [(at(1, 0), at(1, 0) + timedelta(days=10))]
    assert first_free(booked, after=at(1, 9), minutes=15, calendar=CAL, tz=LONDON) is None
    # the day after the horizon is free, but not looked at
    one_day = [(at(1, 9), at(1, 17))]
    assert first_free(one_day, after=at(1, 9), minutes=15, calendar=CAL, tz=LONDON, horizon_days=1) is None
    assert first_free(one_day, after=at(1, 9), minutes=15, calendar=CAL, tz=LONDON, horizon_days=2) == at(
        2, 9
    )


def test_another_zone_is_honoured() -> None:
    chicago = "America/Chicago"
    # 14:00 UTC is 08:00 in Chicago: the day opens at 09:00 there, 15:00 UTC
    found = first_free([], after=at(1, 14), minutes=15, calendar=CAL, tz=chicago)
    assert found == at(1, 9, tz=chicago) == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    assert found is not None and found.tzinfo == UTC
    busy = [(at(1, 9, tz=chicago), at(1, 16, 50, tz=chicago))]
    assert first_free(busy, after=at(1, 14), minutes=15, calendar=CAL, tz=chicago) == at(2, 9, tz=chicago)
    # a half-hour zone: the steps are its own clock's (09:20 in Kolkata; UTC's would give 09:30)
    kolkata: dict[str, Any] = {"minutes": 15, "calendar": CAL, "tz": "Asia/Kolkata"}
    assert first_free([], after=at(1, 9, 5, tz="Asia/Kolkata"), step_minutes=20, **kolkata) == at(
        1, 9, 20, tz="Asia/Kolkata"
    )
    assert first_free([], after=at(1, 9, 10, tz="Asia/Kolkata"), **kolkata) == at(1, 9, 15, tz="Asia/Kolkata")


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        first_free([], after=datetime(2026, 12, 1, 9), minutes=15, calendar=CAL, tz=LONDON)
    with pytest.raises(ValueError):
        proposed(datetime(2026, 12, 1, 9), calendar=CAL, tz=LONDON)


def test_the_proposal_is_the_next_business_days_opening_plus_an_hour() -> None:
    assert proposed(at(4, 16), calendar=CAL, tz=LONDON) == at(7, 10)  # Friday afternoon: Monday 10:00
    assert proposed(at(1, 8), calendar=CAL, tz=LONDON) == at(1, 10)  # before opening: that day's
    assert proposed(at(1, 8), calendar=CAL, tz="America/Chicago") == at(1, 10, tz="America/Chicago")
    short = BusinessCalendar.from_names(("mon", "tue", "wed", "thu", "fri"), (), hours="09:00-09:30")
    assert proposed(at(1, 8), calendar=short, tz=LONDON) == at(1, 9)  # stays inside the hours


# ------------------------------------------------------------------ the email carrying it


def email(calendar: str | None = None) -> EmailMessage:
    extra: dict[str, Any] = {} if calendar is None else {"calendar": calendar}
    return compose(
        AgentSection(),
        to=[{"name": CSM.name, "email": CSM.email}, {"name": LEAD.name, "email": LEAD.email}],
        cc=[],
        subject="Sync meeting: critical issue on Acme Radio",
        text="Let's meet for 15 minutes.",
        html="<p>Let's meet for 15 minutes.</p>",
        message_id="<sync-42@example.com>",
        token="tok42",
        in_reply_to="",
        references=[],
        date=NOW,
        **extra,
    )


def tree(part: EmailMessage) -> Any:
    if part.is_multipart():
        return (part.get_content_type(), [tree(p) for p in part.iter_parts()])  # type: ignore[arg-type]
    return part.get_content_type()


def test_an_invitation_email_has_the_shape_outlook_and_gmail_take() -> None:
    ics = request()
    sent = BytesParser(policy=default).parsebytes(email(ics).as_bytes())
    assert isinstance(sent, EmailMessage)
    assert tree(sent) == (
        "multipart/mixed",
        [("multipart/alternative", ["text/plain", "text/html", "text/calendar"]), "application/ics"],
    )
    alternative, attachment = sent.iter_parts()
    calendar = list(alternative.iter_parts())[2]
    assert calendar.get_param("method") == "REQUEST"
    assert str(calendar.get_param("charset")).lower() == "utf-8"
    assert calendar.get_content_disposition() is None  # inline: the part clients act on
    assert calendar.get_content().splitlines() == ics.splitlines()
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "invite.ics"
    assert attachment["Content-Transfer-Encoding"] == "base64"
    assert attachment.get_content() == ics.encode()
    assert sent.get_body(("plain",)).get_content().strip() == "Let's meet for 15 minutes."  # type: ignore[union-attr]
    # the headers are those of any email of the agent
    for name in ("From", "To", "Subject", "Message-ID", "Reply-To", "Auto-Submitted"):
        assert sent[name] == email()[name]


def test_the_method_parameter_follows_the_objects_method() -> None:
    cancel = request().replace("METHOD:REQUEST", "METHOD:CANCEL")
    alternative = next(email(cancel).iter_parts())
    assert list(alternative.iter_parts())[2].get_param("method") == "CANCEL"


def test_the_agent_reads_the_two_copies_as_one_invitation() -> None:
    parsed = parse_message(email(request()).as_bytes())
    assert len(parsed.calendar_parts) == 1


def test_without_a_calendar_the_email_is_as_before() -> None:
    def normalised(msg: EmailMessage) -> bytes:
        return re.sub(rb"={15}\d+==", b"BOUNDARY", msg.as_bytes())  # boundaries are random

    plain = email()
    assert tree(plain) == ("multipart/alternative", ["text/plain", "text/html"])
    assert normalised(plain) == normalised(email(""))
    assert b"text/calendar" not in plain.as_bytes() and b"Content-Disposition" not in plain.as_bytes()
