"""The rule runner: triggers in, rules fired, their effects applied (stage moves, tasks, approvals, emails).

A stage move, a finished task or a decided approval is itself a trigger: they queue up and
run in order until nothing more fires, at most MAX_STEPS of them (a loop is a rules bug,
not a reason to hang). Emails are handed to the enqueuer.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from agent import deals
from agent.businesstime import BusinessCalendar
from agent.config import Config
from agent.domain import Address
from agent.handling import gates, plays
from agent.handling.call_notes import CallNotes
from agent.handling.cause import Cause
from agent.handling.coordination import Coordinator
from agent.handling.enqueue import Enqueuer
from agent.handling.later_sends import later_sends, sends_later
from agent.handling.occasion import ISSUE_TRIGGERS
from agent.handling.tasks import Tasks
from agent.outbox import status
from agent.pipeline.actions import (
    CompleteTask,
    ConfirmSeverity,
    CreateTask,
    Effect,
    MoveStage,
    Notify,
    OpenChannel,
    PostChat,
    RequestApproval,
    ScheduleSync,
    SendEmail,
    plan,
)
from agent.pipeline.definition import Pipeline
from agent.pipeline.engine import Firing, Trigger, evaluate, listens
from agent.store import models as m
from agent.store.repo import Repo

log = logging.getLogger(__name__)
MAX_STEPS = 50
# What runs once a deal's rules are done, when a rule fired or its tasks may have changed
# (agent.handling.task_timing: due dates, reminders, client tasks, digests and plans).
AfterRules = Callable[[Repo, m.Deal, Cause, datetime], None]
TASK_CHANGES = frozenset({"stage_entered", "task_completed", "deal_created"})


class RuleRunner:
    def __init__(
        self,
        config: Config,
        pipelines: dict[str, Pipeline],
        calendar: BusinessCalendar,
        enqueuer: Enqueuer,
        after_rules: Sequence[AfterRules] = (),
    ) -> None:
        self.coordinator = Coordinator(config, pipelines, enqueuer, calendar)  # chat, severity, sync meetings
        self.config = config
        self.pipelines = pipelines
        self.calendar = calendar
        self.enqueuer = enqueuer
        self.after_rules = tuple(after_rules)
        # built from what the runner is given: the recap's notes render with the enqueuer's templates
        self.call_notes = CallNotes(config, pipelines, enqueuer.templates)
        self.tasks = Tasks(pipelines, enqueuer)  # done, approved by A, C asked: a task's RACI

    # --- what people and inputs ask for ------------------------------------------------------
    def hand_over(
        self, repo: Repo, spec: deals.DealSpec, cause: Cause, now: datetime, picked: Sequence[str] = ()
    ) -> m.Deal:
        """A deal handed over by Sales (validated spec): create it, enter its first stage, run its rules.
        `picked`: the roles filled from [[picks]], in words for the audit trail."""
        deal = deals.create_deal(repo, spec, now=now, default_tz=self.config.identity(spec.team).timezone)
        pipeline = self.pipelines[deal.pipeline]
        target = spec.stage or pipeline.first_stage()
        deals.enter_stage(repo, deal, pipeline, target, now=now, calendar=self.calendar)
        cause.trail(repo, now).on(deal)(
            "deal_created", f"deal {deal.name} handed over into {pipeline.id}, stage {target}"
        )
        for words in picked:
            cause.trail(repo, now).on(deal)("role_picked", words)
        self.tasks.opened(repo, deal, target, cause, now)
        triggers = [
            Trigger("stage_entered", target, f"deal entered {target}"),
            Trigger("deal_created", "", f"deal {deal.name} was handed over"),
        ]
        self.dispatch(repo, deal, triggers, cause, now)
        return deal

    def advance(
        self,
        repo: Repo,
        deal: m.Deal,
        target: str,
        cause: Cause,
        now: datetime,
        *,
        who: str,
        force: bool = False,
        reason: str = "",
    ) -> str:
        """A person moves the deal: what stops it, or "" (moved, or waiting for the stage's approval).

        Moving on while the stage's tasks are not done needs a reason, recorded (gates); `force`
        (the command line's --force) also skips the stage's approval.
        """
        if target != deal.stage and not self._behind(deal, target):
            problem = gates.let_through(repo, deal, cause, now, who=who, reason=reason, forced=force)
            if problem:
                return problem
        why = f"moved by {who}" + (f": {reason}" if reason else "")
        moved = self._move(repo, deal, target, cause, now, rule="", reason=why, force=force, gated=False)
        self.dispatch(repo, deal, moved, cause, now)
        return ""

    def complete_task(
        self, repo: Repo, deal: m.Deal, key: str, cause: Cause, now: datetime, *, who: str
    ) -> None:
        triggers = self.tasks.complete(
            repo, deal, key, cause, now, who=who, rule="", reason=f"marked done by {who}"
        )
        self.dispatch(repo, deal, triggers, cause, now)

    def decide_approval(
        self, repo: Repo, deal: m.Deal, granted: bool, cause: Cause, now: datetime, *, who: str
    ) -> bool:
        """The Accountable person's answer; False when no approval of the deal is waiting."""
        approval = repo.pending_approval(deal.id)
        if approval is None:
            return False
        approval.status = "granted" if granted else "denied"
        approval.decided_at = now
        verb = "approved" if granted else "refused"
        cause.trail(repo, now).on(deal)(
            "approval_" + approval.status,
            f"{who} {verb} leaving {approval.stage} for {approval.target_stage}",
        )
        triggers = [
            Trigger("approval_granted" if granted else "approval_denied", approval.stage, f"{who} {verb}")
        ]
        if granted and deal.stage == approval.stage:
            moved = self._move(
                repo,
                deal,
                approval.target_stage,
                cause,
                now,
                rule="",
                reason=f"approved by {who}",
                force=True,
            )
            triggers = moved + triggers
        self.dispatch(repo, deal, triggers, cause, now)
        return True

    # --- the rules ---------------------------------------------------------------------------
    def dispatch(
        self, repo: Repo, deal: m.Deal, triggers: list[Trigger], cause: Cause, now: datetime
    ) -> None:
        """Run the deal's rules for these triggers, and for every trigger their effects cause."""
        trail = cause.trail(repo, now).on(deal)
        pipeline = self.pipelines.get(deal.pipeline)
        if pipeline is None:
            trail(
                "pipeline_missing",
                f"pipeline {deal.pipeline} is not loaded (see `python -m agent check`); no rules ran",
            )
            return
        # most messages fire nothing and change no task: nothing to follow up; but a note of ours
        # may open action items (the recap waits for review) without any rule firing
        touched = False
        if any(t.kind == "message_received" and t.subject == "internal" for t in triggers):
            self.call_notes.note_arrived(repo, deal, cause, now)  # a CSM's note while the recap waits
            touched = True
        queue = deque(triggers)
        steps = 0
        while queue:
            trigger = queue.popleft()
            steps += 1
            if steps > MAX_STEPS:
                trail("loop_guard", f"stopped after {MAX_STEPS} rule steps: rules keep triggering each other")
                log.error("deal %s: rules loop stopped after %d steps", deal.id, MAX_STEPS)
                return
            if trigger.kind == gates.GATE_OPEN:  # the stage's last task is done: a held move goes
                held = gates.take(deal)
                if held is not None:
                    reason = f"{held['reason']} (it waited for the stage's tasks)"
                    queue.extend(
                        self._move(repo, deal, held["target"], cause, now, rule=held["rule"], reason=reason)
                    )
                continue
            firings: list[Firing] = []
            if trigger.kind == "stage_entered" and pipeline.has_stage(trigger.subject):
                stage = pipeline.stage(trigger.subject)
                if stage.on_enter and deal.stage == stage.id:
                    firings.append(
                        Firing(f"{stage.id}.on_enter", f"entered {stage.name}", tuple(stage.on_enter))
                    )
            if listens(pipeline, trigger):  # reading the facts is a few queries: most messages fire nothing
                about_issue = trigger.kind in ISSUE_TRIGGERS
                firings += evaluate(pipeline, trigger, deals.facts(repo, deal, issue=about_issue))
            firings += plays.firings(repo, deal, pipeline, trigger, cause, now)  # after the task's rules
            touched = touched or bool(firings) or trigger.kind in TASK_CHANGES
            for firing in firings:
                trail("rule_fired", firing.reason, rule=firing.rule)
                for action in firing.actions:
                    effect = plan(
                        action,
                        deal=deals.view(deal, repo.people(deal)),
                        raci=deals.raci(repo, deal),
                        pipeline=pipeline,
                        now=now,
                        calendar=self.calendar,
                    )
                    if effect is not None:
                        queue.extend(self._apply(repo, deal, effect, firing, trigger, cause, now))
        if touched:
            for then in self.after_rules:
                then(repo, deal, cause, now)

    def _apply(
        self,
        repo: Repo,
        deal: m.Deal,
        effect: Effect,
        firing: Firing,
        trigger: Trigger,
        cause: Cause,
        now: datetime,
    ) -> list[Trigger]:
        """Carry out one effect; the triggers it causes come back to the dispatch queue."""
        if isinstance(effect, SendEmail):
            extra = self._what_the_email_knows(repo, deal, effect, firing, trigger, cause, now)
            for to in [(a,) for a in effect.to] if effect.each else [effect.to]:
                self.enqueuer.queue_email(
                    repo,
                    deal,
                    effect.template,
                    to,
                    effect.cc,
                    due=effect.due_at,
                    rule=firing.rule,
                    reason=firing.reason,
                    cause=cause,
                    trigger=trigger,
                    now=now,
                    unless_replied=effect.unless_replied,
                    unfilled=effect.unfilled,
                    once=effect.once,
                    extra=extra,
                    approved_by=effect.approved_by,
                )
        elif isinstance(effect, MoveStage):
            if self._behind(deal, effect.target):
                # A rule moves a deal on, never back: a second "final" call, a late recap of an
                # earlier call or a reloaded rule must not undo the way it came. A person may.
                cause.trail(repo, now).on(deal)(
                    "stage_kept",
                    f"rule {firing.rule} would move the deal back from {deal.stage} to {effect.target}",
                    rule=firing.rule,
                )
                return []
            return self._move(repo, deal, effect.target, cause, now, rule=firing.rule, reason=firing.reason)
        elif isinstance(effect, CompleteTask):
            return self.tasks.complete(
                repo,
                deal,
                effect.key,
                cause,
                now,
                who=f"rule {firing.rule}",
                rule=firing.rule,
                reason=firing.reason,
            )
        elif isinstance(effect, CreateTask):
            row = deals.add_task(repo, deal, effect.task, stage_id=deal.stage, now=now)
            if row is not None:
                cause.trail(repo, now).on(deal)(
                    "task_created",
                    f"task '{row.title}' (R {row.responsible}, A {row.accountable})",
                    rule=firing.rule,
                )
                self.tasks.consult(repo, deal, row, cause, now, effect.task)
        elif isinstance(effect, Notify):
            said = self.coordinator.words(repo, deal, trigger, effect.message)  # {deal}, {severity}, {issue}
            notice = {"subject": f"{deal.name}: {said or firing.rule}", "message": said or firing.reason}
            self.enqueuer.queue_email(
                repo,
                deal,
                "notice",
                effect.to,
                (),
                due=now,
                rule=firing.rule,
                reason=firing.reason,
                cause=cause,
                trigger=trigger,
                now=now,
                unfilled=effect.unfilled,
                extra={"notice": notice},
            )
        elif isinstance(effect, PostChat | OpenChannel | ConfirmSeverity | ScheduleSync):
            self.coordinator.apply(repo, deal, effect, firing, trigger, cause, now)
        elif isinstance(effect, RequestApproval):
            target = self.pipelines[deal.pipeline].next_stage(deal.stage) or deal.stage
            self._request_approval(repo, deal, target, cause, now, firing.rule)
        return []

    def _what_the_email_knows(
        self,
        repo: Repo,
        deal: m.Deal,
        effect: SendEmail,
        firing: Firing,
        trigger: Trigger,
        cause: Cause,
        now: datetime,
    ) -> dict[str, Any] | None:
        """What only the firing knows: the call with the CSM's notes, the days of the rule's later emails."""
        extra: dict[str, Any] = {}
        if cause.meeting is not None:
            extra["meeting"] = self.call_notes.meeting(repo, deal, cause.meeting, now)
            if trigger.kind == "meeting_completed":  # what was agreed on the call becomes open tasks
                self.call_notes.open_tasks(repo, deal, cause.meeting, cause, now)
        if sends_later(firing.actions, effect.template):
            extra["later"] = later_sends(
                firing.actions,
                effect.template,
                deal=deals.view(deal, repo.people(deal)),
                raci=deals.raci(repo, deal),
                pipeline=self.pipelines[deal.pipeline],
                now=now,
                calendar=self.calendar,
            )
        return extra or None

    def _behind(self, deal: m.Deal, target: str) -> bool:
        """Whether `target` lies before the deal's stage in its pipeline (or the deal has ended)."""
        pipeline = self.pipelines[deal.pipeline]
        order = [s.id for s in pipeline.stages]
        if deal.stage not in order or target not in order:
            return False
        return deal.stage in pipeline.final_stages or order.index(target) < order.index(deal.stage)

    def _move(
        self,
        repo: Repo,
        deal: m.Deal,
        target: str,
        cause: Cause,
        now: datetime,
        *,
        rule: str,
        reason: str,
        force: bool = False,
        gated: bool = True,
    ) -> list[Trigger]:
        """Enter `target`, unless the stage's tasks are not done (a rule's move waits for them, see
        gates) or the stage needs an approval to be left: its trigger, to dispatch."""
        pipeline = self.pipelines[deal.pipeline]
        if target == deal.stage:
            return []
        left = gates.unfinished(repo, deal) if gated and not force and not self._behind(deal, target) else []
        if left:
            gates.hold(repo, deal, target, left, cause, now, rule=rule, reason=reason)
            return []
        current = pipeline.stage(deal.stage) if pipeline.has_stage(deal.stage) else None
        if current is not None and current.requires_approval and not force:
            self._request_approval(repo, deal, target, cause, now, rule)
            return []
        old = deals.enter_stage(repo, deal, pipeline, target, now=now, calendar=self.calendar)
        cause.trail(repo, now).on(deal)(
            "stage_changed", f"{old} → {target}: {reason}", rule=rule, from_stage=old, to_stage=target
        )
        gates.take(deal)  # a move held in the stage left is no longer to be made
        self.withdraw_left_behind(repo, deal, old, cause, now)
        self.tasks.opened(repo, deal, target, cause, now)
        return [Trigger("stage_entered", target, f"deal entered {target}")]

    def withdraw_left_behind(self, repo: Repo, deal: m.Deal, stage: str, cause: Cause, now: datetime) -> None:
        """The emails of entering `stage` that have not gone when the deal leaves it are no longer true.

        A deal handed over after its introduction call was held enters the call's stage, and the
        call's recap moves it on: "let's schedule your introduction call" must not go after it.
        """
        trail = cause.trail(repo, now)
        for email in repo.outbox_all(deal.id):
            if email.status in status.UNSENT and email.stage == stage and email.rule == f"{stage}.on_enter":
                status.withdraw(trail, email, f"the deal left {stage} before it went")

    def _request_approval(
        self, repo: Repo, deal: m.Deal, target: str, cause: Cause, now: datetime, rule: str
    ) -> None:
        """Leaving the stage needs the Accountable person's yes: record the request and ask them by email."""
        if repo.pending_approval(deal.id) is not None:
            return
        raci = deals.raci(repo, deal)
        approvers = [
            Address(r.email, r.name) for role in raci.accountable for r in deal.roles if r.role == role
        ]
        approver = approvers[0].email if approvers else ""
        repo.add(
            m.Approval(
                deal_id=deal.id,
                stage=deal.stage,
                target_stage=target,
                approver=approver,
                status="pending",
                requested_at=now,
            )
        )
        cause.trail(repo, now).on(deal)(
            "approval_requested",
            f"leaving {deal.stage} for {target} needs approval from {approver or 'the Accountable role'}",
            rule=rule,
        )
        if approver:
            self.enqueuer.queue_email(
                repo,
                deal,
                "approval-request",
                (approvers[0],),
                (),
                due=now,
                rule=rule,
                reason="approval needed",
                cause=cause,
                trigger=Trigger("approval", target),
                now=now,
                extra={"approval": {"from_stage": deal.stage, "to_stage": target}},
            )
