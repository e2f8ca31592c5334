"""Turn a rule's actions into concrete effects for one deal: who, what, when.

Still pure: recipients are resolved from the deal's people and the RACI of its
current stage; due times from the business calendar. The service applies the
effects to the store in the event's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agent.businesstime import BusinessCalendar
from agent.domain import Address, DealView
from agent.pipeline.definition import Pipeline
from agent.pipeline.schema import ActionDef, TaskDef


@dataclass(frozen=True)
class Raci:
    """The people-roles of the deal's current stage, from its tasks."""

    responsible: tuple[str, ...] = ()
    accountable: tuple[str, ...] = ()
    consulted: tuple[str, ...] = ()
    informed: tuple[str, ...] = ()


@dataclass(frozen=True)
class SendEmail:
    template: str
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    due_at: datetime
    unless_replied: bool
    unfilled: tuple[str, ...]  # recipient roles nobody fills on this deal (said in the audit trail)
    each: bool = False  # one email per To recipient (a survey answered by each contact)
    once: str | None = None  # "deal" | "contact": never queued again there, whatever fires the rule
    approved_by: str | None = None  # a role of ours: held until one of its people approves it


@dataclass(frozen=True)
class MoveStage:
    target: str


@dataclass(frozen=True)
class CompleteTask:
    key: str


@dataclass(frozen=True)
class CreateTask:
    task: TaskDef  # its due time is counted once the rules have run (agent.handling.task_timing)


@dataclass(frozen=True)
class Notify:
    to: tuple[Address, ...]
    message: str
    unfilled: tuple[str, ...]


@dataclass(frozen=True)
class PostChat:
    channels: tuple[str, ...]  # [[chat.channels]] names, or "deal" (the deal's own channel)
    message: str


@dataclass(frozen=True)
class OpenChannel:
    purpose: str  # deal | escalation | ...: the deal's own channel for it
    invite: tuple[Address, ...]
    unfilled: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class ConfirmSeverity:
    to: tuple[Address, ...]
    unfilled: tuple[str, ...]


@dataclass(frozen=True)
class ScheduleSync:
    to: tuple[Address, ...]
    unfilled: tuple[str, ...]
    minutes: int
    title: str


@dataclass(frozen=True)
class RequestApproval:
    pass


Coordination = PostChat | OpenChannel | ConfirmSeverity | ScheduleSync  # agent.handling.coordination
Effect = SendEmail | MoveStage | CompleteTask | CreateTask | Notify | Coordination | RequestApproval


def plan(
    action: ActionDef,
    *,
    deal: DealView,
    raci: Raci,
    pipeline: Pipeline,
    now: datetime,
    calendar: BusinessCalendar,
) -> Effect | None:
    """The effect of one action, or None when it cannot apply (e.g. advance past the last stage)."""
    kind = action.kind
    if kind == "send":
        assert action.send is not None
        to, missing_to = resolve(action.to, deal, raci)
        cc, missing_cc = resolve(action.cc, deal, raci)
        cc = tuple(a for a in cc if a not in to)
        due = now
        if action.after:
            due = calendar.add(due, action.after, deal.timezone)
            if action.at:
                # "1 business day later at 10:00" is that day at 10:00, not the first 10:00 after it
                due = calendar.start_of_day(due, deal.timezone)
        if action.at:
            due = calendar.next_at(due, action.at, deal.timezone)
        return SendEmail(
            action.send,
            to,
            cc,
            due,
            action.unless_replied,
            missing_to + missing_cc,
            action.each,
            action.once,
            action.approved_by,
        )
    if kind == "advance":
        target = pipeline.next_stage(deal.stage) if action.advance == "next" else action.advance
        return MoveStage(target) if target and target != deal.stage else None
    if kind == "complete_task":
        assert action.complete_task is not None
        return CompleteTask(action.complete_task)
    if kind == "create_task":
        assert action.create_task is not None
        task = action.create_task
        return CreateTask(task)
    if kind == "notify":
        to, missing = resolve(action.notify or [], deal, raci)
        return Notify(to, action.message, missing)
    if kind == "chat":
        return PostChat(tuple(action.chat or ()), action.message)
    if kind == "open_channel":
        assert action.open_channel is not None
        invite, missing = resolve(action.invite, deal, raci)
        return OpenChannel(action.open_channel, invite, missing, action.message)
    if kind == "confirm_severity":
        to, missing = resolve(action.confirm_severity or [], deal, raci)
        return ConfirmSeverity(to, missing)
    if kind == "schedule_sync":
        to, missing = resolve(action.schedule_sync or [], deal, raci)
        return ScheduleSync(to, missing, action.minutes, action.title)
    return RequestApproval()


def resolve(names: list[str], deal: DealView, raci: Raci) -> tuple[tuple[Address, ...], tuple[str, ...]]:
    """Recipient names (roles, RACI letters, client_contacts, addresses) to addresses, in order."""
    out: list[Address] = []
    missing: list[str] = []
    for name in names:
        found = _people(name, deal, raci)
        if not found:
            missing.append(name)
        for a in found:
            if a not in out:
                out.append(a)
    return tuple(out), tuple(missing)


def _people(name: str, deal: DealView, raci: Raci) -> list[Address]:
    if "@" in name:
        return [Address(name.lower())]
    if name == "client_contacts":
        return [Address(p.email, p.name) for p in deal.people if not p.internal]
    letters = {
        "responsible": raci.responsible,
        "accountable": raci.accountable,
        "consulted": raci.consulted,
        "informed": raci.informed,
    }
    roles = letters.get(name, (name,))
    return [Address(p.email, p.name) for role in roles for p in deal.people if p.role == role]
