"""A deal's tasks, with their RACI roles.

A message or meeting that fires a rule reads its deal's tasks several times: the rules' facts (the
tasks done), the RACI (the stage's tasks), the task the rule completes, the open tasks whose due
dates follow; each was a statement of its own (a round trip on PostgreSQL). The deal's tasks are
read once a transaction (`deal_tasks`) and each of those picked from them. They are the session's
objects, so a task changed since shows as it stands now; the list holds until a flush adds or
removes a task (TASK_WRITES counts such flushes), a savepoint rolls back or the transaction ends.
Tasks are written through the ORM only, and never move to another deal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session

from agent.store import models as m
from agent.store.queries.base import Queries, held_by_the_transaction

TASK_WRITES = "task_writes"  # session.info: how many flushes added or removed a task
HELD = held_by_the_transaction("deal_tasks")  # session.info: deal id -> (TASK_WRITES when read, its tasks)
_OF_DEAL = select(m.Task).where(m.Task.deal_id == bindparam("deal_id")).order_by(m.Task.id)


@event.listens_for(Session, "before_flush")
def _count_task_writes(session: Session, _context: Any, _instances: Any) -> None:
    if any(isinstance(o, m.Task) for o in (*session.new, *session.deleted)):
        session.info[TASK_WRITES] = session.info.get(TASK_WRITES, 0) + 1


class TaskQueries(Queries):
    def deal_tasks(self, deal_id: int) -> list[m.Task]:
        """Every task of the deal, in the order they were made: one statement a transaction."""
        self.s.flush()  # pending tasks are written (and counted), as the ORM's autoflush would
        writes = self.s.info.get(TASK_WRITES, 0)
        held: dict[int, tuple[int, list[m.Task]]] = self.s.info.setdefault(HELD, {})
        found = held.get(deal_id)
        if found is None or found[0] != writes:
            found = held[deal_id] = (writes, list(self.s.scalars(_OF_DEAL, {"deal_id": deal_id})))
        return found[1]

    def task(self, deal_id: int, key: str) -> m.Task | None:
        return next((t for t in self.deal_tasks(deal_id) if t.key == key), None)

    def task_by_id(self, task_id: int) -> m.Task | None:
        return self.s.get(m.Task, task_id)

    def open_tasks(self, deal_id: int) -> Sequence[m.Task]:
        return [t for t in self.deal_tasks(deal_id) if t.status == "open"]

    def tasks(self, deal_id: int) -> Sequence[m.Task]:
        return list(self.deal_tasks(deal_id))

    def done_task_keys(self, deal_id: int) -> set[str]:
        return {t.key for t in self.deal_tasks(deal_id) if t.status == "done"}

    def tasks_in_stage(self, deal_id: int, stage: str) -> Sequence[m.Task]:
        return [t for t in self.deal_tasks(deal_id) if t.stage == stage]

    def unfinished_in_stage(self, deal_id: int, stage: str) -> Sequence[m.Task]:
        """The stage's tasks not done yet (open, or waiting for their approval): what holds a deal there."""
        return [t for t in self.deal_tasks(deal_id) if t.stage == stage and t.status != "done"]

    def all_tasks(self) -> Sequence[m.Task]:
        """Every task of every deal, in one query (the digests pick their people from them)."""
        return self.s.scalars(select(m.Task).order_by(m.Task.id)).all()

    def open_tasks_due(self) -> Sequence[m.Task]:
        """Every open task that has a due date, of every deal: the candidates for overdue."""
        q = select(m.Task).where(m.Task.status == "open", m.Task.due_at.is_not(None))
        return self.s.scalars(q.order_by(m.Task.id)).all()
