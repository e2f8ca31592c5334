"""Tests for agent.mime.parse: real-world corpus messages and synthetic ones."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path

import pytest

from agent.domain import Address, InboundMessage, MessageKind
from agent.mime.addresses import address_list, loose_addresses, message_ids, parsed_list
from agent.mime.dates import loose_date, parse_date
from agent.mime.parse import MessageParseError, parse_message
from agent.mime.text import HeaderReader, body_text

# The suite carries its own byte-for-byte copy; ../shared is the source it came from.
_LOCAL_CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus" / "eml"
_SHARED_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "eml"
CORPUS = next((p for p in (_LOCAL_CORPUS, _SHARED_CORPUS) if p.is_dir()), None)
needs_corpus = pytest.mark.skipif(
    CORPUS is None, reason=f"e-mail corpus not found in {_LOCAL_CORPUS} or {_SHARED_CORPUS}"
)
AGENT = "agent@ourco.com"


def corpus(name: str) -> InboundMessage:
    assert CORPUS is not None
    return parse_message((CORPUS / name).read_bytes(), agent_addresses=(AGENT,))


def msg(text: str, agent_addresses: tuple[str, ...] = ()) -> InboundMessage:
    return parse_message(text.encode("utf-8"), agent_addresses=agent_addresses)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# ------------------------------------------------------------------ corpus


def _gmail_bounce(m: InboundMessage) -> None:
    assert m.kind is MessageKind.BOUNCE
    assert "X-Failed-Recipients" in m.kind_reason
    assert m.bounced_recipients == ("awfawfawfawfawfaw@someserverhere.com",)
    assert m.auto_submitted
    assert m.sender == Address("mailer-daemon@googlemail.com", "Mail Delivery Subsystem")
    assert m.forwarded == ()  # the quoted original is returned mail, not a forward
    assert "failed permanently" in m.text


def _aol_mailbox_full(m: InboundMessage) -> None:
    assert m.kind is MessageKind.BOUNCE
    assert "delivery-status" in m.kind_reason
    assert m.bounced_recipients == ("user@aol.com",)  # Status 5.2.2, Action failed
    assert m.auto_submitted
    assert m.sender is not None and m.sender.email == "mailer-daemon@aol.com"
    assert m.date == utc(2011, 7, 29, 8, 8, 56)


def _delayed_dsn(m: InboundMessage) -> None:
    assert m.kind is MessageKind.BOUNCE
    assert m.bounced_recipients == ()  # Action failed but Status 4.0.0 is transient
    assert m.auto_submitted
    assert m.sender is not None and m.sender.email == "mailer-daemon@cs.example.com"
    assert m.forwarded == ()
    assert m.date == utc(1994, 7, 7, 21, 16, 5)


def _read_receipt(m: InboundMessage) -> None:
    assert m.kind is MessageKind.RECEIPT
    assert "disposition-notification" in m.kind_reason
    assert m.auto_submitted
    assert m.bounced_recipients == ()
    # "Wed, 20 Sep 1995 00:19:00 (EDT) -0400": the comment must not hide the offset.
    assert m.date == utc(1995, 9, 20, 4, 19)
    assert m.sender == Address("joe_recipient@example.com", "Joe Recipient")
    assert "has been displayed" in m.text


def _gb2312(m: InboundMessage) -> None:
    assert m.subject == "提示：您的企业成员暂时无法登录邮件客户端"
    assert m.sender == Address("10000@qq.com", "腾讯企业邮箱")
    assert "尊敬的管理员" in m.text and "<" not in m.text  # 8-bit GB2312 HTML, converted
    assert m.date is None and m.to == ()
    assert m.message_id.endswith("@csm-agent.invalid>")
    assert m.kind is MessageKind.NORMAL and not m.auto_submitted


def _bilingual(m: InboundMessage) -> None:
    assert m.subject == "Simple text. How are you? Как ты поживаешь?"  # two encoded-words joined
    assert "This line is in English\nА эта линия по-русски." in m.text
    assert m.delivered_to == (Address("bob@example.com"),)
    assert m.date == utc(2010, 2, 7, 22, 2, 38)
    assert m.kind is MessageKind.NORMAL


def _dashed_boundaries(m: InboundMessage) -> None:
    assert m.text == "Hi" and m.new_text == "Hi"
    assert m.subject == "Hi"
    assert m.to == (Address("user@example.com"),)
    assert m.date == utc(2012, 7, 10, 6, 14, 18)
    assert m.message_id.endswith("@csm-agent.invalid>")


def _eight_bit(m: InboundMessage) -> None:
    assert m.text.startswith("Превел")
    assert m.to == (Address("xxx@example.net"), Address("yyy@example.net"))
    assert m.sender == Address("bob@example.com", "bob")
    assert m.message_id == "<1275447987.2063.842.camel@pony>"
    assert m.kind is MessageKind.NORMAL


def _exchange_cancel(m: InboundMessage) -> None:
    assert m.subject == "Abgesagt: Test Event 1"
    assert m.kind is MessageKind.INVITATION and not m.auto_submitted
    assert len(m.calendar_parts) == 1
    ics = m.calendar_parts[0]
    assert ics.startswith(b"BEGIN:VCALENDAR") and b"METHOD:CANCEL" in ics and b"STATUS:CANCELLED" in ics
    assert m.text == ""  # both text alternatives are empty
    assert m.to == (Address("brechtel@med.uni-frankfurt.de"),)
    assert m.date == utc(2025, 3, 10, 12, 53, 34)


def _horde_request(m: InboundMessage) -> None:
    assert m.kind is MessageKind.INVITATION
    assert len(m.calendar_parts) == 1  # inline text/calendar and application/ics are the same ICS
    assert b"UID:20250310215946.axX7omDXW0OizUH9oNwYJiw@webmail.uni-frankfurt.de" in m.calendar_parts[0]
    assert "können" in m.text  # double-encoded UTF-8 repaired
    attached = {(a.filename, a.content_type) for a in m.attachments}
    assert ("event-invitation.ics", "text/calendar") in attached
    assert ("event-invitation.ics", "application/ics") in attached
    assert ("", "image/png") in attached
    assert m.date == utc(2025, 3, 10, 20, 59, 46)


def _thunderbird_request(m: InboundMessage) -> None:
    assert m.subject == "Einladung: Test 5"
    assert m.kind is MessageKind.INVITATION and not m.auto_submitted
    assert len(m.calendar_parts) == 1
    assert b"UID:0e4a0959-e1c7-4c5a-b353-d7abbd8ca8ac" in m.calendar_parts[0]
    assert [(a.filename, a.content_type) for a in m.attachments] == [("invite.ics", "application/ics")]
    assert m.text.endswith("hat Sie zu Test 5 eingeladen")


def _outlook_single_part(m: InboundMessage) -> None:
    assert m.kind is MessageKind.INVITATION and not m.auto_submitted
    assert len(m.calendar_parts) == 1
    assert b"UID:saev4ait1Phooj9Aecei5aesegh1Mohr" in m.calendar_parts[0]
    assert m.text == ""
    assert m.to == (Address("markus.brechtel@uk-koeln.de", "Markus Brechtel"),)
    assert m.message_id == f"<{m.content_hash[:32]}@csm-agent.invalid>"  # no Message-ID header
    assert m.date == utc(2025, 4, 15, 6, 53, 16)


def _teams(m: InboundMessage) -> None:
    assert m.kind is MessageKind.INVITATION and not m.auto_submitted
    assert len(m.calendar_parts) == 1 and b"FLE Standard Time" in m.calendar_parts[0]
    assert "Microsoft Teams -kokous" in m.text and "tätä" in m.text  # iso-8859-1 quoted-printable
    assert m.to == (Address("bart@example.com"), Address("homer@example.com"))


def _yahoo(m: InboundMessage) -> None:
    assert m.subject == "***SPAM*** Invitation\xa0: Test from Yahoo"  # double-encoded NBSP repaired
    assert m.kind is MessageKind.INVITATION
    assert len(m.calendar_parts) == 1
    ics = m.calendar_parts[0]
    assert ics.startswith(b"BEGIN:VCALENDAR") and ics.rstrip().endswith(b"END:VCALENDAR")
    assert "Test from Yahoo" in m.text and "Somewhere" in m.text  # HTML-only alternative
    assert m.reply_to == (Address("obmlinagora@yahoo.fr", "OBM Linagora"),)
    assert m.date == utc(2017, 1, 23, 12, 16, 35)


def _vacation(m: InboundMessage) -> None:
    assert m.kind is MessageKind.AUTO_REPLY
    assert m.kind_reason == "header Auto-Submitted: auto-replied"
    assert m.auto_submitted and m.bounced_recipients == ()
    assert m.subject == "Away until May 5"


def _exchange_ooo(m: InboundMessage) -> None:
    assert m.kind is MessageKind.AUTO_REPLY  # no Auto-Submitted header at all
    assert "X-Auto-Response-Suppress" in m.kind_reason
    assert m.auto_submitted
    assert m.sender == Address("nekonyaan@example.org", "Neko, Nyaan")
    assert m.subject == "Automatic reply: Nyaan"


def _mimecast(m: InboundMessage) -> None:
    assert m.kind is MessageKind.AUTO_REPLY  # wins over its Precedence: bulk
    assert "Auto-Submitted" in m.kind_reason
    assert m.auto_submitted
    assert m.subject == "AutoRespons :Nyaan?"
    assert m.reply_to == (Address("kijitora@example.com"),)
    assert m.delivered_to == (Address("system@errors.ef.example.org"),)


CORPUS_FACTS: dict[str, Callable[[InboundMessage], None]] = {
    "calmailproc_test-01-2.eml": _exchange_cancel,
    "calmailproc_test-04-1.eml": _horde_request,
    "calmailproc_test-05-1.eml": _thunderbird_request,
    "calmailproc_test-10.eml": _outlook_single_part,
    "flanker_8bitmime.eml": _eight_bit,
    "flanker_bilingual-simple.eml": _bilingual,
    "flanker_bounce_delayed.eml": _delayed_dsn,
    "flanker_bounce_gmail-invalid-address.eml": _gmail_bounce,
    "flanker_bounce_mailbox-full.eml": _aol_mailbox_full,
    "flanker_charset-gb2312.eml": _gb2312,
    "flanker_dashed-boundaries.eml": _dashed_boundaries,
    "flanker_disposition-notification.eml": _read_receipt,
    "james_yahooInvitation.eml": _yahoo,
    "sisimai_rfc3834-01.eml": _vacation,
    "sisimai_rfc3834-02.eml": _exchange_ooo,
    "sisimai_rfc3834-06.eml": _mimecast,
    "thunderbird_teams-meeting-invite.eml": _teams,
}


@needs_corpus
def test_every_corpus_file_has_expectations() -> None:
    assert CORPUS is not None
    assert sorted(p.name for p in CORPUS.glob("*.eml")) == sorted(CORPUS_FACTS)


@needs_corpus
@pytest.mark.parametrize("name", sorted(CORPUS_FACTS))
def test_corpus_message(name: str) -> None:
    m = corpus(name)
    CORPUS_FACTS[name](m)
    _assert_well_formed(m, (CORPUS / name).read_bytes() if CORPUS else b"")


def _assert_well_formed(m: InboundMessage, raw: bytes) -> None:
    assert m.content_hash == hashlib.sha256(raw).hexdigest()
    assert m.message_id.startswith("<") and m.message_id.endswith(">")
    assert m.date is None or m.date.utcoffset() == timedelta(0)
    for address in (m.sender, *m.to, *m.cc, *m.reply_to, *m.delivered_to):
        assert address is None or address.email == address.email.lower()
    _assert_storable(m)


def _assert_storable(value: object) -> None:
    """No lone surrogates anywhere: every string must encode as UTF-8 for the store."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, tuple):
        for item in value:
            _assert_storable(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _assert_storable(getattr(value, f.name))


@needs_corpus
@pytest.mark.parametrize("name", sorted(CORPUS_FACTS))
def test_corpus_survives_damage(name: str) -> None:
    """Truncated, re-line-ended and byte-flipped copies still parse."""
    assert CORPUS is not None
    raw = (CORPUS / name).read_bytes()
    damaged = [
        raw[: len(raw) // 2],
        raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"),
        raw.replace(b"\r\n", b"\r"),
        bytes(b ^ 0x80 if i % 97 == 50 else b for i, b in enumerate(raw)),
    ]
    for data in damaged:
        _assert_storable(parse_message(data))


# --------------------------------------------------------------- synthetic

BCC_FROM_CSM = """\
Return-Path: <carla@ourco.com>
Delivered-To: agent+deal-42@ourco.com
X-Original-To: Agent+Deal-42@ourco.com
From: Carla CSM <Carla@OurCo.com>
To: Jane Doe <jane@client.com>
Subject: Welcome aboard
Date: Tue, 05 Mar 2024 09:00:00 +0100
Message-ID: <welcome-1@ourco.com>

Hi Jane, welcome!
"""


def test_bcc_from_internal_person_shows_plus_address() -> None:
    m = msg(BCC_FROM_CSM, agent_addresses=(AGENT,))
    assert m.sender == Address("carla@ourco.com", "Carla CSM")
    assert m.to == (Address("jane@client.com", "Jane Doe"),)
    assert m.delivered_to == (Address("agent+deal-42@ourco.com"),)  # both headers, one address
    assert m.kind is MessageKind.NORMAL and not m.auto_submitted
    assert m.message_id == "<welcome-1@ourco.com>"
    assert m.date == utc(2024, 3, 5, 8, 0)
    assert m.new_text == "Hi Jane, welcome!"


OUTLOOK_FORWARD = """\
From: Carla CSM <carla@ourco.com>
To: agent@ourco.com
Subject: FW: Contract questions
Date: Tue, 05 Mar 2024 09:00:00 +0100

Please log this one.

________________________________
From: Jane Doe [mailto:Jane.Doe@client.com]
Sent: Monday, March 4, 2024 10:15 AM
To: Carla CSM <carla@ourco.com>; Bob Smith <bob@ourco.com>
Cc: "Doe, John" <john@client.com>
Subject: Contract questions

Hi Carla, a few questions.
"""


def test_outlook_inline_forward() -> None:
    m = msg(OUTLOOK_FORWARD)
    (block,) = m.forwarded
    assert block.sender == Address("jane.doe@client.com", "Jane Doe")
    assert block.to == (Address("carla@ourco.com", "Carla CSM"), Address("bob@ourco.com", "Bob Smith"))
    assert block.cc == (Address("john@client.com", "Doe, John"),)
    assert block.subject == "Contract questions"
    assert block.date == utc(2024, 3, 4, 9, 15)  # printed in the forwarder's zone (+0100)
    assert m.new_text == "Please log this one."


def test_outlook_html_forward() -> None:
    m = msg(
        "From: Carla <carla@ourco.com>\nTo: agent@ourco.com\nSubject: FW: Renewal\n"
        "Content-Type: text/html; charset=utf-8\n\n"
        "<html><body><p>Logging this.</p><div><p class=MsoNormal><b>From:</b> Jane Doe &lt;jane@client.com&gt;"
        "<br><b>Sent:</b> Monday, March 4, 2024 10:15 AM<br><b>To:</b> Carla &lt;carla@ourco.com&gt;<br>"
        "<b>Subject:</b> Renewal</p></div><p>We want to renew.</p></body></html>\n"
    )
    (block,) = m.forwarded
    assert block.sender == Address("jane@client.com", "Jane Doe")
    assert block.to == (Address("carla@ourco.com", "Carla"),)
    assert block.subject == "Renewal"
    assert m.new_text == "Logging this."


def test_gmail_inline_forward() -> None:
    m = msg(
        "From: Carla CSM <carla@ourco.com>\nTo: agent@ourco.com\nSubject: Fwd: Kickoff\n"
        "Date: Tue, 05 Mar 2024 09:00:00 -0500\nContent-Type: text/plain; charset=utf-8\n\nFYI\n\n"
        "---------- Forwarded message ---------\nFrom: Jane Doe <jane@client.com>\n"
        "Date: Mon, Mar 4, 2024 at 10:15 AM\nSubject: Kickoff\n"
        "To: Carla CSM <carla@ourco.com>, <bob@ourco.com>\nCc: john@client.com\n\n\nCan we meet?\n"
    )
    (block,) = m.forwarded
    assert block.sender == Address("jane@client.com", "Jane Doe")
    assert block.to == (Address("carla@ourco.com", "Carla CSM"), Address("bob@ourco.com"))
    assert block.cc == (Address("john@client.com"),)
    assert block.subject == "Kickoff"
    assert block.date == utc(2024, 3, 4, 15, 15)
    assert m.new_text == "FYI"


def test_apple_mail_inline_forward() -> None:
    m = msg(
        "From: Carla <carla@ourco.com>\nTo: agent@ourco.com\nSubject: Fwd: Kickoff\n\n"
        "Begin forwarded message:\n\nFrom: Jane Doe <jane@client.com>\nSubject: Kickoff\n"
        "Date: March 4, 2024 at 10:15:00 AM PST\nTo: Carla <carla@ourco.com>\n\nCan we meet?\n"
    )
    (block,) = m.forwarded
    assert block.sender == Address("jane@client.com", "Jane Doe")
    assert block.to == (Address("carla@ourco.com", "Carla"),)
    assert block.subject == "Kickoff"
    assert block.date == utc(2024, 3, 4, 18, 15)
    assert m.new_text == ""  # nothing written above the forward


def test_attached_rfc822_forward() -> None:
    inner = EmailMessage()
    inner["From"] = "Jane Doe <jane@client.com>"
    inner["To"] = "Carla <carla@ourco.com>"
    inner["Cc"] = "ops@client.com"
    inner["Subject"] = "Go-live date"
    inner["Date"] = "Mon, 04 Mar 2024 10:15:00 +0000"
    inner.set_content("Inner body that is not ours.\n")
    outer = EmailMessage()
    outer["From"] = "Carla <carla@ourco.com>"
    outer["To"] = AGENT
    outer["Subject"] = "Fwd: Go-live date"
    outer.set_content("See attached.\n")
    outer.add_attachment(inner, filename="Go-live date.eml")
    m = parse_message(outer.as_bytes())
    (block,) = m.forwarded
    assert block.sender == Address("jane@client.com", "Jane Doe")
    assert block.to == (Address("carla@ourco.com", "Carla"),)
    assert block.cc == (Address("ops@client.com"),)
    assert block.subject == "Go-live date"
    assert block.date == utc(2024, 3, 4, 10, 15)
    assert m.text == "See attached." and "Inner body" not in m.text
    (attachment,) = m.attachments
    assert attachment.content_type == "message/rfc822" and attachment.filename == "Go-live date.eml"
    assert attachment.size > 0


def test_quoted_reply_and_signature_are_stripped() -> None:
    m = msg(
        "From: Jane <jane@client.com>\nTo: carla@ourco.com\nSubject: Re: Kickoff\n"
        "In-Reply-To: <abc@ourco.com>\nReferences: <a0@ourco.com>\n <abc@ourco.com>\n\n"
        "Thursday works for us.\n\nJane\n-- \nJane Doe | Client Co\n+1 555 0100\n\n"
        "On Mon, Mar 4, 2024 at 10:15 AM Carla CSM <carla@ourco.com>\nwrote:\n"
        "> Can we meet Thursday?\n>\n> Carla\n"
    )
    assert m.new_text == "Thursday works for us.\n\nJane"
    assert m.in_reply_to == "<abc@ourco.com>"
    assert m.references == ("<a0@ourco.com>", "<abc@ourco.com>")
    assert m.forwarded == ()


def test_interleaved_reply_keeps_the_answers() -> None:
    m = msg(
        "From: Jane <jane@client.com>\nSubject: Re: Plan\n\n"
        "On Mon, Mar 4, 2024 at 10:15 AM Carla <carla@ourco.com> wrote:\n"
        "> First question?\nAnswer one.\n> Second question?\nAnswer two.\n"
    )
    assert m.new_text == "Answer one.\nAnswer two."


def test_outlook_reply_history_is_cut_and_not_a_forward() -> None:
    m = msg(
        "From: Jane <jane@client.com>\nSubject: RE: Plan\nIn-Reply-To: <x@ourco.com>\n\nSounds good.\n\n"
        "-----Original Message-----\nFrom: Carla <carla@ourco.com>\nSent: Monday, March 4, 2024 10:15 AM\n"
        "To: Jane <jane@client.com>\nSubject: Plan\n\nHere is the plan.\n"
    )
    assert m.new_text == "Sounds good."
    assert m.forwarded == ()


def test_signature_only() -> None:
    m = msg("From: a@b.com\nSubject: x\n\nSee you then.\n-- \nAlice\nACME Inc.\n")
    assert m.new_text == "See you then."
    assert m.text.endswith("ACME Inc.")


def test_html_only_body_is_converted() -> None:
    m = msg(
        "From: Jane <jane@client.com>\nSubject: HTML only\nContent-Type: text/html; charset=utf-8\n\n"
        "<html><head><style>p {color: red}</style></head><body><p>Hello&nbsp;Carla,</p>"
        "<p>Line <b>two</b><br>Line three</p><ul><li>first</li><li>second</li></ul>"
        "<div class=gmail_quote>On Mon, Mar 4, 2024 at 10:15 AM Carla &lt;c@ourco.com&gt; wrote:<br>"
        "<blockquote>Old text</blockquote></div><script>alert(1)</script></body></html>\n"
    )
    assert m.text.startswith("Hello Carla,\n\nLine two\nLine three\n\n- first\n- second")
    assert "color" not in m.text and "alert" not in m.text
    assert "> Old text" in m.text
    assert m.new_text == "Hello Carla,\n\nLine two\nLine three\n\n- first\n- second"


def test_missing_message_id_is_synthesised_from_content() -> None:
    raw = b"From: a@b.com\nSubject: no id\n\nbody\n"
    first, again, other = parse_message(raw), parse_message(raw), parse_message(raw + b"more\n")
    assert first.message_id == f"<{hashlib.sha256(raw).hexdigest()[:32]}@csm-agent.invalid>"
    assert again.message_id == first.message_id
    assert other.message_id != first.message_id


@pytest.mark.parametrize("sender", ["agent@ourco.com", "Agent@OurCo.com", "agent+deal-42@ourco.com"])
def test_agents_own_address_is_never_answered(sender: str) -> None:
    m = msg(f"From: Agent <{sender}>\nTo: jane@client.com\nSubject: Hello\n\nHi\n", agent_addresses=(AGENT,))
    assert m.auto_submitted
    assert m.kind is MessageKind.NORMAL
    assert "agent's own address" in m.kind_reason


def test_other_address_on_agent_domain_is_answered() -> None:
    m = msg("From: agentur@ourco.com\nSubject: Hello\n\nHi\n", agent_addresses=(AGENT,))
    assert not m.auto_submitted


@pytest.mark.parametrize(
    "raw", [b"", b"   \r\n\r\n", b"just some words, not an email\n", b"\x00\x01\x02\xff"]
)
def test_not_an_email_raises(raw: bytes) -> None:
    with pytest.raises(MessageParseError, match="not an email"):
        parse_message(raw)
    assert issubclass(MessageParseError, ValueError)


def test_google_calendar_invitation_is_invitation_but_never_answered() -> None:
    m = msg(
        "From: Jane <jane@client.com>\nSubject: Invitation: Kickoff\nAuto-Submitted: auto-generated\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nJoin us\n'
        "--b\nContent-Type: text/calendar; method=REQUEST\nContent-Transfer-Encoding: base64\n\n"
        "QkVHSU46VkNBTEVOREFSDQpFTkQ6VkNBTEVOREFSDQo=\n"
        '--b\nContent-Type: application/ics; name="invite.ics"\nContent-Disposition: attachment; '
        'filename="invite.ics"\nContent-Transfer-Encoding: base64\n\n'
        "QkVHSU46VkNBTEVOREFSDQpFTkQ6VkNBTEVOREFSDQo=\n--b--\n"
    )
    assert m.kind is MessageKind.INVITATION
    assert m.auto_submitted
    assert "Auto-Submitted: auto-generated" in m.kind_reason
    assert m.calendar_parts == (b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",)
    assert [(a.filename, a.content_type, a.size) for a in m.attachments] == [
        ("invite.ics", "application/ics", 32)
    ]


@pytest.mark.parametrize(
    ("header", "kind", "reason"),
    [
        ("X-Autoreply: yes", MessageKind.AUTO_REPLY, "X-Autoreply: yes"),
        ("X-Autorespond: vacation", MessageKind.AUTO_REPLY, "X-Autorespond"),
        ("Auto-Submitted: no", MessageKind.NORMAL, "no bounce"),
        ("Precedence: list", MessageKind.BULK, "Precedence: list"),
        ("Precedence: junk", MessageKind.BULK, "Precedence: junk"),
        ("List-Id: <news.client.com>", MessageKind.BULK, "List-Id: <news.client.com>"),
        ("List-Unsubscribe: <mailto:u@x.com>", MessageKind.BULK, "List-Unsubscribe"),
    ],
)
def test_header_signals(header: str, kind: MessageKind, reason: str) -> None:
    m = msg(f"From: a@client.com\n{header}\nSubject: Hello\n\nHi\n")
    assert m.kind is kind
    assert reason in m.kind_reason
    assert m.auto_submitted is (kind is not MessageKind.NORMAL)


@pytest.mark.parametrize("subject", ["Automatic reply: Hello", "Out of Office: Hello", "AutoReply: Hello"])
def test_auto_reply_subjects(subject: str) -> None:
    m = msg(f"From: a@client.com\nSubject: {subject}\n\nAway\n")
    assert m.kind is MessageKind.AUTO_REPLY and m.auto_submitted


def test_null_return_path_alone_is_never_answered() -> None:
    m = msg("Return-Path: <>\nFrom: a@client.com\nSubject: Hello\n\nHi\n")
    assert m.kind is MessageKind.NORMAL
    assert m.auto_submitted and "Return-Path <>" in m.kind_reason


def test_mailer_daemon_bounce_without_dsn() -> None:
    m = msg("From: MAILER-DAEMON@mx.client.com\nSubject: Undelivered Mail Returned to Sender\n\nSorry\n")
    assert m.kind is MessageKind.BOUNCE and m.auto_submitted
    assert m.bounced_recipients == ()


def test_dsn_keeps_only_permanent_failures() -> None:
    m = msg(
        "From: MAILER-DAEMON@mx.ourco.com\nSubject: Delivery Status Notification\nContent-Type: "
        'multipart/report; report-type=delivery-status; boundary="r"\n\n--r\nContent-Type: text/plain\n\n'
        "Failed.\n--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.ourco.com\n\n"
        "Final-Recipient: rfc822; Gone@Client.com\nAction: failed\nStatus: 5.1.1\n\n"
        "Final-Recipient: rfc822; slow@client.com\nAction: delayed\nStatus: 4.4.7\n\n"
        "Final-Recipient: rfc822; <later@client.com>\nAction: failed\nStatus: 4.0.0\n--r--\n"
    )
    assert m.kind is MessageKind.BOUNCE
    assert m.bounced_recipients == ("gone@client.com",)


def test_broken_mime_and_mixed_line_endings_do_not_raise() -> None:
    raw = (
        b"From: =?utf-8?q?J=C3=BCrgen?= <J@X.COM>\r\nSubject: =?bogus?Q?x?= \xe4rger\n"
        b"To: a@b.c, <\r\nDate: not a date\r\n"
        b'Content-Type: multipart/mixed; boundary="zz"\n\n--zz\r\nContent-Type: text/plain; charset=x-unknown\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!notbase64\n--zz\nContent-Type: text/html\n\n<p>Hi <b>there"
    )
    m = parse_message(raw)
    assert m.sender == Address("j@x.com", "Jürgen")
    assert m.date is None
    assert "ärger" in m.subject
    assert "Hi there" in m.text
    _assert_storable(m)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Wed, 20 Sep 1995 00:19:00 (EDT) -0400", utc(1995, 9, 20, 4, 19)),
        ("Fri, 29 Jul 2011 04:08:56 -0400 (EDT)", utc(2011, 7, 29, 8, 8, 56)),
        ("23 Jan 2017 12:16:35 +0000", utc(2017, 1, 23, 12, 16, 35)),
        ("Tue, 05 Mar 2024 09:00:00 -0000", utc(2024, 3, 5, 9, 0)),
        ("2024-03-05T09:00:00+01:00", utc(2024, 3, 5, 8, 0)),
        ("Fri, 31 Dec 9999 23:59:59 -1200", None),  # beyond datetime's range in UTC
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_date(value: str, expected: datetime | None) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Monday, March 4, 2024 10:15 AM", utc(2024, 3, 4, 9, 15)),
        ("Mon, Mar 4, 2024 at 3:05 PM", utc(2024, 3, 4, 14, 5)),
        ("4 March 2024 at 10:15:00 GMT", utc(2024, 3, 4, 10, 15)),
        ("March 4, 2024 at 10:15:00 AM PST", utc(2024, 3, 4, 18, 15)),
        ("Thursday, 7 March 2024 09:30", utc(2024, 3, 7, 8, 30)),
        ("Mon, 4 Mar 2024 10:15:00 +0000", utc(2024, 3, 4, 10, 15)),
        ("sometime next week", None),
    ],
)
def test_loose_date(value: str, expected: datetime | None) -> None:
    assert loose_date(value, timezone(timedelta(hours=1))) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Jane Doe <Jane@X.com>", (Address("jane@x.com", "Jane Doe"),)),
        ('"Doe, Jane" <jane@x.com>', (Address("jane@x.com", "Doe, Jane"),)),
        ("Doe, Jane <jane@x.com>", (Address("jane@x.com", "Doe, Jane"),)),
        ("jane@x.com", (Address("jane@x.com"),)),
        ("Jane Doe [mailto:jane@x.com]", (Address("jane@x.com", "Jane Doe"),)),
        ("Jane <jane@x.com>; Bob Smith; bob@y.org", (Address("jane@x.com", "Jane"), Address("bob@y.org"))),
        ("Only A Name", ()),
    ],
)
def test_loose_addresses(value: str, expected: tuple[Address, ...]) -> None:
    assert loose_addresses(value) == expected


