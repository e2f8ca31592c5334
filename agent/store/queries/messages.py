"""Messages logged on deals (or waiting for one), and the thread a new email continues."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, select

from agent.store import models as m
from agent.store.queries.base import Queries

MAX_REFERENCES = 20

_BY_MESSAGE_ID = select(m.Message.__table__.c.id).where(
    m.Message.__table__.c.message_id == bindparam("message_id")
)


class MessageQueries(Queries):
    def message_known(self, message_id: str) -> bool:
        return bool(self._ids(_BY_MESSAGE_ID, {"message_id": message_id}))

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
