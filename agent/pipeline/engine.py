"""Which rules fire for a trigger: pure functions over plain data.

The engine records why a rule fired (its trigger, and each condition that
held) so that the audit trail can answer "why did the agent do that?".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agent.pipeline.definition import Pipeline
from agent.pipeline.schema import ActionDef, ConditionsDef, RuleDef

# Triggers that come from timers name the one rule they were set for.
TIMER_TRIGGERS = ("no_reply_to", "in_stage_for")


@dataclass(frozen=True)
class Trigger:
    """An event as the rules see it."""

    kind: str  # one of schema.TRIGGER_KINDS
    subject: str = ""  # stage id, meeting type, task id, sender side, command word, or rule id for timers
    detail: str = ""  # words for the audit trail, e.g. "meeting 'Acme intro' ended 10:30 UTC"


@dataclass(frozen=True)
class DealFacts:
    stage: str
    meetings_completed: frozenset[str] = frozenset()
    meetings_booked: frozenset[str] = frozenset()  # scheduled or held
    tasks_done: frozenset[str] = frozenset()
    roles_filled: frozenset[str] = frozenset()
    attributes: Mapping[str, str] = field(default_factory=dict)
    issue_kind: str = ""  # of the issue an issue trigger is about ("" for other triggers)


@dataclass(frozen=True)
class Firing:
    rule: str
    reason: str
    actions: tuple[ActionDef, ...]


def evaluate(pipeline: Pipeline, trigger: Trigger, facts: DealFacts) -> list[Firing]:
    firings = []
    for rule in pipeline.rules_on(trigger.kind):
        if not _triggered(rule, trigger):
            continue
        held = _conditions(rule.if_, facts)
        if held is None:
            continue
        reason = f"rule {rule.id}: {trigger.detail or trigger.kind}"
        if held:
            reason += " (" + "; ".join(held) + ")"
        firings.append(Firing(rule.id, reason, tuple(rule.then)))
    return firings


def listens(pipeline: Pipeline, trigger: Trigger) -> bool:
    """Whether any rule of the pipeline reacts to the trigger: if none does, its deal's facts need not be read."""
    return any(_triggered(rule, trigger) for rule in pipeline.rules_on(trigger.kind))


def _triggered(rule: RuleDef, trigger: Trigger) -> bool:
    """Whether a rule of the trigger's kind (`Pipeline.rules_on`) reacts to this trigger."""
    if trigger.kind in TIMER_TRIGGERS:
        return trigger.subject == rule.id
    value = getattr(rule.when, trigger.kind)
    if isinstance(value, bool):
        return value
    if isinstance(value, list):
        return "any" in value or trigger.subject in value
    return bool(value in ("any", trigger.subject))


def _conditions(cond: ConditionsDef, facts: DealFacts) -> list[str] | None:
    """The conditions that held, in words; None if one did not hold."""
    held: list[str] = []
    if cond.stage is not None:
        if facts.stage not in cond.stage:
            return None
        held.append(f"deal is in {facts.stage}")
    if cond.meetings_completed is not None:
        if not set(cond.meetings_completed) <= facts.meetings_completed:
            return None
        held.append("held: " + ", ".join(cond.meetings_completed))
    if cond.no_meeting is not None:
        if set(cond.no_meeting) & facts.meetings_booked:
            return None
        held.append("no " + ", ".join(cond.no_meeting) + " booked")
    if cond.tasks_done is not None:
        if not set(cond.tasks_done) <= facts.tasks_done:
            return None
        held.append("done: " + ", ".join(cond.tasks_done))
    if cond.has is not None:
        if not set(cond.has) <= facts.roles_filled:
            return None
        held.append("deal has " + ", ".join(cond.has))
    if cond.issue_kind is not None:
        if facts.issue_kind not in cond.issue_kind:
            return None
        held.append(f"a {facts.issue_kind} issue")
    if cond.attribute is not None:
        for key, want in cond.attribute.items():
            if str(facts.attributes.get(key, "")) != want:
                return None
        held.append(", ".join(f"{k} = {v}" for k, v in cond.attribute.items()))
    return held
