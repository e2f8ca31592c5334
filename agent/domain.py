"""Plain data passed between the parts of the agent.

These dataclasses are the contract between the sources (mailboxes, calendars),
the pure core (matching, pipeline) and the store. They carry no behaviour that
does I/O, so the core can be tested with nothing but values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

# An issue's severity, least first (agent.severity reads it; rules route on it)
SEVERITIES = ("low", "medium", "high", "critical")
# What an issue is about (seeds/004's cases; agent.severity reads them); `inquiry` when only a severity word said so
ISSUE_KINDS = ("integration", "maintenance", "ticket", "bug", "inquiry")
# How an account becomes hybrid (seeds/004): a learning account buys the managed service, or the
# reverse; rules react with `when: {became_hybrid: ...}` (agent.handling.hybrid)
HYBRID_PATHS = ("learning-bought-service", "service-bought-learning")


class MessageKind(StrEnum):
    """What sort of message arrived; only ``NORMAL`` may ever be answered."""

    NORMAL = "normal"
    AUTO_REPLY = "auto_reply"  # out-of-office, vacation, autoresponders
    BULK = "bulk"  # mailing lists, newsletters, Precedence: bulk/list/junk
    BOUNCE = "bounce"  # delivery status notifications (RFC 3464 and look-alikes)
    RECEIPT = "receipt"  # read receipts (RFC 3798 MDN)
    INVITATION = "invitation"  # carries a text/calendar part (may be auto-generated)


@dataclass(frozen=True)
class Address:
    email: str  # lower-cased addr-spec
    name: str = ""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class ForwardedBlock:
    """Participants of a message that was forwarded to the agent."""

    sender: Address | None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    subject: str = ""
    date: datetime | None = None


@dataclass(frozen=True)
class InboundMessage:
    """One parsed email, independent of the mailbox it came from."""

    message_id: str  # with angle brackets; synthesised from a content hash if missing
    subject: str
    sender: Address | None  # From
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    delivered_to: tuple[Address, ...]  # Delivered-To / X-Original-To: shows plus-addresses on BCC
    date: datetime | None  # timezone-aware UTC, None if missing or unparseable
    in_reply_to: str | None
    references: tuple[str, ...]
    text: str  # the whole plain-text body (HTML converted when there is no text part)
    new_text: str  # the part written in this message: quoted history and signature removed
    kind: MessageKind
    kind_reason: str  # why the kind was chosen, e.g. "header Auto-Submitted: auto-replied"
    auto_submitted: bool  # True when the agent must never answer it
    bounced_recipients: tuple[str, ...] = ()  # for BOUNCE: the addresses that failed permanently
    forwarded: tuple[ForwardedBlock, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    calendar_parts: tuple[bytes, ...] = ()  # raw text/calendar or application/ics payloads
    content_hash: str = ""  # sha256 of the raw bytes
    authentication_results: tuple[str, ...] = ()  # raw Authentication-Results values (RFC 8601), top first
    # X-Original-From of list mail (List-Id): who a list (a Google Group) relayed the message for
    relayed_for: tuple[Address, ...] = ()

    @classmethod
    def bare(cls, message_id: str, **fields: Any) -> InboundMessage:
        """A message holding only what is given (the unparseable fallback, tests, benchmarks)."""
        empty: dict[str, Any] = {
            "subject": "",
            "sender": None,
            "to": (),
            "cc": (),
            "reply_to": (),
            "delivered_to": (),
            "date": None,
            "in_reply_to": None,
            "references": (),
            "text": "",
            "new_text": "",
            "kind": MessageKind.NORMAL,
            "kind_reason": "",
            "auto_submitted": False,
        }
        return cls(message_id=message_id, **{**empty, **fields})


@dataclass(frozen=True)
class MeetingVersion:
    """One version of one meeting (or of one occurrence of a recurring series).

    Identity is ``(uid, recurrence_id)``; versions are ordered by
    ``(sequence, dtstamp)``. All datetimes are timezone-aware UTC.
    """

    uid: str
    recurrence_id: str  # "" for a single meeting; ISO 8601 UTC of the original start otherwise
    sequence: int
    dtstamp: datetime | None
    method: str  # REQUEST, CANCEL, PUBLISH, ... ("" when the calendar has none)
    cancelled: bool  # METHOD:CANCEL or STATUS:CANCELLED
    title: str
    description: str
    location: str
    start: datetime
    end: datetime
    all_day: bool
    organizer: Address | None
    attendees: tuple[Address, ...] = ()
    assumed: str = ""  # what the parser had to guess, e.g. an unknown time zone read as the default


@dataclass(frozen=True)
class Participant:
    """A person on a deal, as the matcher sees it."""

    email: str
    name: str
    role: str  # pipeline role id (csm, client_admin, ...) or "contact"
    internal: bool


@dataclass(frozen=True)
class DealView:
    """What the pure core may know about a deal."""

    id: int
    name: str
    pipeline: str
    stage: str
    token: str  # the reply token used in agent+<token>@ and the subject tag
    client_domains: tuple[str, ...]
    people: tuple[Participant, ...]
    timezone: str
    attributes: dict[str, str] = field(default_factory=dict)
