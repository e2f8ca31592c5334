"""Issues reported on deals: the latest one a rule acts on, one by its support ticket, a deal's list."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from agent.store import models as m
from agent.store.queries.base import Queries


class IssueQueries(Queries):
    def issue(self, issue_id: int) -> m.Issue | None:
        return self.s.get(m.Issue, issue_id)

    def latest_issue(self, deal_id: int) -> m.Issue | None:
        """The issue a rule's action is about: the one reported or changed last on the deal."""
        q = select(m.Issue).where(m.Issue.deal_id == deal_id)
        return self.s.scalars(q.order_by(m.Issue.updated_at.desc(), m.Issue.id.desc()).limit(1)).first()

    def issue_by_ticket(self, deal_id: int, ticket: str) -> m.Issue | None:
        q = select(m.Issue).where(m.Issue.deal_id == deal_id, m.Issue.ticket == ticket)
        return self.s.scalars(q.order_by(m.Issue.id.desc()).limit(1)).first()

    def issues(self, deal_id: int | None = None, status: str | None = None) -> Sequence[m.Issue]:
        q = select(m.Issue)
        if deal_id is not None:
            q = q.where(m.Issue.deal_id == deal_id)
        if status is not None:
            q = q.where(m.Issue.status == status)
        return self.s.scalars(q.order_by(m.Issue.id)).all()
