"""A pipeline as loaded from its rules file: its head (roles, stages, tasks, meetings) and its valid rules.

Read by everything that runs a deal through its stages; built only by agent.pipeline.loader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.pipeline.cards import CardDef
from agent.pipeline.requires import Required
from agent.pipeline.schema import PipelineHead, PlayDef, RemindersDef, RuleDef, StageDef, TaskDef


@dataclass
class Pipeline:
    head: PipelineHead
    rules: list[RuleDef]
    file: str
    cards: list[CardDef] = field(default_factory=list)  # the valid KPI cards (`scorecard: {cards}`)
    required: list[Required] = field(default_factory=list)  # the valid `requires` entries
    # The rules by the kind of their trigger: every message asks which rules listen to it, and a
    # pipeline of seventy rules was scanned rule by rule for each (docs/performance.md).
    _by_kind: dict[str, tuple[RuleDef, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_kind: dict[str, list[RuleDef]] = {}
        for rule in self.rules:
            by_kind.setdefault(rule.when.kind, []).append(rule)
        self._by_kind = {kind: tuple(rules) for kind, rules in by_kind.items()}

    def rules_on(self, kind: str) -> tuple[RuleDef, ...]:
        """The rules whose trigger is of this kind, in the file's order."""
        return self._by_kind.get(kind, ())

    @property
    def id(self) -> str:
        return self.head.pipeline

    @property
    def stages(self) -> list[StageDef]:
        return self.head.stages

    def stage(self, stage_id: str) -> StageDef:
        for s in self.head.stages:
            if s.id == stage_id:
                return s
        raise KeyError(f"pipeline {self.id} has no stage {stage_id!r}")

    def has_stage(self, stage_id: str) -> bool:
        return any(s.id == stage_id for s in self.head.stages)

    def stage_index(self, stage_id: str) -> int:
        return [s.id for s in self.head.stages].index(stage_id)

    def next_stage(self, stage_id: str) -> str | None:
        i = self.stage_index(stage_id)
        return self.head.stages[i + 1].id if i + 1 < len(self.head.stages) else None

    @property
    def final_stages(self) -> frozenset[str]:
        """The stages marked `end: true` (won, lost, churned): a deal there is closed."""
        return frozenset(s.id for s in self.head.stages if s.end)

    def first_stage(self) -> str:
        return self.head.stages[0].id

    def meeting_type(self, stage_id: str, title: str) -> str:
        """The meeting type whose title pattern matches, preferring the deal's current stage."""
        ordered = sorted(self.head.stages, key=lambda s: s.id != stage_id)
        for stage in ordered:
            for type_id, mtype in stage.meetings.items():
                if any(re.search(p, title, re.IGNORECASE) for p in mtype.title):
                    return type_id
        return ""

    def internal_roles(self) -> list[str]:
        return [r for r, d in self.head.roles.items() if d.side == "ours"]

    # --- tasks' timing (agent.handling.task_timing, reminders, client_tasks) -------------------
    def side_of(self, role: str) -> str:
        """ "ours" or "client" ("" for a role the pipeline does not name: an action item's owner)."""
        found = self.head.roles.get(role)
        return found.side if found else ""

    def role_words(self, role: str) -> str:
        """A role in words, with its department: "the FMC Team Lead (Fully-Managed Credentialing)"."""
        d = self.head.roles.get(role)
        if d is None:
            return role
        dept = self.head.departments.get(d.department)
        return f"the {d.title or role}" + (f" ({dept.name})" if dept else "")

    def client_roles(self) -> list[str]:
        return [r for r, d in self.head.roles.items() if d.side == "client"]

    def task_def(self, key: str) -> TaskDef | None:
        """The definition of a task: a stage's, or one a rule creates (None: an action item from a call)."""
        for stage in self.head.stages:
            for task in stage.all_tasks:
                if task.id == key:
                    return task
        for rule in self.rules:
            for action in rule.then:
                if action.create_task is not None and action.create_task.id == key:
                    return action.create_task
        return None

    def play_of(self, key: str) -> PlayDef | None:
        """The play a task belongs to (agent.handling.plays), or None."""
        for stage in self.head.stages:
            for play in stage.plays:
                if any(t.id == key for t in play.tasks):
                    return play
        return None

    def reminders_for(self, task: TaskDef | None) -> RemindersDef:
        """The pipeline's reminders, with what the task says itself winning key by key."""
        own = task.reminders if task is not None else None
        if own is None:
            return self.head.reminders
        return self.head.reminders.model_copy(update={k: getattr(own, k) for k in own.model_fields_set})
