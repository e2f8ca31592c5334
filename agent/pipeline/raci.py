"""Checks that a task's RACI means what it says, beyond what pydantic can check alone.

One role does the work (R) and one role answers for it (A): two Responsible roles are two
people each thinking the other does it, two Accountable roles nobody who decides. A task
approved by its Accountable person needs that person to be one of ours (a client's reply
cannot be verified, and an approval moves the deal on); a task that asks its Consulted roles
needs some. Read by agent.pipeline.loader, which turns each problem into an issue with its
file and line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agent.pipeline.schema import PipelineHead, TaskDef

Problem = tuple[tuple[Any, ...], str, str]  # (where in the file, what is wrong, error | warning)

TASK_APPROVAL = "task-approval"  # the email asking the Accountable person to approve a task
CONSULT = "consult"  # the email asking a Consulted person for input on a task
_WORDS = {"R": "Responsible", "A": "Accountable"}


def task_raci_problems(
    task: TaskDef, at: tuple[Any, ...], head: PipelineHead, templates: set[str] | None
) -> Iterable[Problem]:
    for letter, word in _WORDS.items():
        roles = getattr(task, letter)
        if len(roles) == 1:
            continue
        found = f"{len(roles)} {word} roles ({', '.join(roles)})" if roles else f"no {word} role"
        yield (
            at + (letter,),
            f"task {task.id} has {found}; expected exactly one {letter} per task "
            f"({'one role does the work' if letter == 'R' else 'one role approves and answers for it'}; "
            "make the others C or I)",
            "error",
        )
    if task.approval:
        accountable = task.A[0] if len(task.A) == 1 else ""
        role = head.roles.get(accountable)
        if role is not None and role.side == "client":
            yield (
                at + ("approval",),
                f"task {task.id}: approval: true needs an Accountable role of ours; {accountable} is a "
                "client role (a client's reply cannot be verified)",
                "error",
            )
        yield from _template(TASK_APPROVAL, "approval: true", at + ("approval",), templates)
    if task.consult is not False:
        if isinstance(task.consult, str) and not task.consult.strip():
            yield at + ("consult",), f"task {task.id}: consult: expected true or the question to ask", "error"
        elif not task.C:
            yield (
                at + ("consult",),
                f"task {task.id}: consult asks the Consulted roles, and the task has none; expected C: [roles]",
                "error",
            )
        elif task.consult:
            yield from _template(CONSULT, "consult", at + ("consult",), templates)


def _template(name: str, key: str, at: tuple[Any, ...], templates: set[str] | None) -> Iterable[Problem]:
    if templates is not None and name not in templates:
        yield at, f"{key} sends the email template {name!r}, and there is none", "error"
