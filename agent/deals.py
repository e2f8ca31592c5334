"""A deal's own lifecycle: creation from a hand-over, stage moves, tasks, time in stage.

Functions here change rows through the Repo inside the caller's transaction;
the rules that react to these changes are run by agent.handling.runner.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from agent import deal_data
from agent.businesstime import BusinessCalendar
from agent.config import Config, check_address, check_timezone
from agent.domain import DealView, Participant
from agent.matching import FREE_MAIL
from agent.pipeline.actions import Raci
from agent.pipeline.definition import Pipeline
from agent.pipeline.engine import DealFacts
from agent.pipeline.schema import TaskDef
from agent.store import models as m
from agent.store.queries.deals import People
from agent.store.repo import Repo


@dataclass
class ContactSpec:
    name: str
    email: str
    role: str


@dataclass
class DealSpec:
    """A hand-over from Sales: everything needed to start onboarding a client."""

    name: str
    pipeline: str
    contacts: list[ContactSpec] = field(default_factory=list)
    roles: dict[str, tuple[str, str]] = field(default_factory=dict)  # role -> (name, email)
    stage: str | None = None
    timezone: str | None = None
    account: str | None = None
    client_domains: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    contract_start: date | None = None
    contract_end: date | None = None
    contract_months: int | None = None
    payment_type: str | None = None
    entities: list[str] = field(default_factory=list)  # the client's sites or stations licensing it
    attributes: dict[str, str] = field(default_factory=dict)
    team: str = ""  # a [[teams]] name; "" is the main mailbox


DEFAULT_PIPELINE = "standard-onboarding"


def default_pipeline(config: Config, team: str) -> str:
    """The pipeline of a deal handed over without one: its team's, else the standard one."""
    t = config.team(team) if team else None
    return (t.pipeline if t else "") or DEFAULT_PIPELINE


def validate_spec(spec: DealSpec, pipelines: dict[str, Pipeline], teams: Collection[str] = ()) -> list[str]:
    """Problems with a hand-over, in words; empty when it can be created. `teams`: the [[teams]] names."""
    problems = []
    if not spec.name.strip():
        problems.append("deal: the deal name is empty")
    if spec.team and spec.team not in teams:
        problems.append(f"team: unknown team {spec.team!r}; expected one of {sorted(teams)} ([[teams]] name)")
    pipeline = pipelines.get(spec.pipeline)
    if pipeline is None:
        problems.append(f"pipeline: unknown pipeline {spec.pipeline!r}; expected one of {sorted(pipelines)}")
        return problems
    if spec.stage and not pipeline.has_stage(spec.stage):
        problems.append(
            f"stage: unknown stage {spec.stage!r}; expected one of {[s.id for s in pipeline.stages]}"
        )
    for c in spec.contacts:
        problems += _address_problem("contact_email", c.email)
        if any(ch in c.name for ch in "\r\n\x00"):
            problems.append(f"contact_name: {c.name!r}: a name cannot hold line breaks (a header injection)")
    for entity in spec.entities:
        if any(ch in entity for ch in "\r\n\x00;"):
            problems.append(f"entities: {entity!r}: one name per entity, without line breaks or ';'")
    for role, (name, email) in spec.roles.items():
        if role not in pipeline.internal_roles():
            problems.append(
                f"{role}: not an internal role of {pipeline.id}; expected one of {pipeline.internal_roles()}"
            )
        problems += _address_problem(role, email)
        if any(ch in name for ch in "\r\n\x00<>"):
            problems.append(f"{role}: name {name!r}: a name cannot hold line breaks or angle brackets")
    if spec.timezone:
        try:
            check_timezone(spec.timezone)
        except ValueError as exc:
            problems.append(f"timezone: {spec.timezone!r}: {exc}")
    return problems


def _address_problem(key: str, value: str) -> list[str]:
    try:
        check_address(value)
    except ValueError as exc:
        return [f"{key}: {value!r}: {exc}"]
    return []


