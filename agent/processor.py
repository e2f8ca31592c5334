"""Process one input inside one transaction: record it, match it, run the rules, apply their effects.

The caller owns the transaction: the inbound event row, every deal change and
every queued email commit together, or not at all. Sending happens later,
from the outbox, after the commit.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from agent import deals
from agent.businesstime import BusinessCalendar
from agent.commands import parse_commands
from agent.config import Config
from agent.domain import Address
from agent.matching import Party
from agent.meetings import MeetingHandler
from agent.messages import MessageHandler
from agent.outbox.compose import new_message_id, subject_tag
from agent.outbox.context import deal_context, person
from agent.outbox.render import TemplateSet
from agent.pipeline.actions import (
    CompleteTask,
    CreateTask,
    Effect,
    MoveStage,
    Notify,
    RequestApproval,
    SendEmail,
    plan,
)
from agent.pipeline.engine import Firing, Trigger, evaluate, listens, timer_rules
from agent.pipeline.loader import Pipeline
from agent.review import Reviews
from agent.store import models as m
from agent.store.repo import Repo

log = logging.getLogger(__name__)
MAX_STEPS = 50  # rules that trigger each other stop here; a loop is a rules bug, not a reason to hang


@dataclass
class Cause:
    """What started this processing: the event row and the thing it is about."""

    event_id: int
    key: str
    # when the input reached the agent's mailbox or calendar, or came due: where latency starts
    arrived_at: datetime
    meeting: m.Meeting | None = None


class Processor:
    def __init__(
        self,
        config: Config,
        pipelines: dict[str, Pipeline],
        templates: TemplateSet,
        calendar: BusinessCalendar,
    ) -> None:
        self.config = config
        self.pipelines = pipelines
        self.templates = templates
        self.calendar = calendar
        self.party = Party(config.addresses(), config.agent.internal_domains)
        self.messages = MessageHandler(self)
        self.meetings = MeetingHandler(self)
        self.reviews = Reviews(self)

    # --- entry points ------------------------------------------------------------
    def begin(
        self,
        repo: Repo,
        key: str,
        source: str,
        now: datetime,
        content_hash: str | None = None,
        arrived_at: datetime | None = None,
    ) -> Cause | None:
        """Record the inbound event; None when it was handled before (at-least-once delivery upstream).

        A mail is also known by its content: after a UIDVALIDITY change it comes back under a new key.
        `arrived_at` is when the input reached the source (never later than now); default now.
        """
        if repo.event_known(key, content_hash):
            return None
        event_id = repo.insert(
            m.InboundEvent,
            key=key,
            source=source,
            status="processed",
            received_at=now,
            content_hash=content_hash,
        )
        return Cause(event_id, key, min(arrived_at or now, now))

    def hand_over(self, repo: Repo, spec: deals.DealSpec, cause: Cause, now: datetime) -> m.Deal:
        """A deal handed over by Sales (validated spec): create it, enter its first stage, run its rules."""
        deal = deals.create_deal(repo, spec, now=now, default_tz=self.config.identity(spec.team).timezone)
        pipeline = self.pipelines[deal.pipeline]
        target = spec.stage or pipeline.first_stage()
        deals.enter_stage(repo, deal, pipeline, target, now=now, calendar=self.calendar)
        repo.audit(
            now,
            "deal_created",
            deal_id=deal.id,
            event_id=cause.event_id,
            reason=f"deal {deal.name} handed over into {pipeline.id}, stage {target}",
        )
        self.dispatch(
            repo,
            deal,
            [
                Trigger("stage_entered", target, f"deal entered {target}"),
                Trigger("deal_created", "", f"deal {deal.name} was handed over"),
            ],
            cause,
            now,
        )
        return deal

    def fire_timer(self, repo: Repo, timer: m.Timer, cause: Cause, now: datetime) -> None:
        timer.fired_at = now
        deal = repo.deal(timer.deal_id) if timer.deal_id else None
        p = timer.payload
        if timer.kind == "review_timeout":
            self.reviews.timeout(repo, int(p["outbox_id"]), cause, now)
        elif timer.kind == "meeting_end":
            self.meetings.held(repo, int(p["meeting_id"]), p["end"], cause, now)
        elif timer.kind == "in_stage_for" and deal is not None:
            visit = repo.open_visit(deal.id)
            if visit is not None and visit.id == p["visit"]:
                self.dispatch(
                    repo,
                    deal,
                    [
                        Trigger(
                            "in_stage_for", p["rule"], f"in {deal.stage} since {visit.entered_at.isoformat()}"
                        )
                    ],
                    cause,
                    now,
                )
        elif timer.kind == "no_reply" and deal is not None:
            email = repo.outbox(int(p["outbox_id"]))
            if email is not None and email.status in ("queued", "sending"):
                # not sent yet (delayed or postponed): look again later; the wait starts when it goes
                timer.fired_at, timer.due_at = None, now + timedelta(hours=1)
                return
            if email is None or email.status != "sent" or email.sent_at is None:
                return
            rule = next((r for r in self.pipelines[deal.pipeline].rules if r.id == p["rule"]), None)
            if rule is None or rule.when.for_ is None:
                return  # the rule is gone (rules reloaded): nothing to nudge for
            wait_until = self.calendar.add(email.sent_at, rule.when.for_, deal.timezone)
            if now < wait_until:
                timer.fired_at, timer.due_at = None, wait_until  # sent later than queued: wait from the send
                return
            if not repo.client_message_since(deal.id, email.sent_at):
                self.dispatch(
                    repo,
                    deal,
                    [
                        Trigger(
                            "no_reply_to",
                            p["rule"],
                            f"no reply to {email.template} sent {email.sent_at.isoformat()}",
                        )
                    ],
                    cause,
                    now,
                )

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
    ) -> None:
        self._move(repo, deal, target, cause, now, rule="", reason=f"moved by {who}", force=force)

    def complete_task(
        self, repo: Repo, deal: m.Deal, key: str, cause: Cause, now: datetime, *, who: str
    ) -> None:
        triggers = self._complete_task(repo, deal, key, cause, now, rule="", reason=f"marked done by {who}")
        self.dispatch(repo, deal, triggers, cause, now)

    def decide_approval(
        self, repo: Repo, deal: m.Deal, granted: bool, cause: Cause, now: datetime, *, who: str
    ) -> bool:
        approval = repo.pending_approval(deal.id)
        if approval is None:
            return False
        approval.status = "granted" if granted else "denied"
        approval.decided_at = now
        verb = "approved" if granted else "refused"
        repo.audit(
            now,
            "approval_" + approval.status,
            deal_id=deal.id,
            event_id=cause.event_id,
            reason=f"{who} {verb} leaving {approval.stage} for {approval.target_stage}",
        )
        triggers = [
            Trigger("approval_granted" if granted else "approval_denied", approval.stage, f"{who} {verb}")
        ]
        if granted and deal.stage == approval.stage:
            triggers = (
                self._move(
                    repo,
                    deal,
                    approval.target_stage,
                    cause,
                    now,
                    rule="",
                    reason=f"approved by {who}",
                    force=True,
                    dispatch=False,
                )
                + triggers
            )
        self.dispatch(repo, deal, triggers, cause, now)
        return True

    # --- rules -----------------------------------------------------------------------
    def dispatch(
        self, repo: Repo, deal: m.Deal, triggers: list[Trigger], cause: Cause, now: datetime
    ) -> None:
        pipeline = self.pipelines.get(deal.pipeline)
        if pipeline is None:
            repo.audit(
                now,
                "pipeline_missing",
                deal_id=deal.id,
                event_id=cause.event_id,
                reason=f"pipeline {deal.pipeline} is not loaded (see `python -m agent check`); no rules ran",
            )
            return
        queue = deque(triggers)
        steps = 0
        while queue:
            trigger = queue.popleft()
            steps += 1
            if steps > MAX_STEPS:
                repo.audit(
                    now,
                    "loop_guard",
                    deal_id=deal.id,
                    event_id=cause.event_id,
                    reason=f"stopped after {MAX_STEPS} rule steps: rules keep triggering each other",
                )
                log.error("deal %s: rules loop stopped after %d steps", deal.id, MAX_STEPS)
                return
            firings: list[Firing] = []
            if trigger.kind == "stage_entered" and pipeline.has_stage(trigger.subject):
                stage = pipeline.stage(trigger.subject)
                if stage.on_enter and deal.stage == stage.id:
                    firings.append(
                        Firing(f"{stage.id}.on_enter", f"entered {stage.name}", tuple(stage.on_enter))
                    )
            if listens(pipeline, trigger):  # reading the facts is a few queries: most messages fire nothing
                firings += evaluate(pipeline, trigger, deals.facts(repo, deal))
            for firing in firings:
                repo.audit(
                    now,
                    "rule_fired",
                    deal_id=deal.id,
                    event_id=cause.event_id,
                    rule=firing.rule,
                    reason=firing.reason,
                )
                for action in firing.actions:
                    effect = plan(
                        action,
                        deal=deals.view(deal),
                        raci=deals.raci(repo, deal),
                        pipeline=pipeline,
                        now=now,
                        calendar=self.calendar,
                    )
                    if effect is not None:
                        queue.extend(self._apply(repo, deal, effect, firing, trigger, cause, now))

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
        if isinstance(effect, SendEmail):
            for to in [(a,) for a in effect.to] if effect.each else [effect.to]:
                self.queue_email(
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
                )
        elif isinstance(effect, MoveStage):
            return self._move(
                repo, deal, effect.target, cause, now, rule=firing.rule, reason=firing.reason, dispatch=False
            )
        elif isinstance(effect, CompleteTask):
            return self._complete_task(
                repo, deal, effect.key, cause, now, rule=firing.rule, reason=firing.reason
            )
        elif isinstance(effect, CreateTask):
            row = deals.add_task(
                repo, deal, effect.task, stage_id=deal.stage, now=now, calendar=self.calendar
            )
            if row is not None:
                repo.audit(
                    now,
                    "task_created",
                    deal_id=deal.id,
                    event_id=cause.event_id,
                    rule=firing.rule,
                    reason=f"task '{row.title}' (R {row.responsible}, A {row.accountable})",
                )
        elif isinstance(effect, Notify):
            extra = {
                "notice": {
                    "subject": f"{deal.name}: {effect.message or firing.rule}",
                    "message": effect.message or firing.reason,
                }
            }
            self.queue_email(
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
                extra=extra,
            )
        elif isinstance(effect, RequestApproval):
            self._request_approval(repo, deal, self._next_stage(deal) or deal.stage, cause, now, firing.rule)
        return []

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
        dispatch: bool = True,
    ) -> list[Trigger]:
        pipeline = self.pipelines[deal.pipeline]
        if target == deal.stage:
            return []
        current = pipeline.stage(deal.stage) if pipeline.has_stage(deal.stage) else None
        if current is not None and current.requires_approval and not force:
            self._request_approval(repo, deal, target, cause, now, rule)
            return []
        old = deals.enter_stage(repo, deal, pipeline, target, now=now, calendar=self.calendar)
        repo.audit(
            now,
            "stage_changed",
            deal_id=deal.id,
            event_id=cause.event_id,
            rule=rule,
            reason=f"{old} → {target}: {reason}",
            from_stage=old,
            to_stage=target,
        )
        triggers = [Trigger("stage_entered", target, f"deal entered {target}")]
        if dispatch:
            self.dispatch(repo, deal, triggers, cause, now)
            return []
        return triggers

    def _next_stage(self, deal: m.Deal) -> str | None:
        return self.pipelines[deal.pipeline].next_stage(deal.stage)

    def _complete_task(
        self, repo: Repo, deal: m.Deal, key: str, cause: Cause, now: datetime, *, rule: str, reason: str
    ) -> list[Trigger]:
        task = repo.task(deal.id, key)
        if task is None or task.status == "done":
            return []
        task.status = "done"
        task.completed_at = now
        repo.audit(
            now,
            "task_completed",
            deal_id=deal.id,
            event_id=cause.event_id,
            rule=rule,
            reason=f"task '{task.title}': {reason}",
        )
        triggers = [Trigger("task_completed", key, f"task {key} done")]
        stage_tasks = repo.tasks_in_stage(deal.id, task.stage)
        if task.stage == deal.stage and all(t.status == "done" for t in stage_tasks):
            triggers.append(Trigger("stage_tasks_done", task.stage, f"all tasks of {task.stage} are done"))
        return triggers

    def _request_approval(
        self, repo: Repo, deal: m.Deal, target: str, cause: Cause, now: datetime, rule: str
    ) -> None:
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
        repo.audit(
            now,
            "approval_requested",
            deal_id=deal.id,
            event_id=cause.event_id,
            rule=rule,
            reason=f"leaving {deal.stage} for {target} needs approval from {approver or 'the Accountable role'}",
        )
        if approver:
            extra = {"approval": {"from_stage": deal.stage, "to_stage": target}}
            self.queue_email(
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
                extra=extra,
            )

    # --- emails ------------------------------------------------------------------------
    def queue_email(
        self,
        repo: Repo,
        deal: m.Deal,
        template: str,
        to: tuple[Address, ...],
        cc: tuple[Address, ...],
        *,
        due: datetime,
        rule: str,
        reason: str,
        cause: Cause,
        trigger: Trigger,
        now: datetime,
        unless_replied: bool = False,
        unfilled: tuple[str, ...] = (),
        extra: dict[str, Any] | None = None,
        review_of: int | None = None,
    ) -> m.OutboxEmail | None:
        if unfilled:
            repo.audit(
                now,
                "recipients_missing",
                deal_id=deal.id,
                event_id=cause.event_id,
                rule=rule,
                reason=f"{template}: nobody fills {', '.join(unfilled)} on this deal",
            )
        if not to:
            repo.audit(
                now,
                "email_not_queued",
                deal_id=deal.id,
                event_id=cause.event_id,
                rule=rule,
                reason=f"{template}: no recipient",
            )
            return None
        recipients = ",".join(sorted(a.email for a in to + cc))
        key = _key(f"{cause.key}|{trigger.kind}:{trigger.subject}|{rule}|{template}|{deal.id}|{recipients}")
        if repo.outbox_by_key(key) is not None:
            return None  # the same cause already queued this email: never twice
        to_list = [person(a.name, a.email) for a in to]
        cc_list = [person(a.name, a.email) for a in cc]
        identity = self.config.identity(deal.team)  # a team's deal writes from the team's address
        context = deal_context(
            identity,
            deal,
            self.pipelines.get(deal.pipeline),
            recipients=to_list,
            meeting=cause.meeting,
            notes=self._notes(repo, deal, cause.meeting) if cause.meeting else None,
            extra=extra,
        )
        rendered = self.templates.render(template, context)
        in_reply_to, references = repo.thread_ids(deal.id)
        email = m.OutboxEmail(
            deal_id=deal.id,
            template=template,
            idempotency_key=key,
            message_id=new_message_id(identity, deal.id),
            to=to_list,
            cc=cc_list,
            subject=f"{rendered.subject} {subject_tag(deal.token)}",
            body_text=rendered.text,
            body_html=rendered.html,
            in_reply_to=in_reply_to,
            references=references,
            status="queued",
            due_at=due,
            created_at=now,
            ready_at=cause.arrived_at if due <= now else due,
            rule=rule,
            stage=deal.stage,
            # only an email about a held meeting depends on it: a cancellation notice must still go
            meeting_id=cause.meeting.id if cause.meeting and trigger.kind == "meeting_completed" else None,
            unless_replied=unless_replied,
            review_of=review_of,
        )
        repo.add(email)
        self.reviews.hold(repo, deal, email, cause, now)
        when = "now" if due <= now else f"at {due.isoformat()}"
        repo.audit(
            now,
            "email_queued",
            deal_id=deal.id,
            event_id=cause.event_id,
            rule=rule,
            reason=f"{template} to {', '.join(a['email'] for a in to_list)} {when}: {reason}",
            outbox_id=email.id,
        )
        pipeline = self.pipelines.get(deal.pipeline)
        for r in timer_rules(pipeline, "no_reply_to") if pipeline else []:
            if r.when.no_reply_to == template and r.when.for_ is not None:
                due_reply = self.calendar.add(due, r.when.for_, deal.timezone)
                repo.add_timer(
                    f"no-reply:{r.id}:{email.id}",
                    "no_reply",
                    due_reply,
                    deal.id,
                    {"rule": r.id, "outbox_id": email.id},
                )
        return email

    def notify_responsible(
        self, repo: Repo, deal: m.Deal, cause: Cause, now: datetime, *, subject: str, message: str
    ) -> None:
        """A notice to whoever is Responsible in the deal's stage (the CSM when no task says)."""
        raci = deals.raci(repo, deal)
        to = tuple(Address(r.email, r.name) for r in deal.roles if r.role in (raci.responsible or ("csm",)))
        extra = {"notice": {"subject": subject, "message": message}}
        self.queue_email(
            repo,
            deal,
            "notice",
            to,
            (),
            due=now,
            rule="",
            reason=subject,
            cause=cause,
            trigger=Trigger("notice", subject),
            now=now,
            extra=extra,
        )

    @staticmethod
    def _notes(repo: Repo, deal: m.Deal, meeting: m.Meeting) -> list[str]:
        """Our people's notes on the call: what they wrote to the agent since it began, commands left out."""
        return [n for n in repo.internal_notes(deal.id, meeting.start) if not parse_commands("", n)]

    def ask_which_deal(
        self,
        repo: Repo,
        candidate_ids: list[int],
        asker: Address | None,
        question: dict[str, Any],
        cause: Cause,
        now: datetime,
        *,
        about_message_id: int | None = None,
        about_meeting_id: int | None = None,
        in_reply_to: str = "",
    ) -> None:
        """Ask which deal a message or meeting is about: our own person who sent it, else the candidates' CSMs."""
        candidates = [d for d in (repo.deal(i) for i in candidate_ids) if d is not None]
        if asker is not None and self.party.is_internal(asker.email) and not self.party.is_agent(asker.email):
            ask = [asker]
        else:
            ask = list(
                dict.fromkeys(
                    Address(r.email, r.name) for d in candidates for r in d.roles if r.role == "csm"
                )
            )
        options = [
            {"number": n, "name": d.name, "ref": d.token, "stage": d.stage}
            for n, d in enumerate(candidates, start=1)
        ]
        self.queue_standalone(
            repo,
            "question",
            tuple(ask),
            {"question": {**question, "options": options}},
            cause=cause,
            now=now,
            reason=f"which deal is '{question['subject']}' about?",
            about_message_id=about_message_id,
            about_meeting_id=about_meeting_id,
            in_reply_to=in_reply_to,
        )

    def queue_standalone(
        self,
        repo: Repo,
        template: str,
        to: tuple[Address, ...],
        extra: dict[str, Any],
        *,
        cause: Cause,
        now: datetime,
        reason: str,
        about_message_id: int | None = None,
        about_meeting_id: int | None = None,
        in_reply_to: str = "",
    ) -> m.OutboxEmail | None:
        """An email to our own people that belongs to no deal (a question, a digest)."""
        recipients = ",".join(sorted(a.email for a in to))
        key = _key(f"{cause.key}|standalone|{template}|{recipients}")
        if not to or repo.outbox_by_key(key) is not None:
            return None
        to_list = [person(a.name, a.email) for a in to]
        context = {
            "agent": {"name": self.config.agent.name, "address": self.config.agent.address},
            "recipients": to_list,
            **extra,
        }
        rendered = self.templates.render(template, context)
        email = m.OutboxEmail(
            deal_id=None,
            template=template,
            idempotency_key=key,
            message_id=new_message_id(self.config.agent, None),
            to=to_list,
            cc=[],
            subject=rendered.subject,
            body_text=rendered.text,
            body_html=rendered.html,
            in_reply_to=in_reply_to,
            references=[in_reply_to] if in_reply_to else [],
            status="queued",
            due_at=now,
            created_at=now,
            ready_at=cause.arrived_at,
            rule="",
            stage="",
            about_message_id=about_message_id,
            about_meeting_id=about_meeting_id,
        )
        repo.add(email)
        repo.audit(
            now,
            "email_queued",
            deal_id=None,
            event_id=cause.event_id,
            reason=f"{template} to {', '.join(a['email'] for a in to_list)}: {reason}",
            outbox_id=email.id,
        )
        return email

    # --- messages ---------------------------------------------------------------------

    # --- meetings ---------------------------------------------------------------------


def _key(cause: str) -> str:
    """An idempotency key of fixed length: the cause can be long (meeting UIDs, many recipients)."""
    return hashlib.sha256(cause.encode()).hexdigest()
