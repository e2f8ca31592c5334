"""agent.calendars.parse against real-world calendars and invitations, and synthetic cases.

Expected UTC times are worked out by hand from the files: the local wall time,
the zone's offset on that date, and the difference. The corpus is read from
tests/data/corpus (byte-for-byte copies), else from ../shared/corpus.
"""

from __future__ import annotations

import email
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict

import pytest
import recurring_ical_events

from agent.calendars.parse import CalendarParseError, parse_calendar, parse_invitation_parts
from agent.domain import Address, MeetingVersion

_HERE = Path(__file__).resolve()
CORPUS = next(
    path
    for path in (_HERE.parents[1] / "data" / "corpus", _HERE.parents[3] / "shared" / "corpus")
    if (path / "ics").is_dir()
)
INVITATIONS = (
    "calmailproc_test-01-2.eml",
    "calmailproc_test-10.eml",
    "calmailproc_test-05-1.eml",
    "calmailproc_test-04-1.eml",
    "thunderbird_teams-meeting-invite.eml",
    "james_yahooInvitation.eml",
)


class Window(TypedDict):
    window_start: datetime
    window_end: datetime


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def span(start: datetime, end: datetime) -> Window:
    return {"window_start": start, "window_end": end}


WIDE = span(utc(2000, 1, 1), utc(2040, 1, 1))


def ics(name: str) -> bytes:
    return (CORPUS / "ics" / name).read_bytes()


def mime_parts(name: str, types: tuple[str, ...] = ("text/calendar",)) -> list[bytes]:
    message = email.message_from_bytes((CORPUS / "eml" / name).read_bytes())
    parts = [part.get_payload(decode=True) for part in message.walk() if part.get_content_type() in types]
    return [part for part in parts if isinstance(part, bytes)]


def parse_ics(name: str, window: Window = WIDE) -> list[MeetingVersion]:
    return parse_calendar(ics(name), source=name, **window)


def parse_eml(name: str) -> list[MeetingVersion]:
    return parse_invitation_parts(mime_parts(name), source=name, **WIDE)


def by_rid(versions: list[MeetingVersion]) -> dict[str, MeetingVersion]:
    return {version.recurrence_id: version for version in versions}


def emails(addresses: tuple[Address, ...]) -> list[str]:
    return [address.email for address in addresses]


def vcal(*lines: str, method: str = "") -> bytes:
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN"] + ([f"METHOD:{method}"] if method else [])
    return "\r\n".join([*head, *lines, "END:VCALENDAR", ""]).encode()


def vevent(*lines: str) -> list[str]:
    return ["BEGIN:VEVENT", *lines, "END:VEVENT"]


# --- ics/: one function per corpus file ------------------------------------------------------------


def check_missing_uid_cdo() -> None:
    name = "icalendar_issue_165_missing_event.ics"
    versions = parse_ics(name)
    # RRULE "BYDAY=MO, TU, ..." (spaces) repaired: weekdays from Fri 3 to Wed 22 July 2015
    # (UNTIL 08:00Z = 10:00 local): 3, 6-10, 13-17, 20-22.
    days = [3, 6, 7, 8, 9, 10, 13, 14, 15, 16, 17, 20, 21, 22]
    assert [v.start for v in versions] == [utc(2015, 7, d, 8) for d in days]  # 10:00 at +02:00 (summer)
    assert all(v.end - v.start == timedelta(minutes=30) for v in versions)
    assert versions[0].recurrence_id == "2015-07-03T08:00:00+00:00"
    # No UID: "synthetic-" + sha256 of DTSTART (TZID:value), SUMMARY, ORGANIZER.
    key = "GMT +0100 (Standard) / GMT +0200 (Daylight):20150703T100000\nSprint 25 Daily Standup\n"
    assert {v.uid for v in versions} == {"synthetic-" + hashlib.sha256(key.encode()).hexdigest()}
    assert [v.uid for v in parse_ics(name)] == [v.uid for v in versions]  # stable across re-reads
    first = versions[0]
    assert (first.method, first.sequence, first.cancelled, first.all_day) == ("REQUEST", 0, False, False)
    assert first.dtstamp == utc(2015, 7, 3, 7, 10, 9)
    assert first.title == "Sprint 25 Daily Standup"
    assert first.organizer is None


def check_freebusy_reply() -> None:
    assert parse_ics("icalendar_issue_27_multiple_periods_in_freebusy_one_freebusy.ics") == []


