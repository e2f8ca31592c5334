"""After a deal's rules ran: its open tasks' due dates counted, and what comes due for them armed.

Due dates (`due` of a task, docs/rules.md): `3 business days` counts from the moment the task was
opened (the stage entered, the rule that created it); `{after: contract_start, in: ...}` from the
close of business on the contract's first day; `{after: TASK, in: ...}` from the moment that task
was done (until then the task has no due date). Business days are those of the Responsible
person's side (a client role: the deal's country; ours: the team's), counted in the deal's zone.

What comes due is armed as keyed timers, each firing once, also after downtime:
- the Responsible person's reminder (`reminders.before_due` before the due date) and the
  Accountable person's escalation (`escalate_after` after it), each in its reader's business hours
  (agent.handling.reminders);
- the email that gives a client-side task to the contacts in its role, once the task is not
  waiting for another one (agent.handling.client_tasks);
- the deal's next Informed digest and client plan, when its pipeline has them.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from agent.businesstime import Duration
from agent.handling.cause import Cause
from agent.handling.local_time import LocalTime, Reach
from agent.pipeline.definition import Pipeline
from agent.pipeline.schema import CONTRACT_START, STAGE_ENTERED, CadenceDef, DueDef
from agent.store import models as m
from agent.store.audit import Trail
from agent.store.repo import Repo

REMINDER, ESCALATION, CLIENT_TASK = "task_reminder", "task_escalation", "client_task"
INFORMED, PLAN = "informed_digest", "client_plan"


class TaskTiming:
    def __init__(self, pipelines: dict[str, Pipeline], local: LocalTime) -> None:
        self.pipelines = pipelines
        self.local = local

    def settle(self, repo: Repo, deal: m.Deal, cause: Cause, now: datetime) -> None:
        """Due dates for the deal's open tasks that can have one now, and their timers (kept once by key)."""
        pipeline = self.pipelines.get(deal.pipeline)
        if pipeline is None:
            return
        trail = cause.trail(repo, now).on(deal)
        for task in repo.open_tasks(deal.id):
            definition = pipeline.task_def(task.key)
            waiting = False
            if task.due_at is None and definition is not None and definition.due is not None:
                task.due_at, waiting = self._due(repo, deal, pipeline, task, definition.due, trail, now)
                if task.due_at is not None:
                    trail("task_due", f"task '{task.title}' is due {task.due_at.isoformat()}", task=task.key)
            if task.due_at is not None:
                self._arm_reminders(repo, deal, pipeline, task)
            if pipeline.side_of(task.responsible) == "client" and not waiting:
                at = self.local.client(deal).next_open(now)
                repo.add_timer(f"client-task:{task.id}", CLIENT_TASK, at, deal.id, {"task_id": task.id})
        if deal.stage in pipeline.final_stages:
            return  # a closed deal gets no new digest or plan; the ones armed say their last word
        for kind, cadence, reach in (
            (INFORMED, pipeline.head.informed, self.local.ours(deal)),
            (PLAN, pipeline.head.client_plan, self.local.client(deal)),
        ):
            if cadence is not None and repo.pending_timer(deal.id, kind) is None:
                arm_cadence(repo, deal, kind, cadence, reach, since=now)

    def _due(
        self,
        repo: Repo,
        deal: m.Deal,
        pipeline: Pipeline,
        task: m.Task,
        due: DueDef,
        trail: Trail,
        now: datetime,
    ) -> tuple[datetime | None, bool]:
        """The task's due date, or None; and whether it waits for another task to be done."""
        calendar = self.local.of_role(deal, pipeline, task.responsible).calendar
        if due.after == STAGE_ENTERED:
            anchor = task.created_at
        elif due.after == CONTRACT_START:
            if deal.contract_start is None:
                if task.created_at == now:  # said once, when the task is opened
                    trail(
                        "task_due_unknown",
                        f"task '{task.title}' is due {due.in_} after the contract start, and the deal has "
                        "no contract start: it has no due date",
                        task=task.key,
                    )
                return None, False
            anchor = datetime.combine(deal.contract_start, calendar.closes, ZoneInfo(deal.timezone))
        else:
            before = repo.task(deal.id, due.after)
            if before is None or before.status != "done" or before.completed_at is None:
                return None, True
            anchor = before.completed_at
        return calendar.add(anchor, due.in_, deal.timezone), False

    def _arm_reminders(self, repo: Repo, deal: m.Deal, pipeline: Pipeline, task: m.Task) -> None:
        assert task.due_at is not None
        settings = pipeline.reminders_for(pipeline.task_def(task.key))
        payload = {"task_id": task.id, "due": task.due_at.isoformat()}
        if settings.before_due is not None:
            reach = self.local.of_role(deal, pipeline, task.responsible)
            at = reminder_at(task, settings.before_due, reach)
            if at is not None:
                repo.add_timer(f"task-reminder:{task.id}", REMINDER, at, deal.id, payload)
        if settings.escalate_after is not None:
            reach = self.local.ours(deal)  # an escalation is read by our people (agent.handling.reminders)
            at = reach.next_open(reach.calendar.add(task.due_at, settings.escalate_after, reach.tz))
            repo.add_timer(f"task-escalation:{task.id}", ESCALATION, at, deal.id, payload)


def reminder_at(task: m.Task, before: Duration, reach: Reach) -> datetime | None:
    """When the Responsible person is reminded: `before` the due date, in their business hours and
    before the due date; None when that is no later than the task reached them (it is news enough)."""
    assert task.due_at is not None
    at = reach.next_open(reach.calendar.back(task.due_at, before, reach.tz))
    if at >= task.due_at:  # the hours open only after it is due: the last opening before it
        at = reach.calendar.last_open_before(task.due_at, reach.tz)
    return at if at > reach.next_open(task.created_at) else None


def arm_cadence(
    repo: Repo, deal: m.Deal, kind: str, cadence: CadenceDef, reach: Reach, *, since: datetime
) -> datetime:
    """The next digest or plan of the deal: `every` after `since`, at `at` (or opening) in its readers' hours."""
    after = reach.calendar.add(since, cadence.every, reach.tz)
    if cadence.at is not None:  # that day at that time (a weekly plan keeps its weekday)
        at = reach.calendar.next_at(reach.calendar.start_of_day(after, reach.tz), cadence.at, reach.tz)
        at = at if at > since else reach.calendar.next_at(after, cadence.at, reach.tz)
    else:
        at = reach.next_open(after)
    repo.add_timer(f"{kind}:{deal.id}:{at.isoformat()}", kind, at, deal.id, {"since": since.isoformat()})
    return at
