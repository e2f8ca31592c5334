"""Who a task's emails go to, and what they say of the task.

A role of ours is filled by one person of ours (`deals add --csm ...`); a client role by every
contact of the deal in that role. A contact who opted out is never sent a task, a reminder or a
plan: the CSM is told instead (the agent's own notice), so that a person decides what to do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agent.businesstime import due_day, local_day, spoken_day
from agent.domain import Address
from agent.handling.cause import Cause
from agent.handling.enqueue import Enqueuer
from agent.handling.our_people import csm_of
from agent.pipeline.definition import Pipeline
from agent.pipeline.engine import Trigger
from agent.store import models as m
from agent.store.repo import Repo


def people_in(deal: m.Deal, pipeline: Pipeline, role: str) -> tuple[Address, ...]:
    """Whoever fills the role on the deal: its contacts for a client role, our person for ours."""
    if pipeline.side_of(role) == "client" or role == "client_contacts":
        return tuple(Address(c.email, c.name) for c in deal.contacts if role in (c.role, "client_contacts"))
    return tuple(Address(r.email, r.name) for r in deal.roles if r.role == role and r.email)


def reachable(repo: Repo, people: tuple[Address, ...]) -> tuple[tuple[Address, ...], tuple[Address, ...]]:
    """(who may be written to, who opted out and may not)."""
    blocked = repo.opted_out(a.email for a in people)
    return (
        tuple(a for a in people if a.email.lower() not in blocked),
        tuple(a for a in people if a.email.lower() in blocked),
    )


def names(people: tuple[Address, ...]) -> str:
    return ", ".join(f"{a.name} ({a.email})" if a.name else a.email for a in people)


def role_title(pipeline: Pipeline, role: str) -> str:
    found = pipeline.head.roles.get(role)
    return (found.title if found else "") or role.replace("_", " ")


def task_view(deal: m.Deal, pipeline: Pipeline, task: m.Task, tz: str, now: datetime) -> dict[str, Any]:
    """The task as a template tells it; its due day is the reader's (`tz`)."""
    due = due_day(task.due_at, tz) if task.due_at else None
    stage = pipeline.stage(task.stage) if task.stage and pipeline.has_stage(task.stage) else None
    definition = pipeline.task_def(task.key)
    return {
        "id": task.key,
        "title": task.title,
        "description": definition.description if definition else "",
        "due": spoken_day(due, today=local_day(now, tz)) if due else "",
        "due_date": due.isoformat() if due else "",
        "stage": stage.name if stage else "",
        "side": "client" if pipeline.side_of(task.responsible) == "client" else "ours",
        "responsible": {
            "role": task.responsible,
            "title": role_title(pipeline, task.responsible),
            "names": names(people_in(deal, pipeline, task.responsible)),
        },
        "accountable": {
            "role": task.accountable,
            "title": role_title(pipeline, task.accountable),
            "names": names(people_in(deal, pipeline, task.accountable)),
        },
    }


def tell_csm(
    enqueuer: Enqueuer,
    repo: Repo,
    deal: m.Deal,
    cause: Cause,
    now: datetime,
    *,
    subject: str,
    message: str,
    about: str,
) -> m.OutboxEmail | None:
    """A notice to the deal's CSM (else whoever of ours is on it) about a task email that could not go."""
    return enqueuer.notice(
        repo,
        deal,
        csm_of(repo, deal),
        cause,
        now,
        subject=f"{deal.name}: {subject}",
        message=message,
        trigger=Trigger("task_notice", about),
        reason=subject,
    )
