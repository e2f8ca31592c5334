"""SQLAlchemy 2.0 typed models. Every datetime is stored as UTC.

SQLite drops time zones, so `UTCDateTime` puts UTC back on the way out; the
rest of the code only ever sees aware datetimes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Account(Base):
    """The client organisation (entity) a deal belongs to."""

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    name_key: Mapped[str] = mapped_column(String(200), index=True, default="")  # see name_key()


class Deal(Base):
    __tablename__ = "deals"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    name_key: Mapped[str] = mapped_column(String(200), index=True, default="")  # see name_key()
    pipeline: Mapped[str] = mapped_column(String(80))
    stage: Mapped[str] = mapped_column(String(80))
    team: Mapped[str] = mapped_column(String(40), default="", server_default="")  # [[teams]] name; "" main
    token: Mapped[str] = mapped_column(String(16), unique=True)
    # A rule's move that waits for the stage's tasks: {stage, target, rule, reason, at}; {} none
    held_move: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    # The deal's own chat channels, by purpose ("deal", "escalation"): {service, id, name}
    chat_channels: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    timezone: Mapped[str] = mapped_column(String(64))
    contract_start: Mapped[date | None] = mapped_column(Date)
    contract_end: Mapped[date | None] = mapped_column(Date)
    contract_months: Mapped[int | None] = mapped_column(Integer)
    payment_type: Mapped[str | None] = mapped_column(String(40))
    products: Mapped[list[Any]] = mapped_column(default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    csat: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]

    account: Mapped[Account | None] = relationship()
    contacts: Mapped[list[Contact]] = relationship(back_populates="deal", order_by="Contact.id")
    domains: Mapped[list[ClientDomain]] = relationship(order_by="ClientDomain.id")
    roles: Mapped[list[RoleAssignment]] = relationship(back_populates="deal", order_by="RoleAssignment.id")


class ClientDomain(Base):
    """A mail domain of the client (never a free-mail domain): matches mail from unknown colleagues."""

    __tablename__ = "client_domains"
    __table_args__ = (UniqueConstraint("deal_id", "domain"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    domain: Mapped[str] = mapped_column(String(253), index=True)


class Contact(Base):
    """A person on the client side."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[str] = mapped_column(String(80))
    deal: Mapped[Deal] = relationship(back_populates="contacts")


