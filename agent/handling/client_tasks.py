"""Client-side tasks: a task whose Responsible role is the client's is theirs to do, and they are told so.

When such a task opens (and is not waiting for another task to be done), the contacts in its
role get it by email (`client-task`, the CSM in Cc), in their business hours; they are reminded
like our people (agent.handling.reminders), and a reply "done" to either email marks it done
(agent.handling.mail.client_task). A contact who opted out is not sent the task: the CSM is told
instead, as when no contact fills the role.

Which task an email gives or reminds of is kept in the audit trail (`client_task_emailed`,
`task_reminded`, with the email's id): a reply names the email it answers by In-Reply-To.
"""

from __future__ import annotations

from datetime import datetime

from agent.domain import Address
from agent.handling.cause import Cause
from agent.handling.enqueue import Enqueuer
from agent.handling.local_time import LocalTime
from agent.handling.task_mail import names, people_in, reachable, role_title, task_view, tell_csm
from agent.pipeline.definition import Pipeline
from agent.pipeline.engine import Trigger
from agent.store import models as m
from agent.store.repo import Repo

CLIENT_TASK_TEMPLATE = "client-task"
EMAILED, REMINDED = "client_task_emailed", "task_reminded"  # audit kinds naming the task an email is about


class ClientTasks:
    def __init__(self, pipelines: dict[str, Pipeline], enqueuer: Enqueuer, local: LocalTime) -> None:
        self.pipelines = pipelines
        self.enqueuer = enqueuer
        self.local = local

    def give(self, repo: Repo, timer: m.Timer, deal: m.Deal, cause: Cause, now: datetime) -> None:
        """Email the open task to the contacts in its role (a `client_task` timer came due)."""
        task = repo.task_by_id(int(timer.payload["task_id"]))
        pipeline = self.pipelines.get(deal.pipeline)
        if task is None or pipeline is None or task.status != "open":
            return  # done before it was sent (a CSM ticked it): nothing to ask for
        reach = self.local.client(deal)
        opening = reach.next_open(now)
        if opening > now:  # fired at night after downtime: the client's next morning
            timer.fired_at, timer.due_at = None, opening
            return
        people = people_in(deal, pipeline, task.responsible)
        to, opted = reachable(repo, people)
        view = task_view(deal, pipeline, task, reach.tz, now)
        trail = cause.trail(repo, now).on(deal)
        if to:
            csm = tuple(Address(r.email, r.name) for r in deal.roles if r.role == "csm" and r.email)
            email = self.enqueuer.queue_email(
                repo,
                deal,
                CLIENT_TASK_TEMPLATE,
                to,
                csm,
                due=now,
                rule="",
                reason=f"task '{task.title}' is theirs to do"
                + (f", due {view['due']}" if view["due"] else ""),
                cause=cause,
                trigger=Trigger("client_task", task.key),
                now=now,
                extra={"task": view},
            )
            if email is not None:
                trail(EMAILED, f"task '{task.title}' sent to {names(to)}", task=task.key, outbox_id=email.id)
        if opted or not people:
            title = role_title(pipeline, task.responsible)
            why = f"{names(opted)} opted out of email" if opted else f"no contact of the deal is its {title}"
            tell_csm(
                self.enqueuer,
                repo,
                deal,
                cause,
                now,
                subject=f"the client's task '{task.title}' was not emailed",
                message=f"The task '{task.title}' is the client's ({title})"
                + (f", due {view['due']}" if view["due"] else "")
                + f". The agent did not email it: {why}. Please hand it over yourself, and mark it "
                f"done with `done {task.key}` when it is.",
                about=task.key,
            )


def task_asked_by(repo: Repo, deal_id: int, email: m.OutboxEmail) -> m.Task | None:
    """The task an email of the agent's gave to the client or reminded them of, if it is one."""
    for line in repo.events_of_kinds(deal_id, (EMAILED, REMINDED)):
        details = line.details or {}
        if details.get("outbox_id") == email.id and isinstance(details.get("task"), str):
            return repo.task(deal_id, details["task"])
    return None
