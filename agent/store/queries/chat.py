"""Chat posts: the chat outbox's rows (agent.chat.status assigns their statuses)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select

from agent.store import audit_lines
from agent.store import models as m
from agent.store.queries.base import Queries

DUE = ("queued", "sending")  # agent.chat.status.DUE, spelled here: the store imports nothing above it


class ChatQueries(Queries):
    def chat_post(self, post_id: int) -> m.ChatPost | None:
        return self.s.get(m.ChatPost, post_id)

    def chat_post_by_key(self, key: str) -> m.ChatPost | None:
        return self.s.scalars(select(m.ChatPost).where(m.ChatPost.idempotency_key == key)).first()

    def chat_posts(self, deal_id: int | None = None, status: str | None = None) -> Sequence[m.ChatPost]:
        q = select(m.ChatPost).order_by(m.ChatPost.id)
        if deal_id is not None:
            q = q.where(m.ChatPost.deal_id == deal_id)
        if status is not None:
            q = q.where(m.ChatPost.status == status)
        return self.s.scalars(q).all()

    def claim_chat(self, post_id: int) -> m.ChatPost | None:
        """The post, locked for this transaction; None while another worker holds it (PostgreSQL).

        SQLite has one writer at a time and no row locks: there it is the plain row.
        """
        q = select(m.ChatPost).where(m.ChatPost.id == post_id).with_for_update(skip_locked=True)
        return self.s.scalars(q).first()

    def due_chat(self, now: datetime, limit: int = 100) -> Sequence[int]:
        """Posts whose time has come, oldest first; a post left `sending` is among them (a crash mid-post)."""
        q = select(m.ChatPost.id).where(m.ChatPost.status.in_(DUE), m.ChatPost.due_at <= now)
        return self.s.scalars(q.order_by(m.ChatPost.due_at, m.ChatPost.id).limit(limit)).all()

    def next_chat_due(self) -> datetime | None:
        """When the next post comes due (the daemon sleeps until then at most); None: nothing waits."""
        return self.s.scalar(select(func.min(m.ChatPost.due_at)).where(m.ChatPost.status.in_(DUE)))

    def older_namesake(self, deal: m.Deal) -> bool:
        """Whether a deal older than this one has its name (as people write it): their channels differ."""
        q = select(m.Deal.id).where(m.Deal.name_key == m.name_key(deal.name), m.Deal.id < deal.id).limit(1)
        return self.s.scalar(q) is not None

    def chat_history(self, post: m.ChatPost) -> list[m.AuditEntry]:
        """The audit entries about one post, oldest first."""
        audit_lines.write(self.s)  # the lines this transaction holds, too
        q = select(m.AuditEntry).where(
            m.AuditEntry.deal_id == post.deal_id if post.deal_id else m.AuditEntry.deal_id.is_(None),
            m.AuditEntry.kind.like("chat_%"),
        )
        return [
            a
            for a in self.s.scalars(q.order_by(m.AuditEntry.id))
            if (a.details or {}).get("chat_post_id") == post.id
        ]