def check_unquoted_eastern() -> None:
    [version] = parse_ics("icalendar_issue_836_do_not_quote_tzid.ics")
    assert version.uid == "minimal-demo-event-est-20241028@example.com"
    assert version.recurrence_id == ""
    # 17:00 "Eastern Standard Time" on 28 Oct 2024 is still EDT (-04:00; DST ends 3 Nov).
    assert (version.start, version.end) == (utc(2024, 10, 28, 21), utc(2024, 10, 28, 22))
    assert version.method == "PUBLISH"
    assert version.dtstamp == utc(2025, 5, 14, 2, 39, 16)


def check_blackberry_all_day() -> None:
    [version] = parse_ics("icalendar_property_params.ics")
    assert version.uid == "XRIMCAL-628059586-522954492-9750559"
    assert (version.sequence, version.method, version.all_day) == (2, "REQUEST", True)
    assert (version.start, version.end) == (utc(2012, 8, 14), utc(2012, 8, 15))
    assert version.organizer == Address("rembrand@daxlab.com")  # "mailto:" lower case
    assert version.attendees == (  # "MAILTO:", quoted CNs
        Address("rembrand@xs4all.nl", "RembrandXS"),
        Address("rembrand@daxlab.com", "RembrandDX"),
        Address("rembspam@xs4all.nl", "RembrandSB"),
    )
    assert version.dtstamp == utc(2012, 8, 13, 15, 14, 58)


def check_pacific_same_start() -> None:
    [version] = parse_ics("icalendar_timezone_same_start.ics")
    assert version.uid == "040000008200E00074C5B7101A82E0080000000090E19664858ED20100000000000000"
    # 12:00 "Pacific Standard Time" on 24 Feb 2017 is PST (-08:00).
    assert (version.start, version.end) == (utc(2017, 2, 24, 20), utc(2017, 2, 24, 20, 30))
    assert (version.title, version.method, version.sequence) == ("Test 4", "REQUEST", 0)


def check_cancelled_occurrence() -> None:
    versions = by_rid(parse_ics("rie_issue_18_cancel_status.ics"))
    # Daily 22:00 Europe/Berlin (CET, +01:00) from 28 Jan 2020, COUNT=3; the 29th is cancelled.
    assert list(versions) == [f"2020-01-{d}T21:00:00+00:00" for d in (28, 29, 30)]
    cancelled = versions["2020-01-29T21:00:00+00:00"]
    assert (cancelled.cancelled, cancelled.sequence, cancelled.start) == (True, 2, utc(2020, 1, 29, 21))
    for rid in ("2020-01-28T21:00:00+00:00", "2020-01-30T21:00:00+00:00"):
        assert (versions[rid].cancelled, versions[rid].sequence) == (False, 1)
    assert {v.method for v in versions.values()} == {""}
    only = parse_ics("rie_issue_18_cancel_status.ics", span(utc(2020, 1, 29), utc(2020, 1, 30)))
    assert [(v.recurrence_id, v.cancelled) for v in only] == [("2020-01-29T21:00:00+00:00", True)]


def check_thunderbird_exceptions() -> None:
    versions = by_rid(parse_ics("rie_issue_223_thunderbird.ics"))
    # Daily 09:00 Europe/London (BST, +01:00) 23-27 April 2025; UNTIL 08:00Z includes the 27th.
    assert list(versions) == [f"2025-04-{d}T08:00:00+00:00" for d in range(23, 28)]
    moved = versions["2025-04-24T08:00:00+00:00"]
    assert (moved.start, moved.end, moved.sequence) == (utc(2025, 4, 24, 10), utc(2025, 4, 24, 11), 2)
    relocated = versions["2025-04-25T08:00:00+00:00"]
    assert (relocated.location, relocated.sequence, relocated.start) == ("new place", 3, utc(2025, 4, 25, 8))
    for day in (23, 26, 27):
        version = versions[f"2025-04-{day}T08:00:00+00:00"]
        assert (version.start, version.sequence, version.location) == (utc(2025, 4, day, 8), 1, "")


