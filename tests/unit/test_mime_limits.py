"""The reading limits of agent.mime.limits: each cap, its reason, and what is still read of the message."""

from __future__ import annotations

import base64
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agent.mailboxes.base import RawMail
from agent.mime import parse_ahead
from agent.mime.limits import LIMITS, MB
from agent.mime.parse import MessageParseError, parse_message
from agent.mime.parse_ahead import ParseAhead

HEAD = (
    b"From: Jane Doe <jane@client.com>\r\nTo: onboarding@ourco.com\r\nSubject: Go-live\r\n"
    b"Message-ID: <limits@client.com>\r\nDate: Mon, 04 Mar 2024 10:15:00 +0000\r\n"
)


def mixed(*parts: bytes, head: bytes = HEAD) -> bytes:
    body = b"".join(b"--b\r\n" + part + b"\r\n" for part in parts)
    return head + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + body + b"--b--\r\n"


def text(body: bytes, ctype: bytes = b"text/plain") -> bytes:
    return b"Content-Type: " + ctype + b"; charset=utf-8\r\n\r\n" + body


def peak_mb(call: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


# --- headers ------------------------------------------------------------------------------------


def test_a_header_line_over_the_limit_is_left_out_and_the_message_never_answered() -> None:
    junk = b"X-Junk: " + b"a" * (MB - 10) + b"\r\n"  # 1,048,576 bytes with its line break
    m = parse_message(HEAD + junk + b"\r\nThursday works.\r\n")
    reason = "a header line of 1,048,576 bytes (X-Junk) over the 64 KB limit was left out"
    assert m.kind_reason == f"over the reading limits: {reason}"
    assert m.auto_submitted  # the line left out might have been Auto-Submitted: never answered
    assert m.sender is not None and m.sender.email == "jane@client.com"  # still matched by its headers
    assert m.text.startswith("Thursday works.") and reason in m.text


def test_a_folded_header_counts_whole_and_a_long_real_one_is_kept() -> None:
    ids = b"\r\n".join(b" <thread-%d@client.com>" % i for i in range(3000))  # 75 KB folded
    m = parse_message(HEAD + b"References:" + ids + b"\r\n\r\nAgain.\r\n")
    assert "(References) over the 64 KB limit" in m.kind_reason and m.references == ()
    kept = parse_message(
        HEAD + b"References:" + ids[: 40 * 1024].rsplit(b"\r\n", 1)[0] + b"\r\n\r\nAgain.\r\n"
    )
    assert not kept.auto_submitted and len(kept.references) > 1000


def test_headers_past_the_block_limit_are_not_read() -> None:
    many = b"".join(b"X-Stamp-%d: %s\r\n" % (i, b"s" * 60_000) for i in range(5))
    m = parse_message(HEAD + many + b"X-Late: 1\r\n\r\nBody.\r\n")
    assert "the header lines after the first 256 KB were left out" in m.kind_reason
    assert m.auto_submitted and m.subject == "Go-live" and m.text.startswith("Body.")


def test_several_long_lines_are_named_in_one_reason() -> None:
    lines = [b"X-Track-%d: %s\r\n" % (i, b"t" * 100_000) for i in range(5)]
    m = parse_message(HEAD + b"".join(lines) + b"\r\nBody.\r\n")
    named = f"(X-Track-0 of {len(lines[0]):,} bytes, X-Track-1 of {len(lines[1]):,} bytes"
    assert f"5 header lines over the 64 KB limit were left out {named}" in m.kind_reason
    assert "and 2 more" in m.kind_reason


def test_only_a_header_over_the_limit_is_not_an_email() -> None:
    with pytest.raises(MessageParseError, match=r"no header lines within the limits.*64 KB"):
        parse_message(b"X-Junk: " + b"a" * MB + b"\r\n\r\nbody\r\n")


def test_a_long_address_list_is_read_address_by_address() -> None:
    people = b", ".join(b'"Doe, Jane %d" <p%d@client.com>' % (i, i) for i in range(800))  # 28 KB
    parsed = []
    peak = peak_mb(lambda: parsed.append(parse_message(HEAD + b"Cc: " + people + b"\r\n\r\nHello all.\r\n")))
    assert peak < 4  # whole, the email package's parser took 13 MB
    (m,) = parsed
    assert len(m.cc) == 800 and m.cc[7].name == "Doe, Jane 7" and not m.auto_submitted


def test_a_hostile_address_list_does_not_lose_the_message() -> None:
    m = parse_message(HEAD + b"Cc: " + b'(<"@,;:' * 7000 + b"\r\n\r\nHello.\r\n")
    assert m.sender is not None and m.text == "Hello."  # nested comments once made it unparseable


# --- structure ----------------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (i, i) for i in range(depth)
    )
    closing = b"".join(b"\r\n--n%d--\r\n" % i for i in reversed(range(depth)))
    return HEAD + opening + b"Content-Type: text/plain\r\n\r\nDeep down." + closing


def test_nesting_over_the_limit_is_left_out() -> None:
    m = parse_message(nested(1000))
    assert (
        m.kind_reason == "over the reading limits: parts nested deeper than the 50-level limit were left out"
    )
    assert m.auto_submitted and "Deep down" not in m.text
    assert peak_mb(lambda: parse_message(nested(1000))) < 10
    within = parse_message(nested(LIMITS.depth - 1))
    assert within.text == "Deep down." and not within.auto_submitted


def test_parts_over_the_limit_are_left_out() -> None:
    m = parse_message(mixed(*(text(b"Part %d." % i) for i in range(10_000))))
    assert m.kind_reason == "over the reading limits: the parts after the 500th (the limit) were left out"
    assert "Part 499." in m.text and "Part 500." not in m.text and m.auto_submitted


