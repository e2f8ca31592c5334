"""Every query the agent makes, in one place, over one session (one transaction)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Executable, Table, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.store import models as m

MAX_REFERENCES = 20
TOKEN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: people read these aloud


class Repo:
    """Thin, typed access to the store; implements matching.Directory."""

    def __init__(self, session: Session) -> None:
        self.s = session

    # --- deals -----------------------------------------------------------
    def deal(self, deal_id: int) -> m.Deal | None:
        return self.s.get(m.Deal, deal_id)

    def deals(self) -> Sequence[m.Deal]:
        return self.s.scalars(select(m.Deal).order_by(m.Deal.id)).all()

    def deal_by_name(self, name: str) -> m.Deal | None:
        return self.s.scalars(select(m.Deal).where(m.Deal.name == name)).first()

    def account(self, name: str) -> m.Account:
        acc = self.s.scalars(select(m.Account).where(m.Account.name == name)).first()
        if acc is None:
            acc = m.Account(name=name, name_key=m.name_key(name))
            self.s.add(acc)
        return acc

    def new_token(self) -> str:
        while True:
            token = "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(8))
            if not self.deals_by_token(token):
                return token

    def add(self, row: Any) -> None:
        self.s.add(row)
        self.s.flush()

    # --- the rows every message writes and reads: Core statements ----------
    # The ORM's unit of work and query layers cost several times what SQLite does with the
    # statement (docs/performance.md, the ingest profile). Rows written here are seen by every
    # later query of the transaction; they are loaded as objects only when someone asks for them.
    def insert(self, model: type[m.Base], **values: Any) -> int:
        """One row, and its id."""
        table = cast(Table, model.__table__)  # every model of ours is a plain table
        result = self.s.connection().execute(insert(table), values)
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def _ids(self, query: Executable) -> set[int]:
        self.s.flush()  # what the ORM's autoflush would do: pending rows are seen (no-op when clean)
        return {i for i in self.s.connection().execute(query).scalars() if i is not None}

    # --- matching.Directory ----------------------------------------------
    def deals_by_token(self, token: str) -> set[int]:
        deals = m.Deal.__table__.c
        return self._ids(select(deals.id).where(deals.token == token.upper()))

    def deals_by_message_ids(self, message_ids: Iterable[str]) -> set[int]:
        ids = [i for i in message_ids if i]
        if not ids:
            return set()
        messages, outbox = m.Message.__table__.c, m.OutboxEmail.__table__.c
        found = self._ids(select(messages.deal_id).where(messages.message_id.in_(ids)))
        return found | self._ids(select(outbox.deal_id).where(outbox.message_id.in_(ids)))

    def deals_by_email(self, email: str) -> set[int]:
        contacts = m.Contact.__table__.c
        return self._ids(select(contacts.deal_id).where(contacts.email == email.lower()))

    def deals_by_domain(self, domain: str) -> set[int]:
        domains = m.ClientDomain.__table__.c
        return self._ids(select(domains.deal_id).where(domains.domain == domain.lower()))

    def deals_named_in(self, text: str) -> set[int]:
        """Deals whose name, or whose client's name, appears in `text` as whole words.

        The text's word sequences are looked up in an index of normalised names, so the cost
        grows with the length of the subject, not with the number of deals.
        """
        grams = _word_grams(text)
        if not grams:
            return set()
        found = set(self.s.scalars(select(m.Deal.id).where(m.Deal.name_key.in_(grams))))
        accounts = select(m.Account.id).where(m.Account.name_key.in_(grams))
        found |= set(self.s.scalars(select(m.Deal.id).where(m.Deal.account_id.in_(accounts))))
        return found

    def deals_by_id(self, deal_id: int) -> set[int]:
        return {deal_id} if self.s.get(m.Deal, deal_id) is not None else set()

    # --- inbound events ---------------------------------------------------
    def event(self, key: str) -> m.InboundEvent | None:
        return self.s.scalars(select(m.InboundEvent).where(m.InboundEvent.key == key)).first()

    def event_known(self, key: str, content_hash: str | None) -> bool:
        """Whether an input was taken in before, by its key or its content: one indexed look-up."""
        events = m.InboundEvent.__table__.c
        known = events.key == key
        if content_hash:
            known = or_(known, events.content_hash == content_hash)
        return bool(self._ids(select(events.id).where(known)))

    def event_with_hash(self, content_hash: str) -> m.InboundEvent | None:
        q = select(m.InboundEvent).where(m.InboundEvent.content_hash == content_hash)
        return self.s.scalars(q).first()

    def cursor(self, source: str) -> str | None:
        row = self.s.get(m.Cursor, source)
        return row.value if row else None

    def set_cursor(self, source: str, value: str, now: datetime) -> None:
        row = self.s.get(m.Cursor, source)
        if row is None:
            self.s.add(m.Cursor(source=source, value=value, updated_at=now))
        else:
            row.value, row.updated_at = value, now

    def quarantined(self) -> Sequence[m.InboundEvent]:
        q = select(m.InboundEvent).where(m.InboundEvent.status == "quarantined").order_by(m.InboundEvent.id)
        return self.s.scalars(q).all()

    def events_for(self, deal_id: int) -> Sequence[m.AuditEntry]:
        q = select(m.AuditEntry).where(m.AuditEntry.deal_id == deal_id).order_by(m.AuditEntry.id)
        return self.s.scalars(q).all()

    # --- messages ---------------------------------------------------------
    def message_known(self, message_id: str) -> bool:
        messages = m.Message.__table__.c
        return bool(self._ids(select(messages.id).where(messages.message_id == message_id)))

    def message(self, row_id: int) -> m.Message | None:
        return self.s.get(m.Message, row_id)

    def messages_for(self, deal_id: int) -> Sequence[m.Message]:
        q = (
            select(m.Message)
            .where(m.Message.deal_id == deal_id)
            .order_by(m.Message.received_at, m.Message.id)
        )
        return self.s.scalars(q).all()

    def unmatched(self) -> Sequence[m.Message]:
        q = select(m.Message).where(m.Message.status.in_(("unmatched", "held"))).order_by(m.Message.id)
        return self.s.scalars(q).all()

    def internal_notes(self, deal_id: int, since: datetime) -> list[str]:
        """What our people wrote to the agent on the deal since then (their notes from a call)."""
        q = select(m.Message.excerpt).where(
            m.Message.deal_id == deal_id,
            m.Message.direction == "internal",
            m.Message.status == "matched",
            m.Message.received_at >= since,
        )
        return [text.strip() for text in self.s.scalars(q.order_by(m.Message.received_at)) if text.strip()]

    def client_message_since(self, deal_id: int, since: datetime) -> bool:
        q = select(func.count(m.Message.id)).where(
            m.Message.deal_id == deal_id,
            m.Message.direction == "inbound",
            m.Message.status == "matched",  # an out-of-office or a bounce is no reply
            m.Message.received_at >= since,
        )
        return bool(self.s.scalar(q))

    def thread_ids(self, deal_id: int) -> tuple[str, list[str]]:
        """(In-Reply-To, References) for a new email on the deal's conversation.

        The parent is the latest message of the conversation, ours or the client's; a reply's
        References are the parent's References plus the parent's Message-ID (RFC 5322).
        """
        last_in = self.s.execute(
            select(m.Message.message_id, m.Message.references, m.Message.received_at)
            .where(
                m.Message.deal_id == deal_id,
                m.Message.direction.in_(("inbound", "bcc", "cc")),
                m.Message.status == "matched",
            )
            .order_by(m.Message.received_at.desc(), m.Message.id.desc())
        ).first()
        last_out = self.s.execute(
            select(m.OutboxEmail.message_id, m.OutboxEmail.references, m.OutboxEmail.created_at)
            .where(m.OutboxEmail.deal_id == deal_id, m.OutboxEmail.status != "withdrawn")
            .order_by(m.OutboxEmail.created_at.desc(), m.OutboxEmail.id.desc())
        ).first()
        candidates = [p for p in (last_in, last_out) if p is not None]
        if not candidates:
            return "", []
        parent_id, parent_refs, _ = max(candidates, key=lambda p: p[2])
        refs = list(dict.fromkeys([*(parent_refs or []), parent_id]))
        # Long threads: keep the first (the thread's root) and the latest, as RFC 5322 suggests.
        return parent_id, refs if len(refs) <= MAX_REFERENCES else [refs[0], *refs[-(MAX_REFERENCES - 1) :]]

    # --- meetings ----------------------------------------------------------
    def meeting(self, uid: str, recurrence_id: str) -> m.Meeting | None:
        q = select(m.Meeting).where(m.Meeting.uid == uid, m.Meeting.recurrence_id == recurrence_id)
        return self.s.scalars(q).first()

    def meeting_by_id(self, meeting_id: int) -> m.Meeting | None:
        return self.s.get(m.Meeting, meeting_id)

    def meetings_from(self, source: str) -> Sequence[m.Meeting]:
        return self.s.scalars(select(m.Meeting).where(m.Meeting.source == source)).all()

    def meetings_for(self, deal_id: int) -> Sequence[m.Meeting]:
        q = select(m.Meeting).where(m.Meeting.deal_id == deal_id).order_by(m.Meeting.start)
        return self.s.scalars(q).all()

    def meeting_types_by_status(self, deal_id: int) -> dict[str, set[str]]:
        """status -> the meeting types on the deal in it, in one query (the rules' facts need several)."""
        out: dict[str, set[str]] = {}
        for kind, status in self.s.execute(
            select(m.Meeting.type, m.Meeting.status).where(m.Meeting.deal_id == deal_id)
        ):
            if kind:
                out.setdefault(status, set()).add(kind)
        return out

    # --- tasks and stages ----------------------------------------------------
    def task(self, deal_id: int, key: str) -> m.Task | None:
        return self.s.scalars(select(m.Task).where(m.Task.deal_id == deal_id, m.Task.key == key)).first()

    def tasks(self, deal_id: int) -> Sequence[m.Task]:
        return self.s.scalars(select(m.Task).where(m.Task.deal_id == deal_id).order_by(m.Task.id)).all()

    def done_task_keys(self, deal_id: int) -> set[str]:
        q = select(m.Task.key).where(m.Task.deal_id == deal_id, m.Task.status == "done")
        return set(self.s.scalars(q))

    def visits(self, deal_id: int) -> Sequence[m.StageVisit]:
        q = select(m.StageVisit).where(m.StageVisit.deal_id == deal_id).order_by(m.StageVisit.id)
        return self.s.scalars(q).all()

    def tasks_in_stage(self, deal_id: int, stage: str) -> Sequence[m.Task]:
        q = select(m.Task).where(m.Task.deal_id == deal_id, m.Task.stage == stage).order_by(m.Task.id)
        return self.s.scalars(q).all()

    def open_visit(self, deal_id: int) -> m.StageVisit | None:
        q = select(m.StageVisit).where(m.StageVisit.deal_id == deal_id, m.StageVisit.exited_at.is_(None))
        return self.s.scalars(q.order_by(m.StageVisit.id.desc())).first()

    def pending_approval(self, deal_id: int) -> m.Approval | None:
        q = select(m.Approval).where(m.Approval.deal_id == deal_id, m.Approval.status == "pending")
        return self.s.scalars(q).first()

    # --- timers --------------------------------------------------------------
    def add_timer(
        self, key: str, kind: str, due_at: datetime, deal_id: int | None, payload: dict[str, Any]
    ) -> None:
        if self.s.scalars(select(m.Timer.id).where(m.Timer.key == key)).first() is None:
            self.add(m.Timer(key=key, kind=kind, due_at=due_at, deal_id=deal_id, payload=payload))

    def next_due(self, *, emails: bool = True) -> datetime | None:
        """The earliest pending timer or queued email (both indexed)."""
        timer = self.s.scalar(select(func.min(m.Timer.due_at)).where(m.Timer.fired_at.is_(None)))
        email = (
            self.s.scalar(select(func.min(m.OutboxEmail.due_at)).where(m.OutboxEmail.status == "queued"))
            if emails
            else None
        )
        found = [d for d in (timer, email) if d is not None]
        return min(found) if found else None

    def due_timers(self, now: datetime, limit: int = 100) -> Sequence[m.Timer]:
        q = select(m.Timer).where(m.Timer.fired_at.is_(None), m.Timer.due_at <= now)
        return self.s.scalars(q.order_by(m.Timer.due_at, m.Timer.id).limit(limit)).all()

    # --- outbox ----------------------------------------------------------------
    def outbox_by_key(self, key: str) -> m.OutboxEmail | None:
        return self.s.scalars(select(m.OutboxEmail).where(m.OutboxEmail.idempotency_key == key)).first()

    def review_in_thread(self, message_ids: list[str]) -> m.OutboxEmail | None:
        """One of the agent's review requests among these Message-IDs."""
        if not message_ids:
            return None
        q = select(m.OutboxEmail).where(
            m.OutboxEmail.message_id.in_(message_ids), m.OutboxEmail.review_of.is_not(None)
        )
        return self.s.scalars(q).first()

    def question_in_thread(self, message_ids: list[str]) -> m.OutboxEmail | None:
        """One of the agent's questions about a held message, among these Message-IDs."""
        if not message_ids:
            return None
        q = select(m.OutboxEmail).where(
            m.OutboxEmail.message_id.in_(message_ids),
            m.OutboxEmail.about_message_id.is_not(None) | m.OutboxEmail.about_meeting_id.is_not(None),
        )
        return self.s.scalars(q).first()

    def outbox(self, email_id: int) -> m.OutboxEmail | None:
        return self.s.get(m.OutboxEmail, email_id)

    def claim_email(self, email_id: int) -> m.OutboxEmail | None:
        """The email, locked for this transaction; None while another worker holds it (PostgreSQL).

        SQLite has one writer at a time and no row locks: there it is the plain row.
        """
        q = select(m.OutboxEmail).where(m.OutboxEmail.id == email_id).with_for_update(skip_locked=True)
        return self.s.scalars(q).first()

    # --- leases: which worker watches which source -------------------------------------
    def hold_lease(self, name: str, holder: str, now: datetime, seconds: float) -> bool:
        """Take or renew the lease on `name` for `seconds`; False while another worker holds it."""
        until = now + timedelta(seconds=seconds)
        free = or_(m.Lease.holder == holder, m.Lease.expires_at < now)
        taken = self.s.execute(
            update(m.Lease).where(m.Lease.name == name, free).values(holder=holder, expires_at=until)
        )
        if getattr(taken, "rowcount", 0):
            return True
        if self.s.get(m.Lease, name) is not None:
            return False
        try:
            with self.s.begin_nested():  # two workers may both find it missing: one insert wins
                self.s.add(m.Lease(name=name, holder=holder, expires_at=until))
        except IntegrityError:
            return False
        return True

    def leases_of(self, holder: str, now: datetime) -> list[str]:
        """The sources a worker holds now (its own `worker:` heartbeat aside)."""
        q = select(m.Lease.name).where(
            m.Lease.holder == holder, m.Lease.expires_at >= now, ~m.Lease.name.startswith("worker:")
        )
        return sorted(self.s.scalars(q))

    def live_workers(self, now: datetime) -> int:
        q = select(func.count()).where(m.Lease.name.startswith("worker:"), m.Lease.expires_at >= now)
        return int(self.s.scalar(q) or 0)

    def release_lease(self, name: str, holder: str) -> None:
        """Give a source up at once (another worker takes it at its next pass), if this worker holds it."""
        self.s.execute(delete(m.Lease).where(m.Lease.name == name, m.Lease.holder == holder))

    def lease_holder(self, name: str, now: datetime) -> str | None:
        lease = self.s.get(m.Lease, name)
        return lease.holder if lease is not None and lease.expires_at >= now else None

    def outbox_all(self, deal_id: int | None = None) -> Sequence[m.OutboxEmail]:
        q = select(m.OutboxEmail).order_by(m.OutboxEmail.id)
        if deal_id is not None:
            q = q.where(m.OutboxEmail.deal_id == deal_id)
        return self.s.scalars(q).all()

    def unsent_about_meeting(self, meeting_id: int) -> Sequence[m.OutboxEmail]:
        q = select(m.OutboxEmail).where(
            m.OutboxEmail.meeting_id == meeting_id, m.OutboxEmail.status.in_(("queued", "review"))
        )
        return self.s.scalars(q).all()

    def counts(self) -> dict[str, Any]:
        """Sizes for `status`: outbox by status, quarantine, mail waiting for a person, pending timers."""
        outbox = dict(
            self.s.execute(select(m.OutboxEmail.status, func.count()).group_by(m.OutboxEmail.status)).all()
        )
        messages = dict(
            self.s.execute(select(m.Message.status, func.count()).group_by(m.Message.status)).all()
        )
        return {
            "emails": {str(k): int(v) for k, v in outbox.items()},
            "messages": {str(k): int(v) for k, v in messages.items()},
            "quarantined": self.s.scalar(
                select(func.count()).select_from(m.InboundEvent).where(m.InboundEvent.status == "quarantined")
            ),
            "unmatched": self.s.scalar(
                select(func.count()).select_from(m.Message).where(m.Message.status.in_(("unmatched", "held")))
            ),
            "timers_pending": self.s.scalar(
                select(func.count()).select_from(m.Timer).where(m.Timer.fired_at.is_(None))
            ),
            "deals": self.s.scalar(select(func.count()).select_from(m.Deal)),
        }

    def reaction_seconds(self, since: datetime) -> list[float]:
        """For each email sent since then: seconds from when it was ready to go to when it went."""
        q = select(m.OutboxEmail.ready_at, m.OutboxEmail.sent_at).where(
            m.OutboxEmail.status == "sent",
            m.OutboxEmail.sent_at >= since,
            m.OutboxEmail.ready_at.is_not(None),
        )
        return sorted(
            max(0.0, (sent - ready).total_seconds()) for ready, sent in self.s.execute(q) if sent and ready
        )

    def email_history(self, email: m.OutboxEmail) -> list[m.AuditEntry]:
        """The audit entries about one email, oldest first."""
        q = select(m.AuditEntry).where(
            m.AuditEntry.deal_id == email.deal_id if email.deal_id else m.AuditEntry.deal_id.is_(None),
            m.AuditEntry.kind.like("email_%"),
        )
        return [
            a
            for a in self.s.scalars(q.order_by(m.AuditEntry.id))
            if (a.details or {}).get("outbox_id") == email.id
        ]

    def due_outbox(self, now: datetime, limit: int = 100) -> Sequence[int]:
        q = select(m.OutboxEmail.id).where(
            m.OutboxEmail.status.in_(("queued", "sending")), m.OutboxEmail.due_at <= now
        )
        return self.s.scalars(q.order_by(m.OutboxEmail.due_at, m.OutboxEmail.id).limit(limit)).all()

    def sent_since(self, since: datetime) -> list[tuple[int | None, list[Any]]]:
        """(deal id, To) of every email sent since then: what the daily caps count (no bodies loaded)."""
        q = select(m.OutboxEmail.deal_id, m.OutboxEmail.to).where(
            m.OutboxEmail.status == "sent", m.OutboxEmail.sent_at > since
        )
        return [(deal_id, to) for deal_id, to in self.s.execute(q)]

    def has_sent(self, deal_id: int, template: str) -> bool:
        q = select(m.OutboxEmail.id).where(
            m.OutboxEmail.deal_id == deal_id,
            m.OutboxEmail.template == template,
            m.OutboxEmail.status == "sent",
        )
        return self.s.scalars(q).first() is not None

    # --- addresses --------------------------------------------------------------
    def blocked(self, emails: Iterable[str]) -> set[str]:
        q = select(m.AddressFlag.email).where(
            m.AddressFlag.email.in_([e.lower() for e in emails]),
            (m.AddressFlag.bounced_at.is_not(None)) | (m.AddressFlag.opted_out_at.is_not(None)),
        )
        return set(self.s.scalars(q))

    def flag(self, email: str) -> m.AddressFlag:
        row = self.s.get(m.AddressFlag, email.lower())
        if row is None:
            row = m.AddressFlag(email=email.lower(), reason="")
            self.s.add(row)
        return row

    # --- audit ---------------------------------------------------------------------
    def audit(
        self,
        at: datetime,
        kind: str,
        *,
        deal_id: int | None,
        event_id: int | None,
        rule: str = "",
        reason: str = "",
        **details: Any,
    ) -> None:
        self.insert(
            m.AuditEntry,
            at=at,
            kind=kind,
            deal_id=deal_id,
            event_id=event_id,
            rule=rule,
            reason=reason,
            details=details,
        )
        # Also told in the log once the transaction commits (agent.store.db): what the agent did and why.
        deal = self.s.get(m.Deal, deal_id) if deal_id else None
        story = f"{deal.name}: " if deal else ""
        story += reason or kind.replace("_", " ")
        story += f" (rule {rule})" if rule and rule not in story else ""
        self.s.info.setdefault(DECISIONS, []).append(story)


DECISIONS = "decisions"  # Session.info key: audit lines waiting for the commit to be logged
MAX_NAME_WORDS = 8


def _word_grams(text: str) -> list[str]:
    """Every run of 1..8 consecutive words, normalised like `name_key`."""
    words = re.findall(r"[\w&'.-]+", text.lower())
    words = [w.strip(".'-") for w in words if w.strip(".'-")]
    grams = {
        " ".join(words[i : i + n]) for n in range(1, MAX_NAME_WORDS + 1) for i in range(len(words) - n + 1)
    }
    return sorted(grams)