def check_exchange_all_day_series() -> None:
    versions = parse_ics("rie_issue_28_rrule_with_UTC_endinginZ.ics")
    assert all(v.all_day and v.method == "PUBLISH" for v in versions)
    refuse = by_rid([v for v in versions if v.title == "Refuse black bin"])
    blue = [v for v in versions if v.title == "Blue Recycle bin"]
    # Fortnightly Thursdays from 2 April 2020 until 16 Sep (23:00Z): 12 dates each series.
    thursdays = [datetime(2020, 4, 2, tzinfo=UTC) + timedelta(weeks=2 * i) for i in range(12)]
    assert list(refuse) == [day.isoformat() for day in thursdays]  # moved ones keep the plain date as id
    # RECURRENCE-ID 2020-04-16T00:00 "GMT Standard Time" (a DATE-TIME) moved the bin to Friday the 17th.
    for thursday, friday in (((4, 16), (4, 17)), ((5, 28), (5, 29)), ((9, 3), (9, 4))):
        moved = refuse[utc(2020, *thursday).isoformat()]
        assert (moved.start, moved.end) == (utc(2020, *friday), utc(2020, *friday) + timedelta(days=1))
    assert [v.start for v in blue] == [day + timedelta(weeks=1) for day in thursdays]


def check_moved_google_event() -> None:
    window = span(utc(2021, 11, 1), utc(2022, 2, 1))
    versions = by_rid(parse_ics("rie_issue_62_moved_event.ics", window))
    # Last Friday of the month, 21:30 Europe/Berlin (CET): Nov 26, Dec 31 (moved to the 17th), Jan 28.
    assert list(versions) == [
        "2021-11-26T20:30:00+00:00",
        "2021-12-31T20:30:00+00:00",
        "2022-01-28T20:30:00+00:00",
    ]
    moved = versions["2021-12-31T20:30:00+00:00"]
    assert (moved.start, moved.end, moved.sequence) == (
        utc(2021, 12, 17, 20, 30),
        utc(2021, 12, 17, 20, 30),
        3,
    )
    assert versions["2021-11-26T20:30:00+00:00"].sequence == 2
    on_new_eve = parse_ics("rie_issue_62_moved_event.ics", span(utc(2021, 12, 31), utc(2022, 1, 1)))
    assert on_new_eve == []  # nothing left on the original date


def check_this_and_future() -> None:
    window = span(utc(2024, 9, 1), utc(2024, 10, 1))
    versions = parse_ics("rie_issue_75_range_parameter.ics", window)
    assert len({v.recurrence_id for v in versions}) == len(versions)  # every occurrence its own id
    got = {v.recurrence_id[:16]: (v.start, v.end, v.title, v.sequence) for v in versions}
    expected = {
        f"2024-09-{d:02}T12:00": (utc(2024, 9, d, 12), utc(2024, 9, d, 14), "ORIGINAL EVENT", 0)
        for d in (1, 3, 5, 7, 9, 11)
    }
    # THISANDFUTURE at the 13th: -3 h and 7 h long, for the 13th and after (the RDATE on the 14th too).
    for day, hour in ((13, 12), (14, 9), (17, 12), (19, 12)):
        start = utc(2024, 9, day, hour - 3)
        expected[f"2024-09-{day}T{hour:02}:00"] = (start, start + timedelta(hours=7), "MODIFIED EVENT", 1)
    expected["2024-09-15T12:00"] = (utc(2024, 9, 15, 17), utc(2024, 9, 15, 19), "MODIFIED EVENT", 1)
    # THISANDFUTURE at the 21st: +1 day 2 h 22 min, 1 h 51 min long.
    for day in (21, 23, 25, 27, 29):
        start = utc(2024, 9, day + 1, 14, 22)
        expected[f"2024-09-{day}T12:00"] = (start, start + timedelta(hours=1, minutes=51), "EDITED EVENT", 1)
    assert got == expected


def check_lower_sequence_exception() -> None:
    window = span(utc(2020, 9, 1), utc(2020, 10, 1))
    versions = by_rid(parse_ics("rie_recurrence_sequence_number.ics", window))
    assert list(versions) == [f"2020-09-{d:02}T00:00:00+00:00" for d in (8, 15, 22, 29)]  # Tuesdays
    modified = versions["2020-09-22T00:00:00+00:00"]
    assert (modified.title, modified.sequence, modified.location, modified.all_day) == (
        "Modified event",
        3,
        "",
        True,
    )
    for day in (8, 15, 29):
        version = versions[f"2020-09-{day:02}T00:00:00+00:00"]
        assert (version.title, version.sequence, version.location) == ("Base event", 4, "Changed again")