def create_deal(repo: Repo, spec: DealSpec, *, now: datetime, default_tz: str) -> m.Deal:
    deal = m.Deal(
        name=spec.name.strip(),
        name_key=m.name_key(spec.name),
        pipeline=spec.pipeline,
        team=spec.team,
        stage="",
        token=repo.new_token(),
        timezone=spec.timezone or default_tz,
        contract_start=spec.contract_start,
        contract_end=spec.contract_end,
        contract_months=spec.contract_months,
        payment_type=spec.payment_type,
        products=list(spec.products),
        attributes={
            **spec.attributes,
            **({deal_data.ENTITIES: list(spec.entities)} if spec.entities else {}),
        },
        created_at=now,
    )
    deal.account = repo.account(spec.account or spec.name.strip())
    repo.add(deal)
    for c in spec.contacts:
        repo.add(
            m.Contact(deal_id=deal.id, name=c.name, email=c.email.strip().lower(), role=c.role or "contact")
        )
    for role, (name, email) in spec.roles.items():
        repo.add(m.RoleAssignment(deal_id=deal.id, role=role, name=name.strip(), email=email.strip().lower()))
    domains = spec.client_domains or [c.email.rsplit("@", 1)[-1] for c in spec.contacts]
    for domain in dict.fromkeys(d.strip().lower().lstrip("@") for d in domains):
        if domain and domain not in FREE_MAIL:
            repo.add(m.ClientDomain(deal_id=deal.id, domain=domain))
    repo.refresh(deal)
    return deal


def enter_stage(
    repo: Repo, deal: m.Deal, pipeline: Pipeline, target: str, *, now: datetime, calendar: BusinessCalendar
) -> str:
    """Close the open visit, open one for `target`, create its tasks and timers; returns the old stage."""
    old = deal.stage
    visit = repo.open_visit(deal.id)
    if visit is not None:
        visit.exited_at = now
    new_visit = m.StageVisit(deal_id=deal.id, stage=target, entered_at=now)
    repo.add(new_visit)
    deal.stage = target
    stage = pipeline.stage(target)
    for task in stage.all_tasks:  # its plays' tasks too: a play starts when its stage is entered
        add_task(repo, deal, task, stage_id=target, now=now)
    for rule in pipeline.rules_on("in_stage_for"):
        if rule.if_.stage is None or target in rule.if_.stage:
            assert rule.when.in_stage_for is not None
            due = calendar.add(now, rule.when.in_stage_for, deal.timezone)
            repo.add_timer(
                f"in-stage:{rule.id}:{new_visit.id}",
                "in_stage_for",
                due,
                deal.id,
                {"rule": rule.id, "visit": new_visit.id},
            )
    return old


def add_task(repo: Repo, deal: m.Deal, task: TaskDef, *, stage_id: str, now: datetime) -> m.Task | None:
    """The task, open; its due date is counted once the rules have run (agent.handling.task_timing):
    it may wait for another task, and counts the business days of its Responsible person's side."""
    if repo.task(deal.id, task.id) is not None:
        return None  # re-entering a stage keeps the tasks (and their status) from the first visit
    row = m.Task(
        deal_id=deal.id,
        key=task.id,
        stage=stage_id,
        title=task.title,
        status="open",
        responsible=task.R[0],
        accountable=task.A[0],
        consulted=list(task.C),
        informed=list(task.I),
        due_at=None,
        created_at=now,
    )
    repo.add(row)
    return row


def add_action_task(
    repo: Repo,
    deal: m.Deal,
    key: str,
    title: str,
    *,
    responsible: str,
    due_at: datetime | None,
    now: datetime,
) -> m.Task | None:
    """An action item agreed on a call, as an open task; None when the deal has it already.

    It belongs to the deal, not to a stage (stage ""): a client's promise in a note must not
    hold back the rules that wait for a stage's own tasks. The CSM is Accountable for it.
    """
    if repo.task(deal.id, key) is not None:
        return None
    row = m.Task(
        deal_id=deal.id,
        key=key,
        stage="",
        title=title[:300],
        status="open",
        responsible=responsible,
        accountable="csm",
        consulted=[],
        informed=[],
        due_at=due_at,
        created_at=now,
    )
    repo.add(row)
    return row