def test_message_ids() -> None:
    assert message_ids("<a@x> <b@y>\t<a@x>") == ("<a@x>", "<b@y>")
    assert message_ids("c@z") == ("<c@z>",)
    assert message_ids("") == ()


def test_falls_back_to_compat32_when_the_default_policy_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def flaky(message: Message) -> str:
        calls.append("EmailMessage" if isinstance(message, EmailMessage) else type(message).__name__)
        if len(calls) == 1:
            raise IndexError("simulated failure inside the default policy")
        return body_text(message)

    monkeypatch.setattr("agent.mime.parse.body_text", flaky)
    m = msg("From: a@client.com\nSubject: Hello\n\nBody text\n")
    assert calls == ["EmailMessage", "Message"]  # default policy first, then compat32
    assert m.subject == "Hello" and m.text == "Body text"


def test_unparseable_message_is_kept_and_never_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(message: Message) -> str:
        raise RuntimeError("bug")

    monkeypatch.setattr("agent.mime.parse.body_text", broken)
    raw = b"From: a@client.com\nSubject: Hello\n\nBody\n"
    m = parse_message(raw)
    assert m.auto_submitted and "could not be parsed" in m.kind_reason
    assert m.content_hash == hashlib.sha256(raw).hexdigest()


SIMPLE_OR_NOT = [
    "Jane Doe <Jane.Doe@Acme.example>",
    "jane@acme.example",
    "Person 3 <p3@client3.example>, bob@b.example ,  O'Brien-Smith <ob@x.co.uk>",
    "J. R. Doe <j@x.example>",
    '"Doe, Jane" <jane@x.example>',
    "=?utf-8?q?J=C3=B6rg?= <joerg@x.example>",
    "jane@x.example (Jane Doe)",
    "Undisclosed recipients:;",
    "Jane Doe <jane@x.example>,",
    "<>",
    "Jane <jane@localhost>",
]


@pytest.mark.parametrize("value", SIMPLE_OR_NOT)
def test_the_fast_path_for_plain_addresses_agrees_with_the_parser(value: str) -> None:
    assert address_list(value) == parsed_list(value)


def test_every_corpus_address_header_parses_the_same_on_the_fast_path() -> None:
    assert CORPUS is not None
    values = [
        v
        for path in sorted(CORPUS.glob("*.eml"))
        for name in ("from", "to", "cc", "reply-to")
        for v in HeaderReader(BytesParser(policy=policy.compat32).parsebytes(path.read_bytes())).raw_values(
            name
        )
    ]
    assert len(values) > 30
    for value in values:
        assert address_list(value) == parsed_list(value), value