ICS_FACTS: dict[str, Callable[[], None]] = {
    "icalendar_issue_165_missing_event.ics": check_missing_uid_cdo,
    "icalendar_issue_27_multiple_periods_in_freebusy_one_freebusy.ics": check_freebusy_reply,
    "icalendar_issue_836_do_not_quote_tzid.ics": check_unquoted_eastern,
    "icalendar_property_params.ics": check_blackberry_all_day,
    "icalendar_timezone_same_start.ics": check_pacific_same_start,
    "rie_issue_18_cancel_status.ics": check_cancelled_occurrence,
    "rie_issue_223_thunderbird.ics": check_thunderbird_exceptions,
    "rie_issue_28_rrule_with_UTC_endinginZ.ics": check_exchange_all_day_series,
    "rie_issue_62_moved_event.ics": check_moved_google_event,
    "rie_issue_75_range_parameter.ics": check_this_and_future,
    "rie_recurrence_sequence_number.ics": check_lower_sequence_exception,
}


def test_every_corpus_calendar_has_facts() -> None:
    assert sorted(path.name for path in (CORPUS / "ics").glob("*.ics")) == sorted(ICS_FACTS)


@pytest.mark.parametrize("name", sorted(ICS_FACTS))
def test_corpus_calendar(name: str) -> None:
    ICS_FACTS[name]()


# --- eml/: the text/calendar parts of real invitations -----------------------------------------------


def test_exchange_cancel_with_display_name_zone() -> None:
    [version] = parse_eml("calmailproc_test-01-2.eml")
    assert version.uid == (
        "040000008200E00074C5B7101A82E0080000000006A84F9DA091DB01000000000000000"
        "0100000001124D9E92DEECD469DBA5C584BAE38F7"
    )
    assert (version.method, version.cancelled, version.sequence, version.recurrence_id) == (
        "CANCEL",
        True,
        1,
        "",
    )
    # 14:00 "(UTC+01:00) Amsterdam, Berlin, ..." on 10 March 2025 is CET (+01:00).
    assert (version.start, version.end) == (utc(2025, 3, 10, 13), utc(2025, 3, 10, 14))
    assert version.title == "Abgesagt: Test Event 1"
    assert version.organizer == Address("markus.brechtel@uk-koeln.de", "Markus Brechtel")
    assert version.attendees == (Address("brechtel@med.uni-frankfurt.de", "brechtel@med.uni-frankfurt.de"),)
    assert version.dtstamp == utc(2025, 3, 10, 12, 53, 34)


def test_outlook_request_windows_zone() -> None:
    [version] = parse_eml("calmailproc_test-10.eml")
    assert version.uid == "saev4ait1Phooj9Aecei5aesegh1Mohr"
    assert (version.method, version.cancelled, version.sequence) == ("REQUEST", False, 0)
    # 14:00 "W. Europe Standard Time" on 17 April 2025 is CEST (+02:00).
    assert (version.start, version.end) == (utc(2025, 4, 17, 12), utc(2025, 4, 17, 13))
    assert version.organizer == Address("example@example.com", "Test Sender")
    assert version.attendees == (Address("markus.brechtel@uk-koeln.de", "Markus Brechtel"),)
    assert version.location == "https://uni-frankfurt.zoom-x.de/j/3029758878?omn=63051536587"


def test_thunderbird_request() -> None:
    [version] = parse_eml("calmailproc_test-05-1.eml")
    assert version.uid == "0e4a0959-e1c7-4c5a-b353-d7abbd8ca8ac"
    # 10:00 Europe/Berlin on 19 March 2025 is CET (+01:00).
    assert (version.start, version.end) == (utc(2025, 3, 19, 9), utc(2025, 3, 19, 10))
    assert version.organizer == Address("markus.brechtel@thengo.net", "Markus Katharina Brechtel")
    assert emails(version.attendees) == ["markus.brechtel@thengo.net", "markus.brechtel@uk-koeln.de"]


def test_horde_request_in_utc() -> None:
    [version] = parse_eml("calmailproc_test-04-1.eml")
    assert version.uid == "20250310215946.axX7omDXW0OizUH9oNwYJiw@webmail.uni-frankfurt.de"
    assert (version.start, version.end) == (utc(2025, 3, 20, 0), utc(2025, 3, 20, 1))
    assert (version.method, version.title) == ("REQUEST", "Test 4")
    assert version.organizer == Address("brechtel@med.uni-frankfurt.de", "Markus Katharina Brechtel")
    assert emails(version.attendees) == ["markus.brechtel@uk-koeln.de", "brechtel@med.uni-frankfurt.de"]


