"""An account becoming hybrid, and an escalation on it (seeds/004, "Accounts Becoming Hybrid" and
"Account Adoption and Escalations"); the email commands and `deals hybrid` / `deals escalate` call these.

A deal that becomes hybrid moves to the hybrid-onboarding pipeline without losing its history:
its stage visits, tasks, emails and events stay as they were, and the stage it enters is entered
as the rule runner enters any stage (a stage visit, its tasks and timers, its `on_enter`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from agent import deal_data, deals
from agent.config import check_address
from agent.config.values import parse_person
from agent.domain import HYBRID_PATHS
from agent.handling.cause import Cause
from agent.handling.runner import RuleRunner
from agent.pipeline.definition import Pipeline
from agent.pipeline.engine import Trigger, listens
from agent.store import models as m
from agent.store.audit import Trail
from agent.store.repo import Repo

HYBRID = "hybrid-onboarding"
LEARNING_BOUGHT_SERVICE, SERVICE_BOUGHT_LEARNING = HYBRID_PATHS
# Where each way in starts, when the person does not say:
# - a Learning and/or Compliance account that buys FMC is ours already: its LMS is set up and its
#   CSM assigned, and Account Assignment is written for "a net new hybrid account ... Closed Won".
#   What is new is the service, onboarded by the FMC department's call in Onboarding (the
#   learning side's call is held there too, if it was not yet); the document gives this way one
#   action of its own, the CSM's channel with the CSM TL and the RSM (the rule
#   learning-account-bought-fmc), and says nothing of the FMC department's intake.
# - an FMC account that buys Learning and/or Compliance needs what Account Assignment holds: "CS
#   Operations will proceed to assign a CSM to the account" (and set up its LMS).
DEFAULT_STAGE = {LEARNING_BOUGHT_SERVICE: "onboarding", SERVICE_BOUGHT_LEARNING: "account-assignment"}
# "so an Expansion Revenue opportunity can be generated": what the FMC account now buys
EXPANSION = "learning/compliance"
PATHS_IN_WORDS = (
    f"{LEARNING_BOUGHT_SERVICE} (a Learning and/or Compliance account bought the Fully-Managed "
    f"Credentialing service) or {SERVICE_BOUGHT_LEARNING} (an FMC account bought Learning and/or Compliance)"
)
ESCALATE = Trigger("command", "escalate")


def become_hybrid(
    runner: RuleRunner,
    pipelines: dict[str, Pipeline],
    repo: Repo,
    deal: m.Deal,
    path: str,
    cause: Cause,
    now: datetime,
    *,
    who: str,
    stage: str | None = None,
    roles: Mapping[str, tuple[str, str]] | None = None,
) -> str:
    """The deal's account became hybrid this way: a problem in words, or "" when it is done.

    `roles` (role -> (name, email)) are people the hybrid pipeline needs that the deal has not had
    (the CSM team lead, the RSM, CS Operations, ...). Nothing changes when there is a problem.
    """
    if path not in HYBRID_PATHS:
        return f"unknown way of becoming hybrid {path!r}: expected {PATHS_IN_WORDS}"
    pipeline = pipelines.get(HYBRID)
    if pipeline is None:
        return f"the {HYBRID} pipeline is not loaded (see `python -m agent check`)"
    switching = deal.pipeline != HYBRID
    if not switching and stage:
        return (
            f"the deal is on {HYBRID} already (stage {deal.stage}): a stage is only chosen when it "
            "switches; move it as any deal is moved"
        )
    target = stage or DEFAULT_STAGE[path]
    if not pipeline.has_stage(target):
        return f"no stage {target!r} in {HYBRID}; expected one of {[s.id for s in pipeline.stages]}"
    people, problem = _people(deal, pipeline, roles or {}, _person_attributes(deal, pipeline))
    if problem:
        return problem
    trail = cause.trail(repo, now).on(deal)
    for role, (name, email, source) in people.items():
        deal.roles.append(m.RoleAssignment(role=role, name=name, email=email))
        trail("role_assigned", f"{role}: {_named(name, email)} ({source})", role=role, email=email)
    triggers: list[Trigger] = []
    if switching:
        triggers.append(_switch(runner, pipeline, repo, deal, target, path, trail, cause, now, who=who))
    else:
        trail("hybrid_already", f"{path}, by {who}: the deal is on {HYBRID} already (stage {deal.stage})")
    if path == SERVICE_BOUGHT_LEARNING:
        deal.attributes = {**(deal.attributes or {}), "expansion_opportunity": EXPANSION}
        trail("expansion_recorded", f"expansion opportunity: {EXPANSION} (an FMC account became hybrid)")
    _note_missing(trail, deal, pipeline)
    triggers.append(Trigger("became_hybrid", path, f"became hybrid: {path}, by {who}"))
    runner.dispatch(repo, deal, triggers, cause, now)
    return ""


def escalate(
    runner: RuleRunner, repo: Repo, deal: m.Deal, reason: str, cause: Cause, now: datetime, *, who: str
) -> str:
    """An escalation on the deal: its pipeline's `command: escalate` rules run; a problem in words, or ""."""
    reason = " ".join(reason.split())
    if not reason:
        return 'an escalation needs its why: "escalate <why>"'
    pipeline = runner.pipelines.get(deal.pipeline)
    if pipeline is None:
        return f"the deal's pipeline {deal.pipeline} is not loaded (see `python -m agent check`)"
    if not listens(pipeline, ESCALATE):
        return f"{deal.pipeline} has no rule for an escalation (when: {{command: escalate}}): nobody was told"
    cause.trail(repo, now).on(deal)("escalated", f"by {who}: {reason}", by=who, why=reason)
    trigger = Trigger(ESCALATE.kind, ESCALATE.subject, f"escalation by {who}: {reason}")
    runner.dispatch(repo, deal, [trigger], cause, now)
    return ""


