"""Reminders before a task's due date and escalations after it: each once, in its reader's business hours.

The Responsible person of an open task is reminded `reminders.before_due` before its due date;
the Accountable person is told `escalate_after` after it, if the task is still open (the CSM, when
the Accountable role is the client's or nobody of ours fills it: an escalation is for us). Their keyed
timers are armed by agent.handling.task_timing and checked again here when they fire: a task
done meanwhile needs nothing; a moved due date moves the timer; a timer that fires outside its
reader's business hours (the agent was down) waits for their next opening; a reminder whose
due date has passed is not sent (the escalation follows). A client contact who opted out is
never reminded: the CSM is told instead, as when nobody fills the role.
"""

from __future__ import annotations

from datetime import datetime

from agent.domain import Address
from agent.handling.cause import Cause
from agent.handling.enqueue import Enqueuer
from agent.handling.local_time import LocalTime
from agent.handling.our_people import csm_of
from agent.handling.task_mail import names, people_in, reachable, role_title, task_view, tell_csm
from agent.handling.task_timing import reminder_at
from agent.pipeline.definition import Pipeline
from agent.pipeline.engine import Trigger
from agent.store import models as m
from agent.store.repo import Repo

REMINDER_TEMPLATE, ESCALATION_TEMPLATE = "task-reminder", "task-escalation"


class Reminders:
    def __init__(self, pipelines: dict[str, Pipeline], enqueuer: Enqueuer, local: LocalTime) -> None:
        self.pipelines = pipelines
        self.enqueuer = enqueuer
        self.local = local

    def remind(self, repo: Repo, timer: m.Timer, deal: m.Deal, cause: Cause, now: datetime) -> None:
        found = self._open_task(repo, timer, deal)
        if found is None:
            return
        task, pipeline, due = found
        before = pipeline.reminders_for(pipeline.task_def(task.key)).before_due
        if before is None:
            return  # turned off since it was armed (rules reloaded)
        reach = self.local.of_role(deal, pipeline, task.responsible)
        at = reminder_at(task, before, reach) if timer.payload.get("due") != due.isoformat() else now
        if at is not None and at > now:
            _rearm(timer, at, due)  # the due date moved later
            return
        trail = cause.trail(repo, now).on(deal)
        opening = reach.next_open(now)
        if at is None or opening >= due:
            trail(
                "task_reminder_skipped",
                f"task '{task.title}': due {due.isoformat()} before a reminder could go",
            )
            return
        if opening > now:
            _rearm(timer, opening, due)  # fired outside the reader's hours (downtime): at their opening
            return
        people = people_in(deal, pipeline, task.responsible)
        to, opted = reachable(repo, people)
        view = task_view(deal, pipeline, task, reach.tz, now)
        if to:
            email = self.enqueuer.queue_email(
                repo,
                deal,
                REMINDER_TEMPLATE,
                to,
                (),
                due=now,
                rule="",
                reason=f"task '{task.title}' is due {view['due']}",
                cause=cause,
                trigger=Trigger("task_reminder", task.key),
                now=now,
                extra={"task": view},
            )
            if email is not None:
                trail(
                    "task_reminded",
                    f"{names(to)} reminded of '{task.title}'",
                    task=task.key,
                    outbox_id=email.id,
                )
        if opted or not people:
            why = f"{names(opted)} opted out of email" if opted else "nobody fills the role on the deal"
            tell_csm(
                self.enqueuer,
                repo,
                deal,
                cause,
                now,
                subject=f"'{task.title}' is due {view['due']}",
                message=f"The task '{task.title}' ({role_title(pipeline, task.responsible)}) is due "
                f"{view['due']}. The agent did not remind them: {why}. Please follow it up yourself.",
                about=task.key,
            )

    def escalate(self, repo: Repo, timer: m.Timer, deal: m.Deal, cause: Cause, now: datetime) -> None:
        found = self._open_task(repo, timer, deal)
        if found is None:
            return
        task, pipeline, due = found
        after = pipeline.reminders_for(pipeline.task_def(task.key)).escalate_after
        if after is None:
            return
        reach = self.local.ours(deal)  # escalations are read by our people (see below)
        at = reach.next_open(reach.calendar.add(due, after, reach.tz))
        if at > now:
            _rearm(timer, at, due)  # the due date moved later, or the reader's hours open later
            return
        title = role_title(pipeline, task.accountable)
        to: tuple[Address, ...]
        if pipeline.side_of(task.accountable) == "client":
            # the client was reminded already; chasing them again is the CSM's call, not an automatic email
            to, instead = (), f"the Accountable role, {title}, is the client's"
        else:
            to, _ = reachable(repo, people_in(deal, pipeline, task.accountable))
            instead = "" if to else f"nobody of {title} can be written to"
        to = to or csm_of(repo, deal)
        view = task_view(deal, pipeline, task, reach.tz, now)
        email = self.enqueuer.queue_email(
            repo,
            deal,
            ESCALATION_TEMPLATE,
            to,
            (),
            due=now,
            rule="",
            reason=f"task '{task.title}' was due {view['due']} and is still open"
            + (f" ({instead}: told instead)" if instead else ""),
            cause=cause,
            trigger=Trigger("task_escalation", task.key),
            now=now,
            extra={"task": view, "escalation": {"instead": instead}},
        )
        if email is not None:
            cause.trail(repo, now).on(deal)(
                "task_escalated",
                f"{names(to)} told that '{task.title}' is overdue",
                task=task.key,
                outbox_id=email.id,
            )

    def _open_task(
        self, repo: Repo, timer: m.Timer, deal: m.Deal
    ) -> tuple[m.Task, Pipeline, datetime] | None:
        """The timer's task while it is open and has a due date, its pipeline, and that due date."""
        task = repo.task_by_id(int(timer.payload["task_id"]))
        pipeline = self.pipelines.get(deal.pipeline)
        if task is None or pipeline is None or task.status != "open" or task.due_at is None:
            return None  # done meanwhile (or the pipeline is gone): nothing to remind of
        return task, pipeline, task.due_at


def _rearm(timer: m.Timer, at: datetime, due: datetime) -> None:
    timer.fired_at, timer.due_at = None, at
    timer.payload = {**timer.payload, "due": due.isoformat()}