def test_teams_invite_fle_zone() -> None:
    [version] = parse_eml("thunderbird_teams-meeting-invite.eml")
    assert version.uid.startswith("056000008200E00074C5B7101A82E008") and version.uid.endswith("2B499A4B98C")
    # 19:00 "FLE Standard Time" (Helsinki/Kyiv) on 2 Dec 2020 is EET (+02:00).
    assert (version.start, version.end) == (utc(2020, 12, 2, 17), utc(2020, 12, 2, 19))
    assert (version.title, version.method, version.cancelled) == ("Teams meeting", "REQUEST", False)
    assert version.organizer == Address("marge@example.com", "Marge")
    assert emails(version.attendees) == ["bart@example.com", "homer@example.com"]  # despite the broken fold
    assert "Microsoft Teams" in version.description


def test_yahoo_invitation() -> None:
    [version] = parse_eml("james_yahooInvitation.eml")
    assert version.uid == "5014513f-1026-4b58-82cf-80d4fc060bbe"
    # 15:00 Europe/Brussels on 27 Jan 2017 is CET (+01:00); the VTIMEZONE comes after the VEVENT.
    assert (version.start, version.end) == (utc(2017, 1, 27, 14), utc(2017, 1, 27, 15))
    assert (version.title, version.location, version.cancelled) == ("Test from Yahoo", "Somewhere", False)
    assert version.organizer == Address("obmlinagora@yahoo.fr", "OBM Linagora")
    assert emails(version.attendees) == [
        "ddolcimascolo@linagora.com",
        "rouazana@linagora.com",
        "aduprat@linagora.com",
        "btellier@linagora.com",
    ]


@pytest.mark.parametrize("name", INVITATIONS)
def test_every_invitation_has_one_calendar_part_and_one_meeting(name: str) -> None:
    assert len(mime_parts(name)) == 1
    assert len(parse_eml(name)) == 1


@pytest.mark.parametrize(
    "name", ["calmailproc_test-05-1.eml", "calmailproc_test-04-1.eml", "james_yahooInvitation.eml"]
)
def test_invitation_attached_twice_gives_one_version(name: str) -> None:
    parts = mime_parts(name, ("text/calendar", "application/ics"))
    assert len(parts) == 2
    assert parse_invitation_parts(parts, source=name, **WIDE) == parse_eml(name)


@pytest.mark.parametrize(
    ("name", "start"),
    [
        ("calmailproc_test-01-2.eml", utc(2025, 3, 10, 13)),  # Exchange display name: the city decides
        ("calmailproc_test-10.eml", utc(2025, 4, 17, 12)),  # CLDR Windows name
        ("thunderbird_teams-meeting-invite.eml", utc(2020, 12, 2, 17)),
    ],
)
def test_windows_zones_without_vtimezone(name: str, start: datetime) -> None:
    [part] = mime_parts(name)
    stripped = re.sub(rb"BEGIN:VTIMEZONE.*?END:VTIMEZONE\r?\n", b"", part, flags=re.S)
    assert b"VTIMEZONE" not in stripped
    [version] = parse_calendar(stripped, source=name, **WIDE)
    assert version.start == start


# --- synthetic cases ---------------------------------------------------------------------------------


def test_reschedule_same_uid_higher_sequence() -> None:
    def request(sequence: int, stamp: str, start: str, end: str) -> bytes:
        lines = [f"SEQUENCE:{sequence}", f"DTSTAMP:{stamp}", f"DTSTART:{start}", f"DTEND:{end}"]
        return vcal(*vevent("UID:r1", "SUMMARY:Kick-off", *lines), method="REQUEST")

    first = request(0, "20250301T080000Z", "20250310T100000Z", "20250310T110000Z")
    second = request(1, "20250302T080000Z", "20250311T140000Z", "20250311T150000Z")
    [new] = parse_calendar(second, source="update.ics", **WIDE)
    assert (new.uid, new.recurrence_id, new.sequence) == ("r1", "", 1)
    assert (new.start, new.end) == (utc(2025, 3, 11, 14), utc(2025, 3, 11, 15))
    both = parse_invitation_parts([first, second], source="thread", **WIDE)
    latest = max(both, key=lambda version: (version.sequence, version.dtstamp or utc(1970, 1, 1)))
    assert latest == new


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"this is not a calendar\r\n",
        b"<html><body>Invitation</body></html>",
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Someone\r\nEND:VCARD\r\n",
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:cut-off\r\n",
    ],
)
def test_not_a_calendar_raises_naming_the_source(data: bytes) -> None:
    with pytest.raises(CalendarParseError, match=r"broken-invite\.ics"):
        parse_calendar(data, source="broken-invite.ics", **WIDE)


