"""Messages logged on deals (or waiting for one), and the thread a new email continues."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select

from agent.store import models as m
from agent.store.queries.base import Queries

MAX_REFERENCES = 20

_MESSAGES = m.Message.__table__.c
_BY_MESSAGE_ID = select(_MESSAGES.id).where(_MESSAGES.message_id == bindparam("message_id"))
_ANY_BY_MESSAGE_ID = select(_MESSAGES.message_id).where(
    _MESSAGES.message_id.in_(bindparam("message_ids", expanding=True))
)
# session.info: the Message-IDs a look-ahead found no message for, in this transaction
NOT_SEEN = "message_ids_not_seen"


class MessageQueries(Queries):
    def look_ahead_messages(self, message_ids: Collection[str]) -> None:
        """One statement for the messages about to be taken in: those with an id no message has are
        then answered by `message_known` without a statement of their own.

        As EventQueries.look_ahead: each answer is given once, to the first look-up of its id (the
        message about to be logged); after that, or once a message with the id is written, the
        store is asked. A savepoint rolled back can therefore never leave an answer out of date.
        """
        found = set(
            self.s.connection().execute(_ANY_BY_MESSAGE_ID, {"message_ids": list(message_ids)}).scalars()
        )
        self.s.info.setdefault(NOT_SEEN, set()).update(i for i in message_ids if i not in found)

    def message_known(self, message_id: str) -> bool:
        """Whether a message with this Message-ID was logged before: one indexed look-up (none when
        a look-ahead found none)."""
        not_seen: set[str] = self.s.info.get(NOT_SEEN, set())
        if message_id in not_seen:
            not_seen.discard(message_id)  # answered once: this message is logged now
            return False
        return bool(self._ids(_BY_MESSAGE_ID, {"message_id": message_id}))

    def record_message(self, **values: Any) -> int:
        """A message's row, and its id."""
        self.s.info.get(NOT_SEEN, set()).discard(values["message_id"])
        return self.insert(m.Message, **values)

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

    def inbound_sender(self, message_id: str) -> str:
        """Who wrote the message from outside with this Message-ID ("" when no such message came in)."""
        q = select(m.Message.sender).where(
            m.Message.message_id == message_id, m.Message.direction == "inbound", m.Message.sender != ""
        )
        return self.s.scalars(q.order_by(m.Message.id)).first() or ""

    def client_message_since(self, deal_id: int, since: datetime) -> bool:
        q = select(func.count(m.Message.id)).where(
            m.Message.deal_id == deal_id,
            m.Message.direction == "inbound",
            m.Message.status == "matched",  # an out-of-office or a bounce is no reply
            m.Message.received_at >= since,
        )
        return bool(self.s.scalar(q))

    def client_reply_times(self) -> list[tuple[int | None, datetime]]:
        """(deal id, received at) of every message a client wrote to us (auto-replies and bounces aside)."""
        q = select(m.Message.deal_id, m.Message.received_at).where(
            m.Message.direction == "inbound",
            m.Message.kind == "normal",
            m.Message.status != "history",  # written before the agent watched: not answered in its time
        )
        return [(deal_id, received) for deal_id, received in self.s.execute(q)]

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