def test_parts_past_what_is_read_in_all_are_left_out() -> None:
    ics = b"BEGIN:VCALENDAR\r\n" + b"X-PAD:padding\r\n" * 65_000  # just under 1 MB each: read whole
    parts = [text(b"Dates."), *(text(b"X-PART:%d\r\n" % i + ics, b"text/calendar") for i in range(6))]
    m = parse_message(mixed(*parts))
    assert "the parts after the first 4 MB read were left out" in m.kind_reason and m.auto_submitted
    assert [c.split(b"\r\n")[0] for c in m.calendar_parts] == [b"X-PART:%d" % i for i in range(5)]


# --- bodies -------------------------------------------------------------------------------------


def test_a_huge_text_body_is_cut_and_still_answered() -> None:
    raw = HEAD + b"Content-Type: text/plain\r\n\r\n" + b"Thanks for the plan.\r\n" * 200_000  # 4.4 MB
    m = parse_message(raw)
    assert m.text.startswith("Thanks for the plan.") and len(m.text) < 300_000
    assert "a text part of 4,400,000 bytes was cut at the 256 KB limit" in m.text
    assert not m.auto_submitted  # what is left still says what the message said
    assert peak_mb(lambda: parse_message(raw)) < 8  # whole: about 35 MB


def test_a_huge_html_body_is_cut() -> None:
    html = b"<html><body>" + b"<p>Row of the <b>export</b></p>\r\n" * 40_000 + b"</body></html>"  # 1.3 MB
    m = parse_message(mixed(text(html, b"text/html")))
    assert m.text.startswith("Row of the export") and "was cut at the 256 KB limit" in m.text


def test_an_attachment_is_recorded_by_name_type_and_size_never_decoded() -> None:
    blob = bytes(range(256)) * 20_000  # 5,120,000 bytes
    pdf = (
        b'Content-Type: application/pdf; name="plan.pdf"\r\nContent-Disposition: attachment; '
        b'filename="plan.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.encodebytes(blob).replace(b"\n", b"\r\n")
    )
    qp = b'Content-Type: text/csv\r\nContent-Disposition: attachment; filename="a.csv"\r\n'
    qp += b"Content-Transfer-Encoding: quoted-printable\r\n\r\nk=3Dv,=\r\nw\r\nx=20y\r\n"
    raw = mixed(text(b"The plan, attached."), pdf, qp)
    m = parse_message(raw)
    assert [(a.filename, a.content_type, a.size) for a in m.attachments] == [
        ("plan.pdf", "application/pdf", 5_120_000),
        ("a.csv", "text/csv", len(b"k=v,w\r\nx y\r\n")),
    ]
    assert m.text == "The plan, attached." and not m.auto_submitted
    assert peak_mb(lambda: parse_message(raw)) < 3  # decoded, it was 8 times the attachment


def test_a_forged_size_header_is_not_believed() -> None:
    part = b"Content-Type: image/png\r\nX-CSM-Unread-Size: 999999999\r\nContent-Transfer-Encoding: base64\r\n"
    m = parse_message(
        mixed(text(b"Hi."), part + b'Content-Disposition: attachment; filename="a.png"\r\n\r\nAAAA\r\n')
    )
    assert [a.size for a in m.attachments] == [3]


def test_a_calendar_over_the_limit_is_not_read() -> None:
    event = b"BEGIN:VEVENT\r\nUID:u%d@client.com\r\nDTSTART:20261201T140000Z\r\nSUMMARY:Training\r\nEND:VEVENT\r\n"
    ics = (
        b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\n"
        + b"".join(event % i for i in range(20_000))
        + b"END:VCALENDAR\r\n"
    )
    m = parse_message(mixed(text(b"Dates."), text(ics, b"text/calendar")))
    assert m.calendar_parts == () and not m.auto_submitted
    assert f"a calendar part of {len(ics):,} bytes over the 1 MB limit was not read" in m.text
    small = parse_message(mixed(text(b"Dates."), text(ics[:2000] + b"END:VCALENDAR\r\n", b"text/calendar")))
    assert len(small.calendar_parts) == 1


def test_an_attached_message_keeps_its_headers_only() -> None:
    inner = b"From: Ann <ann@client.com>\r\nSubject: Original\r\n\r\n" + b"x" * 3 * MB
    m = parse_message(
        mixed(
            text(b"See below."),
            b"Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n" + inner,
        )
    )
    (block,) = m.forwarded
    assert block.sender is not None and block.sender.email == "ann@client.com" and block.subject == "Original"
    assert [(a.content_type, a.size) for a in m.attachments] == [("message/rfc822", len(inner))]


# --- reading ahead ------------------------------------------------------------------------------


def big_backlog(count: int, size: int, pulled: list[int]) -> Iterator[RawMail]:
    for n in range(count):
        pulled.append(n)
        head = HEAD.replace(b"<limits@", b"<%d@" % n) + b"Content-Type: application/zip\r\n\r\n"
        yield RawMail(f"test:{n}", head + (b"x" * 998 + b"\r\n") * (size // 1000))


@pytest.mark.parametrize("processes", [0, 1])
def test_big_messages_are_read_ahead_by_bytes_and_parsed_in_place(processes: int) -> None:
    pulled: list[int] = []
    ahead = ParseAhead((), 0, processes)
    try:
        it = ahead.iterate(big_backlog(8, 5_000_000, pulled))
        next(it)
        # 16 MB read ahead, not a backlog's 32 messages: 160 MB
        assert len(pulled) == -(-parse_ahead.WINDOW_BYTES // 5_000_000)
        assert sum(1 for _ in it) == 7
        assert ahead.pool is None  # big messages are never copied to the helper
    finally:
        ahead.close()