def view(deal: m.Deal, people: People | None = None) -> DealView:
    """`people`: the deal's roles, contacts and domains as the store read them (`Repo.people`), else
    its own."""
    read = people or People.of(deal)
    participants = [Participant(c.email, c.name, c.role, False) for c in read.contacts]
    participants += [Participant(r.email, r.name, r.role, True) for r in read.roles]
    return DealView(
        id=deal.id,
        name=deal.name,
        pipeline=deal.pipeline,
        stage=deal.stage,
        token=deal.token,
        client_domains=read.domains,
        people=tuple(participants),
        timezone=deal.timezone,
        attributes={k: str(v) for k, v in deal_data.custom_attributes(deal).items()},
    )


def facts(repo: Repo, deal: m.Deal, *, issue: bool = False) -> DealFacts:
    """What the rules' conditions read; `issue`: the kind of the issue the trigger is about, too."""
    people = repo.people(deal)
    roles = {r.role for r in people.roles} | {c.role for c in people.contacts}
    if people.contacts:
        roles.add("client_contacts")
    by_status = repo.meeting_types_by_status(deal.id)
    completed = by_status.get("completed", set())
    return DealFacts(
        stage=deal.stage,
        meetings_completed=frozenset(completed),
        meetings_booked=frozenset(by_status.get("scheduled", set()) | completed),
        tasks_done=frozenset(repo.done_task_keys(deal.id)),
        roles_filled=frozenset(roles),
        attributes={k: str(v) for k, v in deal_data.custom_attributes(deal).items()},
        issue_kind=(latest.kind if issue and (latest := repo.latest_issue(deal.id)) else ""),
    )