def test_broken_vevents_are_skipped_and_named(caplog: pytest.LogCaptureFixture) -> None:
    data = vcal(
        *vevent("UID:good", "DTSTART:20250310T100000Z", "DTEND:20250310T110000Z"),
        *vevent("UID:bad-start", "DTSTART:2025-03-10 10:00", "DTEND:20250310T110000Z"),
        *vevent("UID:no-start", "SUMMARY:Nothing to place"),
        *vevent("UID:backwards", "DTSTART:20250310T100000Z", "DTEND:20250310T090000Z"),
        *vevent("UID:bad-rule", "DTSTART:20250310T100000Z", "RRULE:FREQ=SOMETIMES"),
    )
    with caplog.at_level(logging.WARNING, logger="agent.calendars.parse"):
        versions = parse_calendar(data, source="team.ics", **WIDE)
    assert [v.uid for v in versions] == ["good"]
    for uid in ("bad-start", "no-start", "backwards", "bad-rule"):
        assert any("team.ics" in r.getMessage() and uid in r.getMessage() for r in caplog.records), uid


SERIES = vevent(
    "UID:weekly",
    "SEQUENCE:0",
    "DTSTART;TZID=Europe/Berlin:20250303T100000",
    "DTEND;TZID=Europe/Berlin:20250303T110000",
    "RRULE:FREQ=WEEKLY;COUNT=4",
)
MARCH = span(utc(2025, 3, 1), utc(2025, 4, 1))
SERIES_IDS = [f"2025-03-{d:02}T09:00:00+00:00" for d in (3, 10, 17, 24)]  # 10:00 CET


def test_cancel_of_one_occurrence() -> None:
    assert [v.recurrence_id for v in parse_calendar(vcal(*SERIES), **MARCH)] == SERIES_IDS
    occurrence = (
        "RECURRENCE-ID;TZID=Europe/Berlin:20250317T100000",
        "DTSTART;TZID=Europe/Berlin:20250317T100000",
    )
    cancel = vcal(*vevent("UID:weekly", "SEQUENCE:1", *occurrence), method="CANCEL")
    [version] = parse_calendar(cancel, **MARCH)
    assert (version.recurrence_id, version.cancelled, version.method) == (SERIES_IDS[2], True, "CANCEL")


def test_cancel_of_whole_series() -> None:
    versions = parse_calendar(vcal(*SERIES, method="CANCEL"), **MARCH)
    assert [(v.recurrence_id, v.cancelled) for v in versions] == [(rid, True) for rid in SERIES_IDS]


def test_moved_and_untouched_occurrences_share_their_ids() -> None:
    moved = vevent(
        "UID:weekly",
        "SEQUENCE:1",
        "RECURRENCE-ID:20250310T090000Z",
        "DTSTART;TZID=Europe/Berlin:20250312T150000",
        "DTEND;TZID=Europe/Berlin:20250312T160000",
    )
    versions = by_rid(parse_calendar(vcal(*SERIES, *moved), **MARCH))
    assert list(versions) == SERIES_IDS  # the exception's RECURRENCE-ID was in UTC, the master's in Berlin
    assert versions[SERIES_IDS[1]].start == utc(2025, 3, 12, 14)
    exdate = vcal(*SERIES[:-1], "EXDATE;TZID=Europe/Berlin:20250324T100000", "END:VEVENT")
    assert [v.recurrence_id for v in parse_calendar(exdate, **MARCH)] == SERIES_IDS[:3]


def test_cancelled_exception_survives_a_library_that_drops_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real_of = recurring_ical_events.of

    class DroppingCancelled:
        def __init__(self, query: object) -> None:
            self.query = query

        def after(self, start: datetime) -> Iterator[object]:
            found = self.query.after(start)  # type: ignore[attr-defined]
            return (c for c in found if str(c.get("STATUS", "")).upper() != "CANCELLED")

    monkeypatch.setattr(recurring_ical_events, "of", lambda *a, **k: DroppingCancelled(real_of(*a, **k)))
    versions = by_rid(parse_ics("rie_issue_18_cancel_status.ics"))
    assert versions["2020-01-29T21:00:00+00:00"].cancelled
    assert len(versions) == 3


