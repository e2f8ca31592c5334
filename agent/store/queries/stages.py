"""A deal's way through its stages: the visits (entered, exited) and the approvals to leave one."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from agent.store import models as m
from agent.store.queries.base import Queries


class StageQueries(Queries):
    def visits(self, deal_id: int) -> Sequence[m.StageVisit]:
        q = select(m.StageVisit).where(m.StageVisit.deal_id == deal_id).order_by(m.StageVisit.id)
        return self.s.scalars(q).all()

    def open_visit(self, deal_id: int) -> m.StageVisit | None:
        q = select(m.StageVisit).where(m.StageVisit.deal_id == deal_id, m.StageVisit.exited_at.is_(None))
        return self.s.scalars(q.order_by(m.StageVisit.id.desc())).first()

    def open_visits(self) -> Sequence[m.StageVisit]:
        """The current stay of every deal (the board's days in stage), oldest first."""
        q = select(m.StageVisit).where(m.StageVisit.exited_at.is_(None)).order_by(m.StageVisit.id)
        return self.s.scalars(q).all()

    def all_visits(self) -> Sequence[m.StageVisit]:
        """Every stay of every deal in a stage, by time of entry: the scorecard reads them in one pass."""
        return self.s.scalars(select(m.StageVisit).order_by(m.StageVisit.entered_at)).all()

    def pending_approval(self, deal_id: int) -> m.Approval | None:
        q = select(m.Approval).where(m.Approval.deal_id == deal_id, m.Approval.status == "pending")
        return self.s.scalars(q).first()
