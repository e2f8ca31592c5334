"""Raw RFC 5322 bytes to an :class:`agent.domain.InboundMessage`.

Every mailbox backend hands its bytes to :func:`parse_message`, so the core
sees one shape whatever the server. Real mail is often malformed; the parser
degrades field by field instead of failing the whole message, because a
message that cannot be ingested stalls its mailbox cursor.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from agent.domain import Address, Attachment, ForwardedBlock, InboundMessage, MessageKind
from agent.mailboxes.classify import classify
from agent.mailboxes.mime_text import (
    HeaderReader,
    body_text,
    decode_words,
    filename,
    forwarded_fields,
    is_attachment,
    iter_leaves,
    payload_bytes,
    repair_mojibake,
    scrub,
    strip_quoted,
)

log = logging.getLogger(__name__)

__all__ = [
    "MessageParseError",
    "address_list",
    "loose_addresses",
    "loose_date",
    "message_ids",
    "parse_date",
    "parse_message",
]

_CALENDAR_TYPES = ("text/calendar", "application/ics")
_FORWARD_SUBJECT = re.compile(r"^\s*(?:\[[^\]]*\]\s*)?(?:fwd?|wg|tr|rv|enc|doorst|vl)\s*:", re.IGNORECASE)
_REPLY_SUBJECT = re.compile(r"^\s*(?:\[[^\]]*\]\s*)?(?:re|aw|sv|antw|ref|rif)\s*:", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_MAILTO = re.compile(r"[\[<(]\s*mailto:\s*([^\]>)\s]+)\s*[\]>)]", re.IGNORECASE)


# Parse attempts, most faithful first. compat32 never parses headers on access;
# headers-only is the last resort for bodies that break the MIME parser.
class _Message(EmailMessage):
    """An EmailMessage that parses each header once, and reads its Content-Type once.

    policy.default parses a header into a structured object on every access, and the
    content type is asked for some thirty times per message (walking parts, finding the
    body, attachments, invitations): the profile of bench/ingest.py put a fifth of the
    whole pipeline there. A parsed message is never changed, so the answer cannot go stale.
    """

    def get_content_type(self) -> str:
        cached: str | None = self.__dict__.get("_content_type")
        if cached is None:
            cached = self.__dict__["_content_type"] = super().get_content_type()
        return cached

    def get(self, name: str, failobj: Any = None) -> Any:
        # Headers of parts (Content-Type params, charsets, file names) were asked for about ten
        # times per message, each time parsed again: an eighth of the ingest.
        parsed: dict[str, Any] = self.__dict__.setdefault("_headers_parsed", {})
        key = name.lower()
        if key not in parsed:
            parsed[key] = super().get(name, _ABSENT)
        value = parsed[key]
        return failobj if value is _ABSENT else value


_ABSENT = object()


_DEFAULT = policy.default.clone(message_factory=_Message)
_ATTEMPTS = ((_DEFAULT, False), (policy.compat32, False), (policy.compat32, True))


class MessageParseError(ValueError):
    """The input is not an email at all: empty, or without any header line."""


def parse_message(raw: bytes, *, agent_addresses: tuple[str, ...] = (), max_bytes: int = 0) -> InboundMessage:
    """Parse one message. Raises :class:`MessageParseError` only for input that is not an email.

    Over `max_bytes` (when > 0) only the headers are read: Python's email parser takes about
    eight times a message's size in memory, which a 50 MB attachment would turn into 400 MB.
    Such a message is still matched, threaded and logged by its headers.
    """
    if not raw or not raw.strip():
        raise MessageParseError(f"not an email: the input is empty ({len(raw)} bytes)")
    digest = hashlib.sha256(raw).hexdigest()
    data = raw.lstrip(b"\r\n")  # a stray blank line before the headers would turn them into body
    if max_bytes and len(data) > max_bytes:
        return _headers_only(data, digest, agent_addresses, max_bytes)
    error: Exception | None = None
    for pol, headers_only in _ATTEMPTS:
        try:
            msg = BytesParser(policy=pol).parsebytes(data, headersonly=headers_only)
        except Exception as exc:  # e.g. RecursionError on absurdly nested MIME
            error = exc
            continue
        if not msg.keys():
            raise MessageParseError("not an email: no header lines (expected 'Name: value' lines first)")
        try:
            return _build(msg, digest, agent_addresses)
        except Exception as exc:
            log.warning("message %s: retrying with a simpler parser after %r", digest[:12], exc)
            error = exc
    return _unparseable(digest, error)


def _headers_only(
    data: bytes, digest: str, agent_addresses: tuple[str, ...], max_bytes: int
) -> InboundMessage:
    end = data.find(b"\r\n\r\n") if b"\r\n\r\n" in data[:262144] else data.find(b"\n\n")
    head = data[: end if 0 < end < 262144 else 262144]  # a header block is never this long
    msg = BytesParser(policy=policy.default).parsebytes(head + b"\r\n\r\n", headersonly=True)
    if not msg.keys():
        raise MessageParseError("not an email: no header lines (expected 'Name: value' lines first)")
    note = (
        f"(The body was not read: the message is {len(data) / 1e6:.1f} MB, over the "
        f"{max_bytes / 1e6:.0f} MB of [mailbox] max_message_mb. The original stays in the mailbox.)"
    )
    return _build(msg, digest, agent_addresses, body=False, note=note)


def _build(
    msg: Message, digest: str, agent_addresses: tuple[str, ...], *, body: bool = True, note: str = ""
) -> InboundMessage:
    headers = HeaderReader(msg)
    subject = headers.text("subject")
    sender = next(iter(_addresses(headers, "from")), None)
    sent = _date_with_zone(headers.raw("date"))
    text = body_text(msg) if body else note
    calendars = _calendar_parts(msg) if body else []
    verdict = classify(
        msg,
        headers,
        sender=sender,
        subject=subject,
        calendar_type=calendars[0][0] if calendars else "",
        agent_addresses=agent_addresses,
    )
    # A bounce or receipt returns the original message: it was not forwarded to us.
    returned = verdict.kind in (MessageKind.BOUNCE, MessageKind.RECEIPT)
    zone = sent.tzinfo if sent and sent.tzinfo else UTC
    return InboundMessage(
        message_id=next(iter(message_ids(headers.raw("message-id"))), f"<{digest[:32]}@csm-agent.invalid>"),
        subject=subject,
        sender=sender,
        to=_addresses(headers, "to"),
        cc=_addresses(headers, "cc"),
        reply_to=_addresses(headers, "reply-to"),
        delivered_to=_addresses(headers, "delivered-to", "x-original-to"),
        date=sent.astimezone(UTC) if sent else None,
        in_reply_to=next(iter(message_ids(headers.raw("in-reply-to"))), None),
        references=message_ids(" ".join(headers.raw_values("references"))),
        text=text,
        new_text=strip_quoted(text),
        kind=verdict.kind,
        kind_reason=verdict.reason,
        auto_submitted=verdict.auto_submitted,
        bounced_recipients=verdict.bounced_recipients,
        forwarded=() if returned or not body else _forwarded(msg, headers, text, subject, zone),
        attachments=_attachments(msg) if body else (),
        calendar_parts=tuple(data for _, data in calendars),
        content_hash=digest,
        authentication_results=tuple(headers.raw_values("authentication-results")),
    )


def _unparseable(digest: str, error: Exception | None) -> InboundMessage:
    # Only reached through a bug in this module; the message is still stored and never answered.
    log.error("message %s could not be parsed: %r", digest[:12], error)
    return InboundMessage.bare(
        f"<{digest[:32]}@csm-agent.invalid>",
        kind_reason=f"could not be parsed ({error!r}); never answered",
        auto_submitted=True,
        content_hash=digest,
    )


# ---------------------------------------------------------------- addresses


def _addresses(headers: HeaderReader, *names: str) -> tuple[Address, ...]:
    found: dict[str, Address] = {}
    for name in names:
        for value in headers.raw_values(name):
            for address in address_list(value):
                found.setdefault(address.email, address)
    return tuple(found.values())


def address_list(value: str) -> list[Address]:
    """Addresses of one header value, with decoded display names and lower-cased addr-specs."""
    simple = _simple_list(value)
    return simple if simple is not None else parsed_list(value)


def parsed_list(value: str) -> list[Address]:
    """address_list() through the email package's parsers, whatever the header holds."""
    strict: list[tuple[str, str]] = []
    defects = True
    try:
        header = policy.default.header_factory("to", value)
        strict = [(a.display_name, a.addr_spec) for a in getattr(header, "addresses", ())]
        defects = bool(header.defects)
    except Exception:  # the default policy raises IndexError on e.g. "a@b.c, <"
        pass
    pairs = _valid(strict)
    if defects:
        # compat32 splits on ";" and keeps "(comment)" names; take it when it finds more.
        loose = _valid((decode_words(name), addr) for name, addr in getaddresses([value]))
        if sum("@" in a for _, a in loose) > sum("@" in a for _, a in pairs):
            pairs = loose
    return [Address(email=addr.lower(), name=_clean_name(name, addr)) for name, addr in pairs]