def _switch(
    runner: RuleRunner,
    pipeline: Pipeline,
    repo: Repo,
    deal: m.Deal,
    target: str,
    path: str,
    trail: Trail,
    cause: Cause,
    now: datetime,
    *,
    who: str,
) -> Trigger:
    """The deal onto the hybrid pipeline, in `target`: the `stage_entered` trigger to dispatch.

    What the old pipeline did stays: its stage visits (closed now), its tasks as they were (open
    ones too: they are people's work, not the agent's to drop), its emails and its events.
    """
    old_pipeline, old_stage = deal.pipeline, deal.stage
    deal.held_move = {}  # a move the old stage held waits for tasks of a pipeline the deal has left
    deal.pipeline = HYBRID
    deal.attributes = {**(deal.attributes or {}), "previous_pipeline": old_pipeline}
    trail(
        "pipeline_changed",
        f"{old_pipeline} → {HYBRID}: {path}, by {who}",
        from_pipeline=old_pipeline,
        to_pipeline=HYBRID,
        path=path,
    )
    deals.enter_stage(repo, deal, pipeline, target, now=now, calendar=runner.calendar)
    trail(
        "stage_changed",
        f"{old_stage} → {target}: became hybrid ({path}), by {who}",
        from_stage=old_stage,
        to_stage=target,
    )
    # as on any move: what entering the old stage queued and has not gone is no longer true
    runner.withdraw_left_behind(repo, deal, old_stage, cause, now)
    runner.tasks.opened(repo, deal, target, cause, now)
    return Trigger("stage_entered", target, f"deal entered {target} (became hybrid)")


def _person_attributes(deal: m.Deal, pipeline: Pipeline) -> dict[str, str]:
    """The deal's attributes named after the hybrid pipeline's roles of ours.

    A hand-over of another pipeline keeps such columns (`sales_manager`, `csm_team_lead`) as
    attributes, since that pipeline has no such role: the account's people, known before it was
    hybrid, and the ones the document's channels need.
    """
    custom = deal_data.custom_attributes(deal)
    return {role: str(custom[role]) for role in pipeline.internal_roles() if custom.get(role)}


def _people(
    deal: m.Deal,
    pipeline: Pipeline,
    given: Mapping[str, tuple[str, str]],
    attributes: Mapping[str, str],
) -> tuple[dict[str, tuple[str, str, str]], str]:
    """The roles to fill: role -> (name, email, where it came from); or a problem in words."""
    held = {r.role: r.email for r in deal.roles}
    ours = pipeline.internal_roles()
    found: dict[str, tuple[str, str, str]] = {}
    for role, (name, email) in given.items():
        if role not in ours:
            return {}, f"{role}: not a role of ours in {HYBRID}; expected one of {ours}"
        try:
            email = check_address(email.strip().lower())
        except ValueError as exc:
            return {}, f"{role}: {email!r}: {exc}"
        if held.get(role, email) != email:
            return {}, f"{role} is {held[role]} on this deal already; a role's person is not replaced here"
        if role not in held:
            found[role] = (name.strip(), email, "given with the command")
    for role, text in attributes.items():
        if role in held or role in found:
            continue
        try:
            name, email = parse_person(text, role)
            email = check_address(email.strip().lower())
        except ValueError:
            continue  # not a person: the attribute stays what it was, and the role stays unfilled
        found[role] = (name, email, f"from the deal's attribute {role}")
    return found, ""


def _note_missing(trail: Trail, deal: m.Deal, pipeline: Pipeline) -> None:
    """What the hybrid pipeline needs that the deal does not have yet: its roles' people, its data."""
    held = {r.role for r in deal.roles}
    nobody = [role for role in pipeline.internal_roles() if role not in held]
    lacking = deal_data.missing(deal, pipeline)
    words = ([f"nobody is {', '.join(nobody)}"] if nobody else []) + (
        [f"missing {', '.join(lacking)}"] if lacking else []
    )
    if words:
        trail(
            "hybrid_missing",
            f"{HYBRID} needs: {'; '.join(words)}",
            roles_missing=nobody,
            attributes_missing=lacking,
        )


def _named(name: str, email: str) -> str:
    return f"{name} <{email}>" if name else email
