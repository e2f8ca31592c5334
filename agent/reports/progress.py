"""What happened on a deal since a moment, and what is ahead of its client: the contents of the
Informed digest and of the client's weekly plan. Pure reads; agent.handling.digests and
agent.handling.plans decide when they go, and to whom.

Days are told in the reader's zone ("Monday 7 December"), as every email of the agent's does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from agent.businesstime import due_day, local_day, spoken_day
from agent.pipeline.definition import Pipeline
from agent.store import models as m
from agent.store.repo import Repo


def since(
    repo: Repo,
    deal: m.Deal,
    pipeline: Pipeline,
    start: datetime,
    end: datetime,
    tz: str,
    *,
    client: bool = False,
) -> dict[str, list[dict[str, str]]]:
    """Stages entered, tasks done and (for the client) calls held in (start, end].

    `client`: only the tasks the client had a part in (a client role among R, A, C, I): our own
    checks ("the sales brief has a CSM") are not the client's news.
    """
    today = local_day(end, tz)

    def day(when: datetime) -> str:
        return spoken_day(local_day(when, tz), today=today)

    clients = set(pipeline.client_roles())
    stages = [
        {
            "name": pipeline.stage(v.stage).name if pipeline.has_stage(v.stage) else v.stage,
            "date": day(v.entered_at),
        }
        for v in repo.visits(deal.id)
        if start < v.entered_at <= end
    ]
    tasks = [
        {"title": t.title, "date": day(t.completed_at)}
        for t in repo.tasks(deal.id)
        if t.status == "done"
        and t.completed_at is not None
        and start < t.completed_at <= end
        and (not client or clients & {t.responsible, t.accountable, *t.consulted, *t.informed})
    ]
    meetings = [
        {"title": mt.title, "date": day(mt.start)}
        for mt in repo.meetings_for(deal.id)
        if client and mt.status == "completed" and start < mt.end <= end
    ]
    return {"stages": stages, "tasks": tasks, "meetings": meetings}


def ahead(repo: Repo, deal: m.Deal, pipeline: Pipeline, now: datetime, tz: str) -> dict[str, Any]:
    """The client's open tasks (earliest due first; those with no due date last) and the next call."""
    today = local_day(now, tz)
    clients = set(pipeline.client_roles())
    open_tasks = sorted(
        (t for t in repo.open_tasks(deal.id) if t.responsible in clients),
        key=lambda t: (t.due_at is None, t.due_at or now, t.id),
    )
    people = {c.role: c.name or c.email for c in deal.contacts}
    tasks = [
        {
            "title": t.title,
            "due": spoken_day(due_day(t.due_at, tz), today=today) if t.due_at else "",
            "overdue": "yes" if t.due_at is not None and t.due_at < now else "",
            "owner": people.get(t.responsible, ""),
        }
        for t in open_tasks
    ]
    upcoming = [mt for mt in repo.meetings_for(deal.id) if mt.status == "scheduled" and mt.start > now]
    meeting = None
    if upcoming:
        first = upcoming[0]
        local = first.start.astimezone(ZoneInfo(tz))
        meeting = {
            "title": first.title,
            "date": spoken_day(local.date(), today=today),
            "time": f"{local:%H:%M}",
            "timezone": tz,
        }
    return {"tasks": tasks, "meeting": meeting}