# `Name <a@b.c>` or `a@b.c` with a plain ASCII name: nothing there for a parser to decode or repair.
_ADDR_SPEC = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_SIMPLE = re.compile(rf"\s*(?:([A-Za-z0-9 .'_-]*?)\s*<({_ADDR_SPEC})>|({_ADDR_SPEC}))\s*")


def _simple_list(value: str) -> list[Address] | None:
    """The common case without the default policy's header parser (a fifth of parsing a message).

    None when any item is not that simple: quotes, comments, encoded words, groups, 8-bit text.
    """
    found = []
    for item in value.split(","):
        match = _SIMPLE.fullmatch(item)
        if match is None:
            return None
        name, bracketed, bare = match.groups()
        addr = bracketed or bare
        found.append(Address(email=addr.lower(), name=_clean_name(name or "", addr)))
    return found


def _valid(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(n, a.strip()) for n, a in pairs if a.strip() and a.strip() != "<>" and not re.search(r"\s", a)]


def _clean_name(name: str, email: str) -> str:
    name = re.sub(r"[ \t]+", " ", repair_mojibake(scrub(name))).strip("'\" ")
    return "" if name.lower() == email.lower() else name


def loose_addresses(value: str) -> tuple[Address, ...]:
    """Addresses as mail clients print them in quoted or forwarded headers.

    Handles ``Jane Doe <jane@x.com>``, ``"Doe, Jane" <jane@x.com>``, bare
    addresses, Outlook's ``Jane Doe [mailto:jane@x.com]`` and ";" separators.
    """
    found: dict[str, Address] = {}
    carry = ""
    for piece, separator in _split_list(_MAILTO.sub(r"<\1>", value)):
        piece = carry + piece
        match = _EMAIL.search(piece)
        if not match:
            # "Doe, Jane <j@x.com>" unquoted: the comma was part of the name.
            carry = piece + separator if separator == "," else ""
            continue
        carry = ""
        email = match.group(0).lower()
        name = piece[: piece.index("<")] if "<" in piece[: match.start()] else ""
        found.setdefault(email, Address(email=email, name=_clean_name(name, email)))
    return tuple(found.values())


