"""Checks of a pipeline's timing keys that pydantic cannot make alone: what a due date counts from,
and who a client plan goes to, must exist in the pipeline.

Read by agent.pipeline.loader, which turns each problem into an issue with its file and line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agent.pipeline.schema import CONTRACT_START, STAGE_ENTERED, PipelineHead, TaskDef

Problem = tuple[tuple[Any, ...], str, str]  # (where in the file, what is wrong, error | warning)


def task_timing_problems(task: TaskDef, at: tuple[Any, ...], head: PipelineHead) -> Iterable[Problem]:
    """A due date after a task needs that task in the pipeline, and not the task itself."""
    if task.due is None or task.due.after in (STAGE_ENTERED, CONTRACT_START):
        return
    tasks = _tasks(head)
    anchor = task.due.after
    if anchor == task.id:
        yield at + ("due", "after"), f"task {task.id} cannot be due after itself", "error"
    elif anchor not in tasks:
        expected = sorted({STAGE_ENTERED, CONTRACT_START} | set(tasks) - {task.id})
        yield at + ("due", "after"), f"unknown task {anchor!r}; expected one of {expected}", "error"
    elif _waits_on_itself(task.id, tasks):
        yield at + ("due", "after"), f"task {task.id} is due after a task that is due after it", "error"


def head_timing_problems(head: PipelineHead) -> Iterable[Problem]:
    """A client plan goes to client roles (or every client contact)."""
    if head.client_plan is None:
        return
    clients = sorted(r for r, d in head.roles.items() if d.side == "client")
    for who in head.client_plan.to:
        if who != "client_contacts" and who not in clients:
            yield (
                ("client_plan", "to"),
                f"{who!r} is not a client role; expected client_contacts or one of {clients}",
                "error",
            )


def _tasks(head: PipelineHead) -> dict[str, TaskDef]:
    """Every task a deal of the pipeline may have: its stages' and those its rules create."""
    found = {t.id: t for s in head.stages for t in s.all_tasks}
    for raw in head.rules:
        for action in raw.get("then", []) if isinstance(raw, dict) else []:
            made = action.get("create_task") if isinstance(action, dict) else None
            if isinstance(made, dict) and isinstance(made.get("id"), str):
                try:
                    found.setdefault(made["id"], TaskDef.model_validate(made))
                except ValueError:
                    continue  # the rule's own check reports it
    return found


def _waits_on_itself(start: str, tasks: dict[str, TaskDef]) -> bool:
    """Whether following `due.after` from `start` comes back to it (none of them would ever be due)."""
    seen: set[str] = set()
    current = start
    while True:
        task = tasks.get(current)
        if task is None or task.due is None or task.due.after in (STAGE_ENTERED, CONTRACT_START):
            return False
        current = task.due.after
        if current == start:
            return True
        if current in seen:
            return False  # a loop that does not pass through `start`: its own tasks report it
        seen.add(current)
