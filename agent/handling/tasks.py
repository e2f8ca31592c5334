"""A task's life by its RACI: done by R, approved by A when the task says so, C asked first.

- Done: a person (`deals task-done`, "done TASK" by email) or a rule (`complete_task`) marks it
  done. A task with `approval: true` is then `awaiting_approval`, and its Accountable person
  is asked by email (`task-approval`); their reply decides: approved, it is done; rejected, it
  is open again and the Responsible person is told why. Only a done task counts for the
  stage's gate (agent.handling.gates) and for `stage_tasks_done`. The Accountable person
  marking it done themselves approves it.
- Consulted: a task with `consult` asks each person filling its C roles (ours or the
  client's) for input when it opens, once; each answer is recorded on the task and quoted to
  the Accountable person in the approval request. Completion does not wait for answers: a C
  who never answers must not hold a deal for ever; the Accountable person sees who has not.

The emails are requests about the task (`about_task_id`): a reply answers the one it replies
to (agent.handling.mail.task_answers).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agent import deals
from agent.domain import Address
from agent.handling import gates
from agent.handling.cause import Cause
from agent.handling.enqueue import Enqueuer
from agent.pipeline.definition import Pipeline
from agent.pipeline.engine import Trigger
from agent.pipeline.raci import CONSULT, TASK_APPROVAL
from agent.pipeline.schema import TaskDef
from agent.store import models as m
from agent.store.repo import Repo

AWAITING = "awaiting_approval"
QUOTED_MAX = 2000  # characters of a Consulted person's answer kept and quoted


class Tasks:
    def __init__(self, pipelines: dict[str, Pipeline], enqueuer: Enqueuer) -> None:
        self.pipelines = pipelines
        self.enqueuer = enqueuer

    # --- done, or waiting for A --------------------------------------------------------------
    def complete(
        self,
        repo: Repo,
        deal: m.Deal,
        key: str,
        cause: Cause,
        now: datetime,
        *,
        who: str,
        rule: str,
        reason: str,
    ) -> list[Trigger]:
        """Mark a task done (or ask its A first); the triggers its completion causes."""
        task = repo.task(deal.id, key)
        if task is None or task.status == "done":
            return []
        trail = cause.trail(repo, now).on(deal)
        if task.status == AWAITING:
            trail("task_awaiting_approval", f"task '{task.title}' already waits for its approval", rule=rule)
            return []
        definition = self._definition(deal, task.key)
        if (
            definition is not None
            and definition.approval
            and who not in _emails(self._accountable(deal, task))
        ):
            self._submit(repo, deal, task, cause, now, who=who, rule=rule, reason=reason)
            return []
        if definition is not None and definition.approval:
            task.approved_by = who  # its Accountable person marked it done: nobody else to ask
        task.done_by = who
        return self._done(repo, deal, task, cause, now, rule=rule, reason=reason)

    def decide(
        self,
        repo: Repo,
        deal: m.Deal,
        task: m.Task,
        approve: bool,
        why: str,
        cause: Cause,
        now: datetime,
        *,
        who: str,
    ) -> list[Trigger]:
        """The Accountable person's answer to the approval of a task waiting for it."""
        trail = cause.trail(repo, now).on(deal)
        if task.status != AWAITING:
            trail(
                "task_answer_late",
                f"{who} answered about task '{task.title}', which is {task.status} already",
            )
            return []
        if approve:
            task.approved_by = who
            task.rejection = ""
            return self._done(repo, deal, task, cause, now, rule="", reason=f"approved by {who}")
        task.status = "open"
        task.rejection = why or "no reason given"
        trail(
            "task_rejected", f"{who} did not approve task '{task.title}': {task.rejection}; it is open again"
        )
        self.enqueuer.notice(
            repo,
            deal,
            self._responsible(deal, task),
            cause,
            now,
            subject=f"Not approved: {task.title}",
            message=f'{who} did not approve the task "{task.title}":\n\n'
            f"  {task.rejection}\n\n"
            "The task is open again. Mark it done when it is ready (reply to the agent: "
            f"done {task.key}); it goes to them for approval again.",
            trigger=Trigger("task_rejected", task.key),
            reason=f"task {task.key} was not approved",
        )
        return []

    def ask_again(
        self,
        repo: Repo,
        deal: m.Deal,
        task: m.Task,
        approver: Address,
        said: str,
        why: str,
        cause: Cause,
        now: datetime,
    ) -> None:
        """An answer that is neither approve nor reject: nothing is decided, the approver is asked back."""
        cause.trail(repo, now).on(deal)(
            "task_answer_unclear",
            f"{approver.email} answered {' '.join(said.split())[:200]!r} about task '{task.title}': {why}; asked back",
        )
        self._ask_approval(
            repo, deal, task, cause, now, (approver,), asked_back={"said": said, "reason": why}
        )

    # --- Consulted ---------------------------------------------------------------------------
    def opened(self, repo: Repo, deal: m.Deal, stage: str, cause: Cause, now: datetime) -> None:
        """The deal entered `stage`: ask the Consulted people of its tasks, once per task."""
        for task in repo.tasks_in_stage(deal.id, stage):
            self.consult(repo, deal, task, cause, now)

    def consult(
        self,
        repo: Repo,
        deal: m.Deal,
        task: m.Task,
        cause: Cause,
        now: datetime,
        definition: TaskDef | None = None,
    ) -> None:
        definition = definition or self._definition(deal, task.key)
        if definition is None or not definition.consult or task.consults or task.status == "done":
            return  # asked before (a stage entered again), or nothing to ask
        question = definition.consult if isinstance(definition.consult, str) else ""
        asked: list[dict[str, Any]] = []
        for role in task.consulted:
            for person in self._people(deal, role):
                email = self.enqueuer.queue_email(
                    repo,
                    deal,
                    CONSULT,
                    (person,),
                    (),
                    due=now,
                    rule="",
                    reason=f"task {task.key} consults {role}",
                    cause=cause,
                    trigger=Trigger("consult", task.key),
                    now=now,
                    extra={"consult": {"task": task.title, "question": question}},
                )
                if email is not None:
                    email.about_task_id = task.id  # their reply answers this request (not a status)
                    asked.append(
                        {
                            "role": role,
                            "email": person.email,
                            "name": person.name,
                            "asked_at": now.isoformat(),
                        }
                    )
        missing = [r for r in task.consulted if not self._people(deal, r)]
        trail = cause.trail(repo, now).on(deal)
        if missing:
            trail("recipients_missing", f"{CONSULT}: nobody fills {', '.join(missing)} on this deal")
        if asked:
            task.consults = asked
            who = ", ".join(f"{a['email']} ({a['role']})" for a in asked)
            trail("consult_asked", f"task '{task.title}': asked {who} for input before it is decided")

    def answer(
        self, repo: Repo, deal: m.Deal, task: m.Task, sender: Address, said: str, cause: Cause, now: datetime
    ) -> None:
        """A Consulted person's answer (their words, quotes and signature aside), recorded on the task."""
        trail = cause.trail(repo, now).on(deal)
        words = said.strip()[:QUOTED_MAX]
        if not words:
            trail(
                "consult_answer_empty",
                f"{sender.email} replied about task '{task.title}' with no words of their own",
            )
            return
        entries = [dict(e) for e in task.consults]
        entry = next((e for e in entries if e["email"] == sender.email), None)
        if entry is None:
            return
        again = " (instead of their earlier answer)" if entry.get("answer") else ""
        entry.update(answer=words, answered_at=now.isoformat())
        task.consults = entries  # a new list: the JSON column sees the change
        after = f"; task is {task.status.replace('_', ' ')} already" if task.status == "done" else ""
        trail(
            "consult_answered",
            f"{sender.email} ({entry['role']}) on task '{task.title}'{again}: {_excerpt(words)}{after}",
            answer=words,
        )
        if task.status == AWAITING:  # the decision is being taken: its maker gets the answer too
            self._ask_approval(
                repo, deal, task, cause, now, self._accountable(deal, task), news=f"{sender.email} answered"
            )

    # --- inside ------------------------------------------------------------------------------
    def _done(
        self, repo: Repo, deal: m.Deal, task: m.Task, cause: Cause, now: datetime, *, rule: str, reason: str
    ) -> list[Trigger]:
        task.status = "done"
        task.completed_at = now
        cause.trail(repo, now).on(deal)("task_completed", f"task '{task.title}': {reason}", rule=rule)
        triggers = [Trigger("task_completed", task.key, f"task {task.key} done")]
        if task.stage == deal.stage and not gates.unfinished(repo, deal):
            triggers.append(Trigger("stage_tasks_done", task.stage, f"all tasks of {task.stage} are done"))
            triggers.append(Trigger(gates.GATE_OPEN, task.stage, f"all tasks of {task.stage} are done"))
        return triggers

    def _submit(
        self,
        repo: Repo,
        deal: m.Deal,
        task: m.Task,
        cause: Cause,
        now: datetime,
        *,
        who: str,
        rule: str,
        reason: str,
    ) -> None:
        task.status = AWAITING
        task.done_by = who
        approvers = self._accountable(deal, task)
        names = ", ".join(a.email for a in approvers) or f"nobody fills {task.accountable} on this deal"
        cause.trail(repo, now).on(deal)(
            "task_awaiting_approval",
            f"task '{task.title}' ({reason}) waits for its Accountable person to approve it: {names}",
            rule=rule,
        )
        self._ask_approval(repo, deal, task, cause, now, approvers)

    def _ask_approval(
        self,
        repo: Repo,
        deal: m.Deal,
        task: m.Task,
        cause: Cause,
        now: datetime,
        to: tuple[Address, ...],
        *,
        asked_back: dict[str, str] | None = None,
        news: str = "",
    ) -> None:
        extra = {"approval_task": {**self._view(deal, task), "asked_back": asked_back or {}, "news": news}}
        # one request per question: the first, one asked back, one with a new answer of a C
        subject = f"{task.key}:{'back' if asked_back else 'news' if news else 'ask'}:{len(task.consults)}"
        email = self.enqueuer.queue_email(
            repo,
            deal,
            TASK_APPROVAL,
            to,
            (),
            due=now,
            rule="",
            reason=f"task {task.key} needs its Accountable person's approval",
            cause=cause,
            trigger=Trigger("task_approval", subject),
            now=now,
            extra=extra,
        )
        if email is not None:
            email.about_task_id = task.id

    def _view(self, deal: m.Deal, task: m.Task) -> dict[str, Any]:
        """What the task's emails say about it: its roles, who did it, and the Consulted answers."""
        pipeline = self.pipelines.get(deal.pipeline)
        titles = {r: d.title or r for r, d in pipeline.head.roles.items()} if pipeline else {}
        consults = [
            {
                "name": c.get("name") or c["email"],
                "email": c["email"],
                "role": titles.get(c["role"], c["role"]),
                "answer": c.get("answer", ""),
            }
            for c in task.consults
        ]
        return {
            "id": task.key,
            "title": task.title,
            "responsible": titles.get(task.responsible, task.responsible),
            "accountable": titles.get(task.accountable, task.accountable),
            "done_by": task.done_by,
            "answered": [c for c in consults if c["answer"]],
            "unanswered": [c for c in consults if not c["answer"]],
        }

    def _definition(self, deal: m.Deal, key: str) -> TaskDef | None:
        pipeline = self.pipelines.get(deal.pipeline)
        return pipeline.task_def(key) if pipeline else None

    @staticmethod
    def _people(deal: m.Deal, role: str) -> tuple[Address, ...]:
        """Who fills a role on the deal: our people by their role, client contacts by theirs."""
        return tuple(Address(p.email, p.name) for p in deals.view(deal).people if p.role == role)

    def _accountable(self, deal: m.Deal, task: m.Task) -> tuple[Address, ...]:
        return self._people(deal, task.accountable)

    @staticmethod
    def _responsible(deal: m.Deal, task: m.Task) -> tuple[Address, ...]:
        """Who is told of a rejection: R when one of ours, else the deal's CSM (a client's task is
        followed up by the CSM; the Accountable person's words are ours, not the client's)."""
        ours = tuple(Address(r.email, r.name) for r in deal.roles if r.role == task.responsible)
        return ours or tuple(Address(r.email, r.name) for r in deal.roles if r.role == "csm")


def _emails(people: tuple[Address, ...]) -> set[str]:
    return {a.email for a in people}


def _excerpt(words: str) -> str:
    flat = " ".join(words.split())
    return flat if len(flat) <= 300 else flat[:299] + "…"