def _split_list(value: str) -> list[tuple[str, str]]:
    """Split on "," and ";" outside quotes and angle brackets; pairs of (piece, separator)."""
    pieces: list[tuple[str, str]] = []
    current: list[str] = []
    quoted, depth = False, 0
    for char in value:
        if char == '"':
            quoted = not quoted
        elif char == "<" and not quoted:
            depth += 1
        elif char == ">" and not quoted:
            depth = max(0, depth - 1)
        elif char in ",;" and not quoted and depth == 0:
            pieces.append(("".join(current), char))
            current = []
            continue
        current.append(char)
    pieces.append(("".join(current), ""))
    return pieces


def message_ids(value: str) -> tuple[str, ...]:
    """Message-IDs in a header, with angle brackets, in order and without repeats."""
    ids = re.findall(r"<[^<>\s]+>", value)
    if not ids:  # some clients drop the brackets
        ids = [f"<{token.strip('<>')}>" for token in re.split(r"[\s,]+", value) if "@" in token]
    return tuple(dict.fromkeys(ids))


# -------------------------------------------------------------------- dates

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "mär": 3, "mrz": 3, "apr": 4, "may": 5, "mai": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "okt": 10, "nov": 11, "dec": 12, "dez": 12,
}  # fmt: skip
_ZONES = {
    "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6,
    "PST": -8, "PDT": -7, "BST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3,
}  # fmt: skip
_TIME = re.compile(r"\b(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([ap])\.?\s?m\b\.?)?", re.IGNORECASE)
_OFFSET = re.compile(r"\s*(?:(?:GMT|UTC)\s*)?([+-])(\d{1,2}):?(\d{2})?\b")


def parse_date(value: str) -> datetime | None:
    """A Date header as timezone-aware UTC; None when it cannot be read."""
    parsed = _date_with_zone(value)
    return parsed.astimezone(UTC) if parsed else None


def _date_with_zone(value: str) -> datetime | None:
    # Comments such as "(EDT)" or "(PST)" confuse the stdlib when they sit before the offset.
    cleaned = " ".join(re.sub(r"\([^()]*\)", " ", value).split())
    if not cleaned:
        return None
    try:
        parsed = parsedate_to_datetime(cleaned)
        # "-0000" (and no zone at all) means the sender did not know its offset: take it as UTC.
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        parsed.astimezone(UTC)  # raises OverflowError at the edges of the calendar (year 1, 9999)
        return parsed
    except (TypeError, ValueError, IndexError, OverflowError):
        return loose_date(cleaned, UTC)


