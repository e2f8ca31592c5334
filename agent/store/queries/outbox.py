"""The outbox: emails queued, sent or held, and the questions and reviews among them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, cast, func, or_, select
from sqlalchemy.orm import defer

from agent.store import models as m
from agent.store.queries.base import Queries

_OUTBOX = m.OutboxEmail.__table__.c
_BY_KEY = select(_OUTBOX.id).where(_OUTBOX.idempotency_key == bindparam("key"))
_NO_BODIES = (
    defer(m.OutboxEmail.body_text),
    defer(m.OutboxEmail.body_html),
    defer(m.OutboxEmail.calendar_ics),
)


class OutboxQueries(Queries):
    def outbox(self, email_id: int) -> m.OutboxEmail | None:
        return self.s.get(m.OutboxEmail, email_id)

    def outbox_without_bodies(self, email_id: int) -> m.OutboxEmail | None:
        """The row to record what became of a send: its bodies (a forward's: 40 KB) are loaded only if
        asked for. Read whole, they were a fifth of what recording a send cost after a backlog."""
        return self.s.get(m.OutboxEmail, email_id, options=_NO_BODIES)

    def key_taken(self, key: str) -> bool:
        """Whether an email with this idempotency key was queued (its id alone: a row is not loaded)."""
        return bool(self._ids(_BY_KEY, {"key": key}))

    def in_review(self, deal_id: int, template: str) -> bool:
        """Whether an email of the template waits for a person's review on the deal."""
        q = select(m.OutboxEmail.id).where(
            m.OutboxEmail.deal_id == deal_id,
            m.OutboxEmail.template == template,
            m.OutboxEmail.status == "review",
        )
        return self.s.execute(q.limit(1)).first() is not None

    def outbox_all(self, deal_id: int | None = None) -> Sequence[m.OutboxEmail]:
        q = select(m.OutboxEmail).order_by(m.OutboxEmail.id)
        if deal_id is not None:
            q = q.where(m.OutboxEmail.deal_id == deal_id)
        return self.s.scalars(q).all()

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

    def request_answered(self, in_reply_to: str | None, references: Sequence[str]) -> m.OutboxEmail | None:
        """The one request of the agent's (review, question, approval) that a reply answers.

        In-Reply-To names the message replied to: when it is one of the agent's emails, the reply
        answers that one (a request, or nothing when it is not one). Without it, or when it names
        a message that is not the agent's, the nearest request in References is answered: the
        last one named. A deal's emails share one conversation, so References may name several.
        """
        ids = [i for i in (in_reply_to, *references) if i]
        if not ids:
            return None
        found = {
            e.message_id: e
            for e in self.s.scalars(select(m.OutboxEmail).where(m.OutboxEmail.message_id.in_(ids)))
        }
        if in_reply_to and in_reply_to in found:
            parent = found[in_reply_to]
            return parent if _asks(parent) else None
        return next((found[i] for i in reversed(references) if i in found and _asks(found[i])), None)

    def requests_about(self, draft_id: int) -> Sequence[m.OutboxEmail]:
        """The review requests written about one draft (the first, and any question back)."""
        q = select(m.OutboxEmail).where(m.OutboxEmail.review_of == draft_id).order_by(m.OutboxEmail.id)
        return self.s.scalars(q).all()

    def claim_email(self, email_id: int) -> m.OutboxEmail | None:
        """The email, locked for this transaction; None while another worker holds it (PostgreSQL).

        SQLite has one writer at a time and no row locks: there it is the plain row.
        """
        q = select(m.OutboxEmail).where(m.OutboxEmail.id == email_id).with_for_update(skip_locked=True)
        return self.s.scalars(q).first()

    def unsent_about_meeting(self, meeting_id: int) -> Sequence[m.OutboxEmail]:
        q = select(m.OutboxEmail).where(
            m.OutboxEmail.meeting_id == meeting_id, m.OutboxEmail.status.in_(("queued", "review"))
        )
        return self.s.scalars(q).all()

    def due_outbox(self, now: datetime, limit: int = 100) -> Sequence[int]:
        q = select(m.OutboxEmail.id).where(
            m.OutboxEmail.status.in_(("queued", "sending")), m.OutboxEmail.due_at <= now
        )
        return self.s.scalars(q.order_by(m.OutboxEmail.due_at, m.OutboxEmail.id).limit(limit)).all()

    def oldest_due(self, now: datetime) -> datetime | None:
        """When the email that has waited longest past its due time was due (None: nothing is overdue)."""
        q = select(func.min(m.OutboxEmail.due_at)).where(
            m.OutboxEmail.status.in_(("queued", "sending")), m.OutboxEmail.due_at <= now
        )
        return self.s.scalar(q)

    # What the daily caps count (outbox.queue), asked for each email sent. Not every email sent in
    # the day: after a backlog that is thousands, read and decoded again for each of them.
    def sent_on_deal_since(self, deal_id: int, since: datetime) -> list[list[Any]]:
        """The To of each email sent on the deal since then (no bodies loaded)."""
        q = select(m.OutboxEmail.to).where(
            m.OutboxEmail.deal_id == deal_id, m.OutboxEmail.status == "sent", m.OutboxEmail.sent_at > since
        )
        return list(self.s.scalars(q))

    def sent_to_since(self, emails: Iterable[str], since: datetime) -> list[list[Any]]:
        """The To of each email sent since then with one of these addresses in its To, maybe more: the
        caller counts. The addresses are looked for in the stored JSON's text (in C, as JSON writes
        them: quoted, escaped), so that the day's emails are not all read and decoded."""
        to = cast(m.OutboxEmail.to, Text)
        found = [to.like(f"%{_like(json.dumps(e))}%", escape="\\") for e in emails]
        if not found:
            return []
        q = select(m.OutboxEmail.to).where(
            m.OutboxEmail.status == "sent", m.OutboxEmail.sent_at > since, or_(*found)
        )
        return list(self.s.scalars(q))

    def sent_times(self) -> list[tuple[int | None, datetime | None]]:
        """(deal id, sent at) of every email sent, ever: the scorecard counts those of its period."""
        q = select(m.OutboxEmail.deal_id, m.OutboxEmail.sent_at).where(m.OutboxEmail.status == "sent")
        return [(deal_id, sent_at) for deal_id, sent_at in self.s.execute(q)]

    def has_sent(self, deal_id: int, template: str) -> bool:
        q = select(m.OutboxEmail.id).where(
            m.OutboxEmail.deal_id == deal_id,
            m.OutboxEmail.template == template,
            m.OutboxEmail.status == "sent",
        )
        return self.s.scalars(q).first() is not None


APPROVAL_REQUEST = "approval-request"  # the template that asks an approver; its answer is a command


def _asks(email: m.OutboxEmail) -> bool:
    """Whether the email asks a person something their reply answers."""
    return (
        email.review_of is not None
        or email.about_message_id is not None
        or email.about_meeting_id is not None
        or email.template == APPROVAL_REQUEST
        or email.about_task_id is not None  # a task's approval, or a Consulted person's input
        or email.about_issue_id is not None  # an issue's severity to confirm
    )


def _like(text: str) -> str:
    """The text as a LIKE pattern matching it alone (an address's _ or % is no wildcard)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