@pytest.mark.parametrize(
    ("extra", "default_tz", "start"),
    [
        ((), "UTC", utc(2025, 1, 15, 10)),  # floating: UTC unless told otherwise
        ((), "Europe/Berlin", utc(2025, 1, 15, 9)),  # CET
        (("X-WR-TIMEZONE:America/New_York",), "UTC", utc(2025, 1, 15, 15)),  # the calendar's own zone, EST
    ],
)
def test_floating_times(extra: tuple[str, ...], default_tz: str, start: datetime) -> None:
    data = vcal(*extra, *vevent("UID:f", "DTSTART:20250115T100000", "DTEND:20250115T110000"))
    [version] = parse_calendar(data, default_tz=default_tz, **WIDE)
    assert (version.start, version.end) == (start, start + timedelta(hours=1))


def test_all_day_dates_follow_default_tz() -> None:
    data = ics("icalendar_property_params.ics")
    [version] = parse_calendar(data, default_tz="Europe/Amsterdam", **WIDE)
    assert version.start == utc(2012, 8, 13, 22)  # midnight CEST


@pytest.mark.parametrize(
    ("lines", "end", "all_day"),
    [
        (("DTSTART:20250310T100000Z", "DURATION:PT45M"), utc(2025, 3, 10, 10, 45), False),
        (("DTSTART:20250310T100000Z",), utc(2025, 3, 10, 10), False),
        (("DTSTART;VALUE=DATE:20250310",), utc(2025, 3, 11), True),
        (
            ("DTSTART:20250310T000000Z", "DTEND:20250311T000000Z", "X-MICROSOFT-CDO-ALLDAYEVENT:TRUE"),
            utc(2025, 3, 11),
            True,
        ),
    ],
)
def test_end_and_all_day(lines: tuple[str, ...], end: datetime, all_day: bool) -> None:
    [version] = parse_calendar(vcal(*vevent("UID:e", *lines)), **WIDE)
    assert (version.end, version.all_day) == (end, all_day)


@pytest.mark.parametrize(
    ("tzid", "start"),
    [
        ('"(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna"', utc(2025, 7, 10, 12)),  # CEST
        ('"(UTC-08:00) Pacific Time (US & Canada)"', utc(2025, 7, 10, 21)),  # PDT
        ('"Pacific Standard Time"', utc(2025, 7, 10, 21)),
        ("Eastern Standard Time", utc(2025, 7, 10, 18)),  # EDT
        ("GMT Standard Time", utc(2025, 7, 10, 13)),  # BST
    ],
)
def test_zone_names_without_vtimezone(tzid: str, start: datetime) -> None:
    data = vcal(*vevent("UID:z", f"DTSTART;TZID={tzid}:20250710T140000"))
    [version] = parse_calendar(data, **WIDE)
    assert version.start == start


def test_unknown_tzid_is_read_in_default_tz_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    data = vcal(*vevent("UID:u", "DTSTART;TZID=Customized Time Zone:20250115T100000"))
    with caplog.at_level(logging.WARNING, logger="agent.calendars.parse"):
        [version] = parse_calendar(data, source="odd.ics", default_tz="Europe/Berlin", **WIDE)
    assert version.start == utc(2025, 1, 15, 9)
    assert any(
        "Customized Time Zone" in r.getMessage() and "odd.ics" in r.getMessage() for r in caplog.records
    )


def test_windows_1252_payload() -> None:
    data = vcal(*vevent("UID:c", "DTSTART:20250310T100000Z", "SUMMARY:Café")).decode().encode("cp1252")
    [version] = parse_calendar(data, **WIDE)
    assert version.title == "Café"


def test_invitation_parts_skip_a_bad_part_but_not_all() -> None:
    good = vcal(*vevent("UID:g", "DTSTART:20250310T100000Z"))
    assert [v.uid for v in parse_invitation_parts([b"garbage\r\n", good], source="mail", **WIDE)] == ["g"]
    with pytest.raises(CalendarParseError, match="mail part 1"):
        parse_invitation_parts([b"garbage\r\n"], source="mail", **WIDE)


def test_window_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_calendar(vcal(), window_start=datetime(2025, 1, 1), window_end=utc(2025, 2, 1))


# --- hostile recurrences: refused or bounded, never minutes of work ------------------------------------
AGENT_WINDOW = span(utc(2026, 11, 1), utc(2027, 4, 1))  # what the daemon reads: 30 days back, 120 ahead