class RoleAssignment(Base):
    """Who of ours fills an internal role (csm, onboarding_manager, ...) on a deal."""

    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("deal_id", "role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    role: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    deal: Mapped[Deal] = relationship(back_populates="roles")


class StageVisit(Base):
    """One stay of a deal in a stage; a deal may visit a stage more than once."""

    __tablename__ = "stage_visits"
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    stage: Mapped[str] = mapped_column(String(80))
    entered_at: Mapped[datetime]
    exited_at: Mapped[datetime | None]


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("deal_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    key: Mapped[str] = mapped_column(String(80))
    stage: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(300))
    # open | awaiting_approval (marked done, its Accountable person asked) | done
    status: Mapped[str] = mapped_column(String(20), default="open")
    responsible: Mapped[str] = mapped_column(String(80))
    accountable: Mapped[str] = mapped_column(String(80))
    consulted: Mapped[list[Any]] = mapped_column(default=list)
    informed: Mapped[list[Any]] = mapped_column(default=list)
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    # who marked it done (a person's address, "rule ID", "the command line"), and who approved it
    done_by: Mapped[str] = mapped_column(String(320), default="", server_default="")
    approved_by: Mapped[str] = mapped_column(String(320), default="", server_default="")
    rejection: Mapped[str] = mapped_column(Text, default="", server_default="")  # the last "reject <why>"
    # each Consulted person asked: {role, email, name, asked_at, answer, answered_at}
    consults: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")


class Message(Base):
    """An email the agent received (or a copy of one it sent), tied to a deal or not."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"), index=True)
    message_id: Mapped[str] = mapped_column(String(998), index=True)
    source_key: Mapped[str] = mapped_column(String(400), unique=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    sender: Mapped[str] = mapped_column(String(320), default="")
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    direction: Mapped[str] = mapped_column(String(20))  # inbound | outbound | internal | bcc
    kind: Mapped[str] = mapped_column(String(20))
    # matched | unmatched | held (a person is asked) | ignored
    status: Mapped[str] = mapped_column(String(20), index=True)
    match_strategy: Mapped[str] = mapped_column(String(40), default="")
    match_reason: Mapped[str] = mapped_column(Text, default="")
    match_confidence: Mapped[float] = mapped_column(default=0.0)
    candidates: Mapped[list[Any]] = mapped_column(default=list)
    received_at: Mapped[datetime]  # when the agent read it: ordering never trusts a sender's clock
    date: Mapped[datetime | None]  # the Date header, as the sender's client wrote it
    excerpt: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(10), default="", server_default="")  # agent.severity
    references: Mapped[list[Any]] = mapped_column(default=list)  # its References: our replies extend them
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)


class Meeting(Base):
    __tablename__ = "meetings"
    __table_args__ = (UniqueConstraint("uid", "recurrence_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"), index=True)
    uid: Mapped[str] = mapped_column(String(500))
    recurrence_id: Mapped[str] = mapped_column(String(40), default="")
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    dtstamp: Mapped[datetime | None]
    title: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(80), default="")
    start: Mapped[datetime]
    end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))
    organizer: Mapped[str] = mapped_column(String(320), default="")
    attendees: Mapped[list[Any]] = mapped_column(default=list)
    match_reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(1000), default="", index=True)  # file or URL it came from
    candidates: Mapped[list[Any]] = mapped_column(
        default=list
    )  # deals it may be about, while a person is asked
    # A recurring series no deal claims is stored as one row, its first occurrence, with the
    # calendar text here; the other occurrences become rows only once a deal claims it.
    series: Mapped[str] = mapped_column(Text, default="")


class InboundEvent(Base):
    """Every input, stored once by its natural key; quarantined inputs keep their bytes and error."""

    __tablename__ = "inbound_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(500), unique=True)
    source: Mapped[str] = mapped_column(String(40))  # mail | calendar | timer | cli
    status: Mapped[str] = mapped_column(String(20))  # processed | quarantined | skipped
    received_at: Mapped[datetime]
    error: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    # sha256 of a mail's bytes: the same message under a new UIDVALIDITY is recognised
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)


class Cursor(Base):
    """How far a source has been read (IMAP: UIDVALIDITY and last UID); moved only after a commit."""

    __tablename__ = "cursors"
    source: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class AuditEntry(Base):
    """Append-only: what changed, which event caused it, which rule fired and why."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_events.id"))
    kind: Mapped[str] = mapped_column(String(40))
    rule: Mapped[str] = mapped_column(String(120), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OutboxEmail(Base):
    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"), index=True)
    template: Mapped[str] = mapped_column(String(80))
    idempotency_key: Mapped[str] = mapped_column(String(500), unique=True)
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    to: Mapped[list[Any]] = mapped_column(default=list)
    cc: Mapped[list[Any]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    in_reply_to: Mapped[str] = mapped_column(String(998), default="")
    references: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(20))  # queued | sending | sent | withdrawn | failed
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # When it could first have gone: the arrival of the input that caused it (a reply, a calendar
    # change, a timer coming due), or its due time when it was delayed; sent_at - ready_at is the
    # agent's reaction time, reported by `status` and /metrics.
    ready_at: Mapped[datetime | None]
    # 4xx and unreachable servers are retried for [transport] retry_for_hours from this moment
    first_attempt_at: Mapped[datetime | None]
    # Several workers on one store: the worker sending it, and until when the others leave it alone
    # (a worker that died mid-send is taken over after that, with the same Message-ID).
    claimed_by: Mapped[str] = mapped_column(String(200), default="", server_default="")
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # per recipient: "sent", "deferred: 451 ...", "refused: 550 ..."; a retry goes to the others only
    delivery: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rule: Mapped[str] = mapped_column(String(120), default="")
    stage: Mapped[str] = mapped_column(String(80), default="")
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"))
    unless_replied: Mapped[bool] = mapped_column(default=False)
    # a question to a person about this message (which deal is it?); their reply answers it
    about_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", name="fk_outbox_about_message")
    )
    about_meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetings.id", name="fk_outbox_about_meeting")
    )
    # a request to review this draft (another outbox row); the reviewer's reply decides it.
    # Indexed: every email sent asks for its confirmation request (addresses.blocked), which a
    # scan would look for through the whole outbox, bodies and all
    review_of: Mapped[int | None] = mapped_column(
        ForeignKey("outbox.id", name="fk_outbox_review_of"), index=True
    )
    # a request about this task (its approval, or a Consulted person's input); the reply answers it
    about_task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", name="fk_outbox_about_task"))
    # a request to confirm this issue's severity; the reply confirms or corrects it
    about_issue_id: Mapped[int | None] = mapped_column(ForeignKey("issues.id", name="fk_outbox_about_issue"))
    # held until a person in this role (of its department) approves it; nobody else may release it
    approver_role: Mapped[str] = mapped_column(String(80), default="", server_default="")
    # an iCalendar REQUEST sent with it (a sync meeting's invitation), as text
    calendar_ics: Mapped[str] = mapped_column(Text, default="", server_default="")

    __table_args__ = (
        Index("ix_outbox_status_due", "status", "due_at"),
        Index("ix_outbox_status_sent", "status", "sent_at"),
    )