def raci(repo: Repo, deal: m.Deal) -> Raci:
    tasks = repo.tasks_in_stage(deal.id, deal.stage)

    def uniq(values: list[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(values))

    return Raci(
        responsible=uniq([t.responsible for t in tasks]),
        accountable=uniq([t.accountable for t in tasks]),
        consulted=uniq([c for t in tasks for c in t.consulted]),
        informed=uniq([i for t in tasks for i in t.informed]),
    )


def time_in_stage(
    visits: list[m.StageVisit], pipeline: Pipeline | None, now: datetime
) -> tuple[dict[str, float], float]:
    """Seconds spent per stage, and in total; time in an end stage does not count.

    The clock stops when a deal reaches an end stage and restarts if it leaves
    it (a re-opened deal), because a won deal is not "being onboarded".
    """
    per_stage: dict[str, float] = {}
    for v in visits:
        seconds = ((v.exited_at or now) - v.entered_at).total_seconds()
        per_stage[v.stage] = per_stage.get(v.stage, 0.0) + max(seconds, 0.0)
    total = sum(s for stage, s in per_stage.items() if not _is_end(pipeline, stage))
    return per_stage, total


def _description(pipeline: Pipeline | None, key: str) -> str:
    definition = pipeline.task_def(key) if pipeline else None
    return definition.description if definition else ""


def _is_end(pipeline: Pipeline | None, stage: str) -> bool:
    return bool(pipeline and pipeline.has_stage(stage) and pipeline.stage(stage).end)


def summary(repo: Repo, deal: m.Deal, pipeline: Pipeline | None, now: datetime) -> dict[str, Any]:
    """Everything `deals show` prints (DESIGN.md's JSON shape, plus more keys)."""
    per_stage, total = time_in_stage(list(repo.visits(deal.id)), pipeline, now)
    visit = repo.open_visit(deal.id)
    in_current = (now - visit.entered_at).total_seconds() if visit else 0.0
    target = pipeline.stage(deal.stage).target_days if pipeline and pipeline.has_stage(deal.stage) else None
    return {
        "id": deal.id,
        "name": deal.name,
        "pipeline": deal.pipeline,
        "stage": deal.stage,
        "team": deal.team,
        "token": deal.token,
        "account": deal.account.name if deal.account else "",
        "timezone": deal.timezone,
        "client_domains": [d.domain for d in deal.domains],
        "contacts": [{"name": c.name, "email": c.email, "role": c.role} for c in deal.contacts],
        "roles": {r.role: {"name": r.name, "email": r.email} for r in deal.roles},
        "products": list(deal.products or []),
        "contract": {
            "start": deal.contract_start.isoformat() if deal.contract_start else None,
            "end": deal.contract_end.isoformat() if deal.contract_end else None,
            "months": deal.contract_months,
            "payment_type": deal.payment_type,
        },
        "entities": deal_data.entities(deal),
        "contract_document": deal_data.contract_document(deal),  # the signed contract, emailed in
        "missing_attributes": deal_data.missing(deal, pipeline),  # what the pipeline requires, not given yet
        "attributes": deal_data.custom_attributes(deal),
        "csat": deal.csat,
        "stage_history": [
            {
                "stage": v.stage,
                "entered_at": v.entered_at.isoformat(),
                "exited_at": v.exited_at.isoformat() if v.exited_at else None,
            }
            for v in repo.visits(deal.id)
        ],
        "time_in_stage_seconds": per_stage,
        "total_onboarding_seconds": total,
        "current_stage_seconds": in_current,
        "current_stage_late": bool(target and in_current > target * 86400),
        "tasks": [
            {
                "id": t.key,
                "title": t.title,
                "description": _description(pipeline, t.key),
                "stage": t.stage,
                "status": t.status,
                "R": t.responsible,
                "A": t.accountable,
                "C": list(t.consulted),
                "I": list(t.informed),
                "due_at": t.due_at.isoformat() if t.due_at else None,
                "completed_at": t.completed_at.isoformat() if t.completed_at else None,
                "done_by": t.done_by,
                "approved_by": t.approved_by,
                "rejection": t.rejection,
                "consulted_answers": list(t.consults),  # each C asked: their answer, when it came
            }
            for t in repo.tasks(deal.id)
        ],
        "move_waiting": dict(deal.held_move or {}),  # a rule's move held until the tasks are done
        "messages": [
            {
                "id": msg.id,
                "message_id": msg.message_id,
                "subject": msg.subject,
                "from": msg.sender,
                "direction": msg.direction,
                "kind": msg.kind,
                # matched, ignored, history (recorded, not acted on: docs/mail.md), unmatched, held
                "status": msg.status,
                "received_at": msg.received_at.isoformat(),
                "match_reason": msg.match_reason,
                "excerpt": msg.excerpt,
                "severity": msg.severity,  # an issue's, as read from it (agent.severity); "" none
            }
            for msg in repo.messages_for(deal.id)
        ],
        "meetings": [
            {
                "uid": mt.uid,
                "recurrence_id": mt.recurrence_id,
                "title": mt.title,
                "type": mt.type,
                "start": mt.start.isoformat(),
                "end": mt.end.isoformat(),
                "status": mt.status,
                "match_reason": mt.match_reason,
            }
            for mt in repo.meetings_for(deal.id)
        ],
        "emails": [
            {
                "id": e.id,
                "template": e.template,
                "to": [a["email"] for a in e.to],
                "cc": [a["email"] for a in e.cc],
                "subject": e.subject,
                "status": e.status,
                "message_id": e.message_id,
                "due_at": e.due_at.isoformat(),
                "sent_at": e.sent_at.isoformat() if e.sent_at else None,
                "rule": e.rule,
            }
            for e in repo.outbox_all(deal.id)
        ],
        **deal_data.coordination(repo, deal),  # issues, chat channels and posts
        "events": [
            {"at": a.at.isoformat(), "kind": a.kind, "rule": a.rule, "reason": a.reason, "details": a.details}
            for a in repo.events_for(deal.id)
        ],
    }
