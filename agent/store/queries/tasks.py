"""A deal's tasks, with their RACI roles."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from agent.store import models as m
from agent.store.queries.base import Queries


class TaskQueries(Queries):
    def task(self, deal_id: int, key: str) -> m.Task | None:
        return self.s.scalars(select(m.Task).where(m.Task.deal_id == deal_id, m.Task.key == key)).first()

    def task_by_id(self, task_id: int) -> m.Task | None:
        return self.s.get(m.Task, task_id)

    def open_tasks(self, deal_id: int) -> Sequence[m.Task]:
        q = select(m.Task).where(m.Task.deal_id == deal_id, m.Task.status == "open").order_by(m.Task.id)
        return self.s.scalars(q).all()

    def tasks(self, deal_id: int) -> Sequence[m.Task]:
        return self.s.scalars(select(m.Task).where(m.Task.deal_id == deal_id).order_by(m.Task.id)).all()

    def done_task_keys(self, deal_id: int) -> set[str]:
        q = select(m.Task.key).where(m.Task.deal_id == deal_id, m.Task.status == "done")
        return set(self.s.scalars(q))

    def tasks_in_stage(self, deal_id: int, stage: str) -> Sequence[m.Task]:
        q = select(m.Task).where(m.Task.deal_id == deal_id, m.Task.stage == stage).order_by(m.Task.id)
        return self.s.scalars(q).all()

    def unfinished_in_stage(self, deal_id: int, stage: str) -> Sequence[m.Task]:
        """The stage's tasks not done yet (open, or waiting for their approval): what holds a deal there."""
        q = select(m.Task).where(m.Task.deal_id == deal_id, m.Task.stage == stage, m.Task.status != "done")
        return self.s.scalars(q.order_by(m.Task.id)).all()

    def all_tasks(self) -> Sequence[m.Task]:
        """Every task of every deal, in one query (the digests pick their people from them)."""
        return self.s.scalars(select(m.Task).order_by(m.Task.id)).all()

    def open_tasks_due(self) -> Sequence[m.Task]:
        """Every open task that has a due date, of every deal: the candidates for overdue."""
        q = select(m.Task).where(m.Task.status == "open", m.Task.due_at.is_not(None))
        return self.s.scalars(q.order_by(m.Task.id)).all()
