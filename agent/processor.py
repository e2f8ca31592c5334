"""Process one input inside one transaction: record it, match it, run the rules, apply their effects.

The caller owns the transaction: the inbound event row, every deal change and
every queued email commit together, or not at all. Sending happens later,
from the outbox, after the commit.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from agent import deals
from agent.businesstime import BusinessCalendar
from agent.calendars.parse import parse_invitation_parts
from agent.config import Config
from agent.domain import Address, InboundMessage, MeetingVersion, MessageKind
from agent.matching import Party, match_meeting, match_message
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
from agent.pipeline.engine import Firing, Trigger, evaluate, timer_rules
from agent.pipeline.loader import Pipeline
from agent.store import models as m
from agent.store.repo import Repo

log = logging.getLogger(__name__)
MAX_STEPS = 50  # rules that trigger each other stop here; a loop is a rules bug, not a reason to hang
APPROVE_WORDS = {"approve", "approved", "yes", "ok", "okay", "agreed"}
REJECT_WORDS = {"reject", "rejected", "no", "deny", "denied"}


@dataclass
class Cause:
    """What started this processing: the event row and the thing it is about."""

    event_id: int
    key: str
    meeting: m.Meeting | None = None
    message: m.Message | None = None


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
        self.party = Party(config.agent.address, config.agent.internal_domains)

    # --- entry points ------------------------------------------------------------
    def begin(
        self, repo: Repo, key: str, source: str, now: datetime, payload: bytes | None = None
    ) -> Cause | None:
        """Record the inbound event; None when it was processed before (at-least-once delivery upstream)."""
        if repo.event(key) is not None:
            return None
        row = m.InboundEvent(key=key, source=source, status="processed", received_at=now, payload=payload)
        repo.add(row)
        return Cause(row.id, key)

    def deal_created(self, repo: Repo, deal: m.Deal, cause: Cause, now: datetime, stage: str | None) -> None:
        pipeline = self.pipelines[deal.pipeline]
        target = stage or pipeline.first_stage()
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

    def handle_message(
        self, repo: Repo, msg: InboundMessage, cause: Cause, now: datetime, raw: bytes
    ) -> None:
        if msg.sender and self.party.is_agent(msg.sender.email):
            self._log_message(repo, msg, cause, now, None, "outbound", "ignored", "", "the agent's own email")
            return
        if repo.message_by_id(msg.message_id) is not None:
            repo.audit(
                now,
                "duplicate",
                deal_id=None,
                event_id=cause.event_id,
                reason=f"message {msg.message_id} was already processed",
            )
            return
        if msg.kind is MessageKind.BOUNCE:
            self._bounce(repo, msg, cause, now)
            return
        match = match_message(msg, repo, self.party)
        direction = self._direction(msg)
        if msg.kind is MessageKind.INVITATION:
            self._log_message(
                repo,
                msg,
                cause,
                now,
                match.deal_id,
                direction,
                "matched" if match.deal_id else "ignored",
                match.strategy,
                match.reason,
            )
            self._invitation(repo, msg, cause, now)
            return
        if msg.auto_submitted:
            # Read and logged, never answered and never a reason to move a deal.
            self._log_message(
                repo,
                msg,
                cause,
                now,
                match.deal_id,
                direction,
                "ignored",
                match.strategy,
                f"{msg.kind_reason}; {match.reason}",
            )
            repo.audit(
                now,
                "message_ignored",
                deal_id=match.deal_id,
                event_id=cause.event_id,
                reason=f"{msg.kind.value}: {msg.kind_reason}",
            )
            return
        if match.deal_id is None:
            row = self._log_message(repo, msg, cause, now, None, direction, "unmatched", "", match.reason)
            row.candidates = list(match.candidates)
            repo.audit(now, "message_unmatched", deal_id=None, event_id=cause.event_id, reason=match.reason)
            return
        deal = repo.deal(match.deal_id)
        assert deal is not None
        row = self._log_message(
            repo, msg, cause, now, deal.id, direction, "matched", match.strategy, match.reason
        )
        cause.message = row
        repo.audit(
            now,
            "message_logged",
            deal_id=deal.id,
            event_id=cause.event_id,
            reason=f"{direction} message '{msg.subject}' matched: {match.reason}",
        )
        self._message_triggers(repo, deal, msg, direction, cause, now)

    def assign(
        self, repo: Repo, message: m.Message, deal: m.Deal, cause: Cause, now: datetime, who: str
    ) -> None:
        """A person told us which deal an unmatched message belongs to."""
        message.deal_id = deal.id
        message.status = "matched"
        message.match_strategy = "manual"
        message.match_reason = f"assigned by {who}"
        cause.message = message
        repo.audit(
            now,
            "message_assigned",
            deal_id=deal.id,
            event_id=cause.event_id,
            reason=f"message '{message.subject}' assigned to {deal.name} by {who}",
        )
        side = "client" if message.direction == "inbound" else "internal"
        self.dispatch(
            repo,
            deal,
            [Trigger("message_received", side, f"message '{message.subject}' from {side}")],
            cause,
            now,
        )

    def handle_meeting(self, repo: Repo, mv: MeetingVersion, cause: Cause, now: datetime) -> None:
        if mv.all_day:
            repo.audit(
                now,
                "meeting_ignored",
                deal_id=None,
                event_id=cause.event_id,
                reason=f"'{mv.title}' is an all-day event, not a call",
            )
            return
        meeting = repo.meeting(mv.uid, mv.recurrence_id)
        # Versions are ordered by SEQUENCE, then DTSTAMP; an equal version may still
        # differ (a hand-edited .ics), so only a strictly older one is stale.
        if meeting is not None and _version(mv.sequence, mv.dtstamp) < _version(
            meeting.sequence, meeting.dtstamp
        ):
            repo.audit(
                now,
                "meeting_stale",
                deal_id=meeting.deal_id,
                event_id=cause.event_id,
                reason=f"'{mv.title}' version {mv.sequence} is older than the stored {meeting.sequence}",
            )
            return
        if meeting is None:
            self._new_meeting(repo, mv, cause, now)
        else:
            self._update_meeting(repo, meeting, mv, cause, now)

    def fire_timer(self, repo: Repo, timer: m.Timer, cause: Cause, now: datetime) -> None:
        timer.fired_at = now
        deal = repo.deal(timer.deal_id) if timer.deal_id else None
        p = timer.payload
        if timer.kind == "meeting_end":
            meeting = repo.meeting_by_id(int(p["meeting_id"]))
            if meeting is None or meeting.status != "scheduled" or meeting.end.isoformat() != p["end"]:
                return  # cancelled, moved (a newer timer exists) or marked a no-show meanwhile
            meeting.status = "completed"
            cause.meeting = meeting
            if deal is None:
                return
            repo.audit(
                now,
                "meeting_completed",
                deal_id=deal.id,
                event_id=cause.event_id,
                reason=f"'{meeting.title}' ended at {meeting.end.isoformat()} and was not cancelled",
            )
            self.dispatch(
                repo,
                deal,
                [
                    Trigger(
                        "meeting_completed",
                        meeting.type,
                        f"{meeting.type or 'meeting'} '{meeting.title}' was held",
                    )
                ],
                cause,
                now,
            )
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
            if email is None or email.status != "sent" or email.sent_at is None:
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

    def mark_no_show(self, repo: Repo, meeting: m.Meeting, cause: Cause, now: datetime, *, who: str) -> None:
        meeting.status = "no_show"
        repo.audit(
            now,
            "meeting_no_show",
            deal_id=meeting.deal_id,
            event_id=cause.event_id,
            reason=f"{who} marked '{meeting.title}' a no-show",
        )

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
            self._queue(
                repo,
                deal,
                effect.template,
                effect.to,
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
            self._queue(
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
            self._queue(
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
    def _queue(
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
        key = f"{cause.key}|{trigger.kind}:{trigger.subject}|{rule}|{template}|{deal.id}|{recipients}"
        if repo.outbox_by_key(key) is not None:
            return None  # the same cause already queued this email: never twice
        to_list = [person(a.name, a.email) for a in to]
        cc_list = [person(a.name, a.email) for a in cc]
        context = deal_context(
            self.config.agent,
            deal,
            self.pipelines.get(deal.pipeline),
            recipients=to_list,
            meeting=cause.meeting,
            extra=extra,
        )
        rendered = self.templates.render(template, context)
        in_reply_to, references = repo.thread_ids(deal.id)
        email = m.OutboxEmail(
            deal_id=deal.id,
            template=template,
            idempotency_key=key,
            message_id=new_message_id(self.config.agent, deal.id),
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
            rule=rule,
            stage=deal.stage,
            # only an email about a held meeting depends on it: a cancellation notice must still go
            meeting_id=cause.meeting.id if cause.meeting and trigger.kind == "meeting_completed" else None,
            unless_replied=unless_replied,
        )
        repo.add(email)
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

    # --- messages ---------------------------------------------------------------------
    def _direction(self, msg: InboundMessage) -> str:
        sender = msg.sender.email if msg.sender else ""
        if not sender or not self.party.is_internal(sender):
            return "inbound"
        if any(self.party.is_agent(a.email) for a in msg.to):
            return "internal"
        if any(self.party.is_agent(a.email) for a in msg.cc):
            return "cc"
        return "bcc"

    def _log_message(
        self,
        repo: Repo,
        msg: InboundMessage,
        cause: Cause,
        now: datetime,
        deal_id: int | None,
        direction: str,
        status: str,
        strategy: str,
        reason: str,
    ) -> m.Message:
        row = m.Message(
            deal_id=deal_id,
            message_id=msg.message_id,
            source_key=cause.key,
            subject=msg.subject,
            sender=msg.sender.email if msg.sender else "",
            recipients=[a.email for a in (*msg.to, *msg.cc)],
            direction=direction,
            kind=msg.kind.value,
            status=status,
            match_strategy=strategy,
            match_reason=reason,
            candidates=[],
            received_at=now,
            date=msg.date,
            excerpt=msg.new_text[:2000],
        )
        repo.add(row)
        return row

    def _message_triggers(
        self, repo: Repo, deal: m.Deal, msg: InboundMessage, direction: str, cause: Cause, now: datetime
    ) -> None:
        side = "client" if direction == "inbound" else "internal"
        sender = msg.sender.email if msg.sender else ""
        word = _first_word(msg.new_text)
        triggers = [Trigger("message_received", side, f"{side} message '{msg.subject}' from {sender}")]
        approval = repo.pending_approval(deal.id)
        if approval is not None and sender == approval.approver and word in APPROVE_WORDS | REJECT_WORDS:
            self.decide_approval(repo, deal, word in APPROVE_WORDS, cause, now, who=sender)
        elif side == "internal" and word == "no-show":
            held = [
                mt
                for mt in repo.meetings_for(deal.id)
                if mt.status in ("scheduled", "completed") and mt.start <= now
            ]
            if held:
                self.mark_no_show(repo, held[-1], cause, now, who=sender)
        elif side == "internal" and word:
            triggers.append(Trigger("command", word, f"command '{word}' from {sender}"))
        if side == "client" and repo.has_sent(deal.id, "survey"):
            score = _csat(msg.new_text)
            if score is not None:
                deal.csat = score
                repo.audit(
                    now,
                    "csat_recorded",
                    deal_id=deal.id,
                    event_id=cause.event_id,
                    reason=f"{sender} rated onboarding {score}",
                    score=score,
                )
                triggers.append(Trigger("csat_received", str(score), f"CSAT {score} from {sender}"))
        self.dispatch(repo, deal, triggers, cause, now)

    def _bounce(self, repo: Repo, msg: InboundMessage, cause: Cause, now: datetime) -> None:
        self._log_message(repo, msg, cause, now, None, "inbound", "ignored", "", msg.kind_reason)
        for address in msg.bounced_recipients:
            flag = repo.flag(address)
            flag.bounced_at = now
            flag.reason = f"bounce {msg.message_id}: {msg.kind_reason}"
            for deal_id in repo.deals_by_email(address):
                deal = repo.deal(deal_id)
                assert deal is not None
                repo.audit(
                    now,
                    "address_bounced",
                    deal_id=deal_id,
                    event_id=cause.event_id,
                    reason=f"{address} bounced; no more mail goes to it",
                )
                extra = {
                    "notice": {
                        "subject": f"{deal.name}: {address} bounced",
                        "message": f"Mail to {address} bounced ({msg.kind_reason}). "
                        "Please find a working address for this contact.",
                    }
                }
                raci = deals.raci(repo, deal)
                to = tuple(
                    Address(r.email, r.name) for r in deal.roles if r.role in (raci.responsible or ("csm",))
                )
                self._queue(
                    repo,
                    deal,
                    "notice",
                    to,
                    (),
                    due=now,
                    rule="",
                    reason=f"{address} bounced",
                    cause=cause,
                    trigger=Trigger("bounce", address),
                    now=now,
                    extra=extra,
                )

    def _invitation(self, repo: Repo, msg: InboundMessage, cause: Cause, now: datetime) -> None:
        cal = self.config.calendar
        versions = parse_invitation_parts(
            msg.calendar_parts,
            window_start=now - timedelta(days=cal.lookbehind_days),
            window_end=now + timedelta(days=cal.lookahead_days),
            source=f"message {msg.message_id}",
            default_tz=self.config.agent.timezone,
        )
        for mv in versions:
            self.handle_meeting(repo, mv, cause, now)

    # --- meetings ---------------------------------------------------------------------
    def _new_meeting(self, repo: Repo, mv: MeetingVersion, cause: Cause, now: datetime) -> None:
        match = match_meeting(mv, repo, self.party)
        deal = repo.deal(match.deal_id) if match.deal_id else None
        pipeline = self.pipelines.get(deal.pipeline) if deal else None
        mtype = pipeline.meeting_type(deal.stage, mv.title) if deal and pipeline else ""
        meeting = m.Meeting(
            deal_id=deal.id if deal else None,
            uid=mv.uid,
            recurrence_id=mv.recurrence_id,
            sequence=mv.sequence,
            dtstamp=mv.dtstamp,
            title=mv.title,
            description=mv.description,
            type=mtype,
            start=mv.start,
            end=mv.end,
            status="cancelled" if mv.cancelled else "scheduled",
            organizer=mv.organizer.email if mv.organizer else "",
            attendees=[{"email": a.email, "name": a.name} for a in mv.attendees],
            match_reason=match.reason,
        )
        repo.add(meeting)
        cause.meeting = meeting
        if deal is None:
            repo.audit(
                now,
                "meeting_unmatched",
                deal_id=None,
                event_id=cause.event_id,
                reason=f"'{mv.title}': {match.reason}",
            )
            return
        repo.audit(
            now,
            "meeting_scheduled",
            deal_id=deal.id,
            event_id=cause.event_id,
            reason=f"'{mv.title}' at {mv.start.isoformat()} is a {mtype or 'meeting of no known type'}: "
            f"{match.reason}",
        )
        if mv.cancelled:
            return
        self._completion_timer(repo, meeting)
        self.dispatch(
            repo, deal, [Trigger("meeting_scheduled", mtype, f"'{mv.title}' was scheduled")], cause, now
        )

    def _update_meeting(
        self, repo: Repo, meeting: m.Meeting, mv: MeetingVersion, cause: Cause, now: datetime
    ) -> None:
        moved = (mv.start, mv.end) != (meeting.start, meeting.end)
        meeting.sequence, meeting.dtstamp = mv.sequence, mv.dtstamp
        meeting.title, meeting.description = mv.title, mv.description
        meeting.attendees = [{"email": a.email, "name": a.name} for a in mv.attendees]
        cause.meeting = meeting
        deal = repo.deal(meeting.deal_id) if meeting.deal_id else None
        if meeting.status in ("completed", "no_show"):
            return  # history is not rewritten by a late update
        trigger: Trigger | None = None
        if mv.cancelled and meeting.status != "cancelled":
            meeting.status = "cancelled"
            trigger = Trigger("meeting_cancelled", meeting.type, f"'{mv.title}' was cancelled")
        elif not mv.cancelled and (moved or meeting.status == "cancelled"):
            meeting.start, meeting.end, meeting.status = mv.start, mv.end, "scheduled"
            self._completion_timer(repo, meeting)
            trigger = Trigger(
                "meeting_rescheduled", meeting.type, f"'{mv.title}' moved to {mv.start.isoformat()}"
            )
        if trigger is None or deal is None:
            return
        repo.audit(now, trigger.kind, deal_id=deal.id, event_id=cause.event_id, reason=trigger.detail)
        self.dispatch(repo, deal, [trigger], cause, now)

    def _completion_timer(self, repo: Repo, meeting: m.Meeting) -> None:
        grace = timedelta(minutes=self.config.calendar.completion_grace_minutes)
        repo.add_timer(
            f"meeting-end:{meeting.id}:{meeting.end.isoformat()}",
            "meeting_end",
            meeting.end + grace,
            meeting.deal_id,
            {"meeting_id": meeting.id, "end": meeting.end.isoformat()},
        )


def _version(sequence: int, dtstamp: datetime | None) -> tuple[int, float]:
    return sequence, dtstamp.timestamp() if dtstamp else 0.0


def _first_word(text: str) -> str:
    m_ = re.match(r"\s*([A-Za-z][A-Za-z-]*)", text or "")
    return m_.group(1).lower() if m_ else ""


def _csat(text: str) -> int | None:
    """A 1-5 (or 1-10) rating opening a survey reply: "5", "4/5", "Rating: 3 - good".

    Only at the start: "we have 3 more questions" is not a score.
    """
    found = re.match(
        r"\s*(?:(?:rating|score)\s*:?\s*)?(10|[1-9])(?:\s*/\s*(?:5|10))?(?![\d.])", text or "", re.I
    )
    return int(found.group(1)) if found else None