def series(rule: str, *extra: str, start: str = "20251201T090000Z") -> bytes:
    head = ["UID:hostile", "DTSTAMP:20261130T000000Z", f"DTSTART:{start}", "DURATION:PT30M"]
    return vcal(*vevent(*head, *([f"RRULE:{rule}"] if rule else []), "SUMMARY:Stand-up", *extra))


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ("FREQ=SECONDLY", "FREQ=SECONDLY: a meeting repeats hourly at most"),
        ("FREQ=MINUTELY;INTERVAL=5", "FREQ=MINUTELY: a meeting repeats hourly at most"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL=0: expected a whole number of at least 1"),
        ("FREQ=HOURLY;BYMINUTE=0,5,10,15,20,25,30,35,40,45,50,55", "occurrences to walk through; refused"),
    ],
)
def test_a_recurrence_that_would_take_minutes_to_expand_is_refused_at_once(
    rule: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    beside = vevent(
        "UID:ok", "DTSTAMP:20261130T000000Z", "DTSTART:20261202T100000Z", "DTEND:20261202T110000Z"
    )
    data = series(rule)[: -len(b"END:VCALENDAR\r\n")] + "\r\n".join([*beside, "END:VCALENDAR", ""]).encode()
    versions = parse_calendar(data, source="hostile.ics", **AGENT_WINDOW)
    assert [v.uid for v in versions] == ["ok"]  # the hostile series is skipped alone
    assert why in caplog.text
    assert time.monotonic() - started < 5  # before the bound: minutes of CPU and gigabytes


def test_an_endless_hourly_series_is_read_only_up_to_the_occurrence_cap(
    caplog: pytest.LogCaptureFixture,
) -> None:
    versions = parse_calendar(series("FREQ=HOURLY"), source="hourly.ics", max_occurrences=50, **AGENT_WINDOW)
    assert len(versions) == 50
    assert versions[0].start == utc(2026, 11, 1)  # from the window's start, in order
    assert "only the first 50 occurrences" in caplog.text


def test_ten_thousand_rdates_are_capped_like_a_rule() -> None:
    dates = ",".join(f"{utc(2026, 12, 1) + timedelta(hours=h):%Y%m%dT%H%M%SZ}" for h in range(10_000))
    versions = parse_calendar(
        series("", f"RDATE:{dates}", start="20261201T000000Z"), max_occurrences=1000, **AGENT_WINDOW
    )
    assert len(versions) == 1000


def test_a_weekly_meeting_since_years_ago_is_still_read() -> None:
    versions = parse_calendar(series("FREQ=WEEKLY", start="20100104T090000Z"), **AGENT_WINDOW)
    assert len(versions) == 22 and all(v.start.weekday() == 0 for v in versions)


def two_events(second: list[str]) -> bytes:
    good = ["UID:one", "DTSTAMP:20261130T090000Z", "DTSTART:20261202T090000Z", "DTEND:20261202T100000Z"]
    return vcal(*vevent(*good, "SUMMARY:Good"), *vevent(*second, "SUMMARY:Broken"), method="REQUEST")


def test_a_split_dtstamp_line_skips_its_vevent_alone(caplog: pytest.LogCaptureFixture) -> None:
    data = two_events(
        ["UID:two", "DTSTAMP:2026113", "0T090000Z", "DTSTART:20261203T090000Z", "DTEND:20261203T100000Z"]
    )
    [version] = parse_calendar(data, source="split.ics", **AGENT_WINDOW)  # before: the whole file refused
    assert version.title == "Good"
    assert "skipping VEVENT with UID two: unreadable DTSTAMP" in caplog.text


def test_a_series_that_fails_in_an_unforeseen_way_costs_only_itself(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import agent.calendars.parse as parse

    real = parse._version

    def breaks_on_two(component: object, series: object) -> object:
        if series.uid == "two":  # type: ignore[attr-defined]
            raise ValueError("a library error nobody foresaw")
        return real(component, series)  # type: ignore[arg-type]

    monkeypatch.setattr(parse, "_version", breaks_on_two)
    data = two_events(["UID:two", "DTSTAMP:20261130T090000Z", "DTSTART:20261203T090000Z", "DURATION:PT1H"])
    assert [v.uid for v in parse_calendar(data, source="x.ics", **AGENT_WINDOW)] == ["one"]
    assert "skipping VEVENTs with UID two: ValueError: a library error nobody foresaw" in caplog.text