class Timer(Base):
    """Work that comes due later; fires once, also if it came due while the agent was down."""

    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_pending", "fired_at", "due_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))  # in_stage_for | no_reply | meeting_end
    due_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    fired_at: Mapped[datetime | None]


class Lease(Base):
    """Which worker watches a source (a mailbox, a calendar) until when; renewed while it lives."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]


class AddressFlag(Base):
    """Per-address state: bounced or opted out addresses get no more mail."""

    __tablename__ = "address_flags"
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    bounced_at: Mapped[datetime | None]
    opted_out_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")


class Approval(Base):
    __tablename__ = "approvals"
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    stage: Mapped[str] = mapped_column(String(80))
    target_stage: Mapped[str] = mapped_column(String(80))
    approver: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20))  # pending | granted | denied
    requested_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]


class CsatAnswer(Base):
    """A client contact's answer to the onboarding survey: one per contact and deal, the latest.

    The score is on the survey's own scale, stored beside it (the survey's text states it), so
    a report never mixes a 1-5 answer with a 0-10 one unknowingly; `original` keeps the words it
    was read from ("9/10" brought to 5 on a 1-5 survey), `comment` what the client wrote after it.
    """

    __tablename__ = "csat_answers"
    __table_args__ = (UniqueConstraint("deal_id", "contact_email"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    contact_email: Mapped[str] = mapped_column(String(320))
    score: Mapped[int] = mapped_column(Integer)
    scale_min: Mapped[int] = mapped_column(Integer)
    scale_max: Mapped[int] = mapped_column(Integer)
    original: Mapped[str] = mapped_column(Text, default="")
    normalised: Mapped[bool] = mapped_column(default=False)
    comment: Mapped[str] = mapped_column(Text, default="")
    # the survey email it answers (its thread, or the survey sent to the contact when only the token says)
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", name="fk_csat_survey"))
    message_id: Mapped[str] = mapped_column(String(998), default="")  # the answer's own Message-ID
    answered_at: Mapped[datetime]


class ChatPost(Base):
    """A notification to a chat channel, with the outbox's guarantees (docs/chat.md)."""

    __tablename__ = "chat_posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"), index=True)
    channel: Mapped[str] = mapped_column(String(120))  # a [[chat.channels]] name, or deal:<purpose>
    idempotency_key: Mapped[str] = mapped_column(String(500), unique=True)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    facts: Mapped[list[Any]] = mapped_column(default=list)
    link: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20))  # agent.chat.status
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    first_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    remote_id: Mapped[str] = mapped_column(String(80), default="")  # Slack's ts
    rule: Mapped[str] = mapped_column(String(120), default="")

    __table_args__ = (Index("ix_chat_posts_status_due", "status", "due_at"),)


class Issue(Base):
    """A problem reported on a deal, with the severity read from the words and the one a person confirmed."""

    __tablename__ = "issues"
    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", name="fk_issue_message"))
    kind: Mapped[str] = mapped_column(String(40))  # bug | integration | maintenance | inquiry | escalation
    summary: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(10))  # as read: low | medium | high | critical
    evidence: Mapped[str] = mapped_column(Text, default="")  # the words it was read from
    confirmed: Mapped[str] = mapped_column(String(10), default="")  # as the CSM team lead confirmed it
    confirmed_by: Mapped[str] = mapped_column(String(320), default="")
    status: Mapped[str] = mapped_column(String(20))  # open | confirming | routed | closed
    ticket: Mapped[str] = mapped_column(String(80), default="")
    reported_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


def name_key(name: str) -> str:
    """Names compared the way people write them: case and spacing do not matter."""
    return " ".join(name.lower().split())
