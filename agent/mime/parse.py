"""Raw RFC 5322 bytes to an :class:`agent.domain.InboundMessage`.

Every mailbox backend hands its bytes to :func:`parse_message`, so the core
sees one shape whatever the server. Real mail is often malformed; the parser
degrades field by field instead of failing the whole message, because a
message that cannot be ingested stalls its mailbox cursor.

This module builds the message; reading addresses, dates, text and quoting is
done by its siblings (agent.mime.addresses, .dates, .text, .quoting). What the parser
is given is the message's skeleton (agent.mime.skeleton), which keeps a hostile
message's cost within agent.mime.limits.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import replace
from datetime import UTC, tzinfo
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any

from agent.domain import Address, Attachment, ForwardedBlock, InboundMessage, MessageKind
from agent.mime import limits
from agent.mime.addresses import address_list, loose_addresses, message_ids
from agent.mime.classify import classify
from agent.mime.dates import date_with_zone, loose_date, parse_date
from agent.mime.quoting import forwarded_fields, strip_quoted
from agent.mime.skeleton import CALENDAR_TYPES, SIZE_HEADER, skeleton
from agent.mime.text import HeaderReader, body_text, filename, is_attachment, iter_leaves, payload_bytes

log = logging.getLogger(__name__)

_FORWARD_SUBJECT = re.compile(r"^\s*(?:\[[^\]]*\]\s*)?(?:fwd?|wg|tr|rv|enc|doorst|vl)\s*:", re.IGNORECASE)
_REPLY_SUBJECT = re.compile(r"^\s*(?:\[[^\]]*\]\s*)?(?:re|aw|sv|antw|ref|rif)\s*:", re.IGNORECASE)
_CONTENT = re.compile(rb"\S")
_LEADING = re.compile(rb"[\r\n]*")


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


def parse_message(
    raw: bytes, *, agent_addresses: tuple[str, ...] = (), max_bytes: int = 0, size: int = 0
) -> InboundMessage:
    """Parse one message. Raises :class:`MessageParseError` only for input that is not an email.

    The parser is given the message's skeleton (agent.mime.skeleton): its structure, headers and
    the bodies that are read, within agent.mime.limits; attachments are recorded, not decoded.
    Over `max_bytes` (when > 0) only the headers are read. What was left out is said at the end
    of the text; a message that lost more than its bodies' tails is never answered (limits.py).
    `size` > 0: `raw` is only the header block of a message of that many bytes (a mailbox fetched
    no more of a message over `max_bytes`); it is read as that message would be.
    """
    if not _CONTENT.search(raw):  # not raw.strip(): that would copy a 30 MB message to look at it
        raise MessageParseError(f"not an email: the input is empty ({len(raw)} bytes)")
    digest = hashlib.sha256(raw).hexdigest()
    # A stray blank line before the headers would turn them into body (not lstrip(): a copy).
    leading = _LEADING.match(raw)
    start = leading.end() if leading else 0
    whole = size or len(raw) - start
    over = max_bytes > 0 and whole > max_bytes
    read = skeleton(raw, start, headers_only=over)
    if not read.has_headers:
        left = f" within the limits ({'; '.join(read.degraded)})" if read.degraded else ""
        raise MessageParseError(f"not an email: no header lines{left} (expected 'Name: value' lines first)")
    if over:
        note = (
            f"(The body was not read: the message is {whole / 1e6:.1f} MB, over the "
            f"{max_bytes / 1e6:.0f} MB of [mailbox] max_message_mb. The original stays in the mailbox.)"
        )
    else:
        note = limits.note(read.cut, read.degraded) if read.cut or read.degraded else ""
    error: Exception | None = None
    data = read.data  # its text bodies apart, put back once parsed; a fallback is given them inline
    for pol, headers_only in _ATTEMPTS:
        try:
            msg = BytesParser(policy=pol).parsebytes(data, headersonly=headers_only or over)
            if data is read.data and not read.put_back(msg):
                data = read.whole()
                msg = BytesParser(policy=pol).parsebytes(data, headersonly=headers_only or over)
        except Exception as exc:  # a parser's bug on broken MIME
            error, data = exc, read.whole()
            continue
        if not msg.keys():
            raise MessageParseError("not an email: no header lines (expected 'Name: value' lines first)")
        try:
            built = _build(msg, digest, agent_addresses, body=not over, note=note)
        except Exception as exc:
            log.warning("message %s: retrying with a simpler parser after %r", digest[:12], exc)
            error, data = exc, read.whole()
            continue
        return _degraded(built, read.degraded) if read.degraded else built
    return _unparseable(digest, error)


def _degraded(msg: InboundMessage, reasons: list[str]) -> InboundMessage:
    """Never answered: what was left out might have been what says not to (limits.py)."""
    said = "; ".join(reasons)
    reason = f"{msg.kind_reason}; {said}" if msg.auto_submitted else f"over the reading limits: {said}"
    return replace(msg, auto_submitted=True, kind_reason=reason)


def _build(
    msg: Message, digest: str, agent_addresses: tuple[str, ...], *, body: bool = True, note: str = ""
) -> InboundMessage:
    headers = HeaderReader(msg)
    subject = headers.text("subject")
    sender = next(iter(_addresses(headers, "from")), None)
    sent = date_with_zone(headers.raw("date"))
    # Trailing blanks mean nothing; without them a message with no quoted history has its text and
    # its new_text the same string (agent.mime.quoting), which the parsing helper then pickles once.
    text = "\n\n".join(t for t in (body_text(msg) if body else "", note) if t).rstrip()
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
        # only on list mail: on a direct message the header is whatever its sender wrote
        relayed_for=_addresses(headers, "x-original-from") if headers.raw("list-id") else (),
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


def _addresses(headers: HeaderReader, *names: str) -> tuple[Address, ...]:
    found: dict[str, Address] = {}
    for name in names:
        for value in headers.raw_values(name):
            for address in address_list(value):
                found.setdefault(address.email, address)
    return tuple(found.values())


# --------------------------------------------------------- parts and forwards


def _calendar_parts(msg: Message) -> list[tuple[str, bytes]]:
    """(content type, bytes) of each calendar part; clients often attach the same ICS twice."""
    found: list[tuple[str, bytes]] = []
    seen: set[bytes] = set()
    for part in iter_leaves(msg):
        ctype = part.get_content_type()
        # Some clients label an .ics file application/octet-stream.
        is_ics = ctype == "application/octet-stream" and filename(part).lower().endswith(".ics")
        if ctype not in CALENDAR_TYPES and not is_ics:
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
    unread = part.get(SIZE_HEADER)
    if unread is not None:  # the skeleton left the body out and wrote down its decoded size
        try:
            return int(str(unread).strip())
        except ValueError:
            return 0
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