def loose_date(value: str, default_zone: tzinfo) -> datetime | None:
    """Dates as clients print them in forwarded headers ("Monday, March 4, 2024 10:15 AM").

    Without a zone the time is taken in ``default_zone``: Outlook and Gmail print
    it in the forwarder's own zone, which the outer Date header carries.
    """
    try:
        parsed = datetime.fromisoformat(value.strip())
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=default_zone)).astimezone(UTC)
    except (ValueError, OverflowError):
        pass
    time = _TIME.search(value)
    year = re.search(r"\b(19|20)\d{2}\b", value)
    month = next((_MONTHS[w[:3]] for w in re.findall(r"[^\W\d_]+", value.lower()) if w[:3] in _MONTHS), 0)
    outside_time = value[: time.start()] + " " + value[time.end() :] if time else value
    without_year = outside_time.replace(year.group(0), " ") if year else ""
    day = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", without_year)
    if not (time and year and month and day):
        return None
    hour, minute, second = int(time.group(1)), int(time.group(2)), int(time.group(3) or 0)
    if time.group(4):
        hour = hour % 12 + (12 if time.group(4).lower() == "p" else 0)
    try:
        local = datetime(int(year.group(0)), month, int(day.group(1)), hour, minute, second)
        return local.replace(tzinfo=_zone(value[time.end() :], default_zone)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _zone(text: str, default: tzinfo) -> tzinfo:
    offset = _OFFSET.match(text)
    if offset:
        minutes = int(offset.group(2)) * 60 + int(offset.group(3) or 0)
        return timezone(timedelta(minutes=-minutes if offset.group(1) == "-" else minutes))
    word = re.match(r"\s*([A-Z]{1,4})\b", text)
    if word and word.group(1) in _ZONES:
        return timezone(timedelta(hours=_ZONES[word.group(1)]))
    return default


# --------------------------------------------------------- parts and forwards


def _calendar_parts(msg: Message) -> list[tuple[str, bytes]]:
    """(content type, bytes) of each calendar part; clients often attach the same ICS twice."""
    found: list[tuple[str, bytes]] = []
    seen: set[bytes] = set()
    for part in iter_leaves(msg):
        ctype = part.get_content_type()
        # Some clients label an .ics file application/octet-stream.
        is_ics = ctype == "application/octet-stream" and filename(part).lower().endswith(".ics")
        if ctype not in _CALENDAR_TYPES and not is_ics:
            continue
        data = payload_bytes(part)
        key = b"\n".join(line.rstrip() for line in data.strip().splitlines())
        if key and key not in seen:
            seen.add(key)
            found.append((ctype, data))
    return found


def _attachments(msg: Message) -> tuple[Attachment, ...]:
    return tuple(
        Attachment(filename=filename(part), content_type=part.get_content_type(), size=_size(part))
        for part in iter_leaves(msg)
        if is_attachment(part)
    )


def _size(part: Message) -> int:
    if part.get_content_maintype() != "message":
        encoded = part.get_payload()
        if isinstance(encoded, str) and part.get("content-transfer-encoding", "").strip().lower() == "base64":
            # from the encoded length: decoding a 20 MB attachment only to measure it costs 20 MB more
            tail = encoded.rstrip()
            chars = len(encoded) - sum(encoded.count(c) for c in "\r\n \t")
            return max(0, chars * 3 // 4 - (len(tail) - len(tail.rstrip("="))))
        return len(payload_bytes(part))
    inner = part.get_payload()
    try:
        return len(inner[0].as_bytes()) if isinstance(inner, list) and isinstance(inner[0], Message) else 0
    except Exception:  # re-serialising a broken attached message
        return 0


def _forwarded(
    msg: Message, headers: HeaderReader, text: str, subject: str, zone: tzinfo
) -> tuple[ForwardedBlock, ...]:
    blocks: list[ForwardedBlock] = []
    for part in iter_leaves(msg):
        inner = part.get_payload() if part.get_content_type() == "message/rfc822" else None
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            blocks.append(_block_from_message(inner[0]))
    # Outlook's "From: / Sent:" block is a forward only when the message is not a reply.
    outlook = bool(_FORWARD_SUBJECT.match(subject)) or not (
        _REPLY_SUBJECT.match(subject) or headers.raw("in-reply-to")
    )
    for fields in forwarded_fields(text, outlook_blocks=outlook):
        blocks.append(
            ForwardedBlock(
                sender=next(iter(loose_addresses(fields.get("from", ""))), None),
                to=loose_addresses(fields.get("to", "")),
                cc=loose_addresses(fields.get("cc", "")),
                subject=fields.get("subject", ""),
                date=loose_date(fields["date"], zone) if "date" in fields else None,
            )
        )
    return tuple(dict.fromkeys(blocks))


def _block_from_message(inner: Message) -> ForwardedBlock:
    headers = HeaderReader(inner)
    return ForwardedBlock(
        sender=next(iter(_addresses(headers, "from")), None),
        to=_addresses(headers, "to"),
        cc=_addresses(headers, "cc"),
        subject=headers.text("subject"),
        date=parse_date(headers.raw("date")),
    )
