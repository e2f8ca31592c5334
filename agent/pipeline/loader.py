"""Read rules/*.yaml into pipelines, reporting every problem with file, line and rule id.

A broken rule is disabled and named; the rest of its pipeline keeps running.
A broken pipeline head (roles, stages) makes the whole file unusable. The
`check` command treats any error as fatal; the daemon logs it and goes on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agent.domain import HYBRID_PATHS, ISSUE_KINDS, SEVERITIES
from agent.pipeline.cards import CardDef, card_problems
from agent.pipeline.definition import Pipeline
from agent.pipeline.raci import task_raci_problems
from agent.pipeline.requires import Required, required_entry
from agent.pipeline.schema import ActionDef, PipelineHead, PlayDef, RuleDef, TaskDef
from agent.pipeline.timing import head_timing_problems, task_timing_problems

SPECIAL_RECIPIENTS = ("client_contacts", "responsible", "accountable", "consulted", "informed")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True)
class Issue:
    file: str
    line: int | None
    rule: str | None  # rule id, or None for the pipeline head
    message: str
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        what = f"rule {self.rule}: " if self.rule else ""
        return f"{where}: {self.severity}: {what}{self.message}"


@dataclass
class LoadResult:
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]


def load_pipelines(folder: Path, template_names: Iterable[str] | None = None) -> LoadResult:
    result = LoadResult()
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not files:
        result.issues.append(Issue(str(folder), None, None, "no pipeline files (*.yaml) in this folder"))
    templates = set(template_names) if template_names is not None else None
    for path in files:
        pipeline, issues = load_pipeline_file(path, templates)
        result.issues.extend(issues)
        if pipeline is None:
            continue
        if pipeline.id in result.pipelines:
            other = result.pipelines[pipeline.id].file
            result.issues.append(
                Issue(str(path), 1, None, f"pipeline id {pipeline.id!r} is also used by {other}")
            )
            continue
        result.pipelines[pipeline.id] = pipeline
    return result


def load_pipeline_file(path: Path, templates: set[str] | None) -> tuple[Pipeline | None, list[Issue]]:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Issue(name, None, None, f"cannot read the file: {exc}")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [Issue(name, line, None, f"not valid YAML: {problem}")]
    if not isinstance(data, dict):
        return None, [
            Issue(name, 1, None, "expected a mapping with the keys pipeline, name, roles, stages, rules")
        ]
    try:
        head = PipelineHead.model_validate(data)
    except ValidationError as exc:
        return None, [Issue(name, _line(root, e["loc"]), None, _message(e)) for e in exc.errors()]

    checker = _References(head, templates)
    issues = [Issue(name, _line(root, loc), None, msg, sev) for loc, msg, sev in checker.head_problems()]
    if any(i.severity == "error" for i in issues):
        return None, issues

    rules: list[RuleDef] = []
    seen: set[str] = set()
    for index, raw in enumerate(head.rules):
        rule_id = str(raw.get("id")) if isinstance(raw, dict) and raw.get("id") else f"#{index + 1}"
        base = ("rules", index)
        try:
            rule = RuleDef.model_validate(raw)
        except ValidationError as exc:
            issues += [
                Issue(name, _line(root, base + tuple(e["loc"])), rule_id, _message(e)) for e in exc.errors()
            ]
            continue
        problems = list(checker.rule_problems(rule))
        if rule.id in seen:
            problems.append(((), f"duplicate rule id {rule.id!r}", "error"))
        seen.add(rule.id)
        issues += [Issue(name, _line(root, base + loc), rule.id, msg, sev) for loc, msg, sev in problems]
        if not any(sev == "error" for _, _, sev in problems) and rule.enabled:
            rules.append(rule)
    cards, card_issues = _cards(head, root, name)
    required, required_issues = _requires(head, root, name)
    return Pipeline(head, rules, name, cards, required), issues + card_issues + required_issues


def _cards(head: PipelineHead, root: yaml.Node | None, name: str) -> tuple[list[CardDef], list[Issue]]:
    """The KPI cards, each checked alone like a rule: a broken card is named and left out."""
    cards: list[CardDef] = []
    issues: list[Issue] = []
    seen: set[str] = set()
    for index, raw in enumerate(head.scorecard.cards if head.scorecard else []):
        base = ("scorecard", "cards", index)
        given = raw.get("name") if isinstance(raw, dict) else None
        label = f"scorecard card {given!r}" if given else f"scorecard card #{index + 1}"
        try:
            card = CardDef.model_validate(raw)
        except ValidationError as exc:
            issues += [
                Issue(name, _line(root, base + tuple(e["loc"])), None, f"{label}: {_message(e)}")
                for e in exc.errors()
            ]
            continue
        problems = list(card_problems(card, head, seen))
        issues += [
            Issue(name, _line(root, base + loc), None, f"{label}: {msg}", sev) for loc, msg, sev in problems
        ]
        if not any(sev == "error" for _, _, sev in problems):
            cards.append(card)
    return cards, issues


def _requires(head: PipelineHead, root: yaml.Node | None, name: str) -> tuple[list[Required], list[Issue]]:
    """The attributes a deal needs, each entry checked alone: a broken one is named and left out."""
    required: list[Required] = []
    issues: list[Issue] = []
    for index, raw in enumerate(head.requires):
        base = ("requires", index)
        try:
            entry, problems = required_entry(raw, head)
        except ValidationError as exc:
            issues += [
                Issue(name, _line(root, base + tuple(e["loc"])), None, f"requires: {_message(e)}")
                for e in exc.errors()
            ]
            continue
        if entry is not None and entry.name in {r.name for r in required}:
            problems = [((), f"{entry.name!r} is listed twice", "error")]
            entry = None
        issues += [
            Issue(name, _line(root, base + loc), None, f"requires: {msg}", sev) for loc, msg, sev in problems
        ]
        if entry is not None:
            required.append(entry)
    return required, issues


Problem = tuple[tuple[Any, ...], str, str]


class _References:
    """Cross-checks that pydantic cannot do alone: every name must exist."""

    def __init__(self, head: PipelineHead, templates: set[str] | None) -> None:
        self.head = head
        self.templates = templates
        self.stages = {s.id for s in head.stages}
        self.tasks = {t.id for s in head.stages for t in s.all_tasks}
        self.meetings = {m for s in head.stages for m in s.meetings}

    def head_problems(self) -> Iterable[Problem]:
        seen_stages: set[str] = set()
        seen_tasks: set[str] = set()
        seen_plays: set[str] = set()
        for si, stage in enumerate(self.head.stages):
            at = ("stages", si)
            if stage.id in seen_stages:
                yield at + ("id",), f"duplicate stage id {stage.id!r}", "error"
            seen_stages.add(stage.id)
            for ti, task in enumerate(stage.tasks):
                yield from self._task(task, at + ("tasks", ti), seen_tasks)
            for ai, action in enumerate(stage.on_enter):
                yield from self._action(action, at + ("on_enter", ai))
            for pi, play in enumerate(stage.plays):
                yield from self._play(play, at + ("plays", pi), seen_plays, seen_tasks)
        for name, role in self.head.roles.items():
            if role.department and role.department not in self.head.departments:
                yield (
                    ("roles", name, "department"),
                    f"unknown department {role.department!r}; expected one of {sorted(self.head.departments)}",
                    "error",
                )
        yield from head_timing_problems(self.head)
        if not any(s.end for s in self.head.stages):
            yield ("stages",), "no stage is marked 'end: true'; time in stage would never stop", "warning"

    def _play(
        self, play: PlayDef, at: tuple[Any, ...], seen: set[str], seen_tasks: set[str]
    ) -> Iterable[Problem]:
        if play.id in seen:
            yield at + ("id",), f"duplicate play id {play.id!r} (play ids are unique per pipeline)", "error"
        seen.add(play.id)
        for ti, task in enumerate(play.tasks):
            yield from self._task(task, at + ("tasks", ti), seen_tasks)
        for ai, action in enumerate(play.on_complete):
            yield from self._action(action, at + ("on_complete", ai))

    def _task(self, task: TaskDef, at: tuple[Any, ...], seen: set[str]) -> Iterable[Problem]:
        if task.id in seen:
            yield at + ("id",), f"duplicate task id {task.id!r} (task ids are unique per pipeline)", "error"
        seen.add(task.id)
        yield from task_timing_problems(task, at, self.head)
        yield from task_raci_problems(task, at, self.head, self.templates)
        for letter in ("R", "A", "C", "I"):
            for role in getattr(task, letter):
                if role not in self.head.roles:
                    yield (
                        at + (letter,),
                        f"unknown role {role!r}; expected one of {sorted(self.head.roles)}",
                        "error",
                    )

    def rule_problems(self, rule: RuleDef) -> Iterable[Problem]:
        trig = rule.when
        kind, value = trig.kind, trig.value
        at = ("when", "for" if kind == "for_" else kind)
        if kind in ("stage_entered", "stage_tasks_done", "approval_granted", "approval_denied"):
            yield from self._names([value], self.stages | {"any"}, at, "stage")
        elif kind.startswith("meeting_"):
            yield from self._names(value, self.meetings | {"any"}, at, "meeting type")
        elif kind == "task_completed":
            yield from self._names([value], self.tasks, at, "task")
        elif kind in ("no_reply_to", "email_approved"):
            yield from self._template(value, at)
        elif kind in ("issue_reported", "severity_confirmed"):
            yield from self._names(value, {*SEVERITIES, "any"}, at, "severity")
        elif kind == "became_hybrid":
            yield from self._names(value, {*HYBRID_PATHS, "any"}, at, "way of becoming hybrid")
        cond = rule.if_
        yield from self._names(cond.stage or [], self.stages, ("if", "stage"), "stage")
        yield from self._names(
            cond.meetings_completed or [], self.meetings, ("if", "meetings_completed"), "meeting type"
        )
        yield from self._names(cond.no_meeting or [], self.meetings, ("if", "no_meeting"), "meeting type")
        yield from self._names(cond.tasks_done or [], self.tasks, ("if", "tasks_done"), "task")
        roles = set(self.head.roles) | {"client_contacts"}
        yield from self._names(cond.has or [], roles, ("if", "has"), "role")
        yield from self._names(cond.issue_kind or [], set(ISSUE_KINDS), ("if", "issue_kind"), "issue kind")
        for ai, action in enumerate(rule.then):
            yield from self._action(action, ("then", ai))

    def _action(self, action: ActionDef, at: tuple[Any, ...]) -> Iterable[Problem]:
        kind = action.kind
        if kind == "send":
            assert action.send is not None
            yield from self._template(action.send, at + ("send",))
            for key in ("to", "cc"):
                for who in getattr(action, key):
                    if not (who in SPECIAL_RECIPIENTS or who in self.head.roles or EMAIL.match(who)):
                        yield at + (key,), self._unknown_recipient(who), "error"
        elif kind == "advance":
            yield from self._names([action.advance or ""], self.stages | {"next"}, at + ("advance",), "stage")
        elif kind == "complete_task":
            yield from self._names([action.complete_task or ""], self.tasks, at + ("complete_task",), "task")
        elif kind == "create_task":
            assert action.create_task is not None
            yield from self._task(action.create_task, at + ("create_task",), set())
        elif kind == "notify":
            for who in action.notify or []:
                if not (who in SPECIAL_RECIPIENTS or who in self.head.roles or EMAIL.match(who)):
                    yield at + ("notify",), self._unknown_recipient(who), "error"
        elif kind in ("confirm_severity", "schedule_sync"):
            yield from self._names(getattr(action, kind) or [], set(self.head.roles), at + (kind,), "role")
        elif kind == "open_channel":
            yield from self._names(action.invite, set(self.head.roles), at + ("invite",), "role")
        if action.approved_by is not None:
            role = self.head.roles.get(action.approved_by)
            if role is None or role.side != "ours" or not role.department:
                ours = sorted(r for r, d in self.head.roles.items() if d.side == "ours" and d.department)
                yield (
                    at + ("approved_by",),
                    f"approved_by {action.approved_by!r}: expected a role of ours with a department, one of {ours}",
                    "error",
                )

    def _unknown_recipient(self, who: str) -> str:
        allowed = sorted(set(SPECIAL_RECIPIENTS) | set(self.head.roles))
        return f"unknown recipient {who!r}; expected an email address or one of {allowed}"

    def _template(self, name: str, at: tuple[Any, ...]) -> Iterable[Problem]:
        if self.templates is not None and name not in self.templates:
            yield at, f"no email template {name!r}; expected one of {sorted(self.templates)}", "error"

    @staticmethod
    def _names(values: Iterable[str], allowed: set[str], at: tuple[Any, ...], what: str) -> Iterable[Problem]:
        for v in values:
            if v not in allowed:
                yield at, f"unknown {what} {v!r}; expected one of {sorted(allowed)}", "error"


def _message(err: Any) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return f"{loc}: unknown key"
    if err["type"] == "missing":
        return f"{loc}: missing required key"
    return f"{loc} = {err.get('input')!r}: {msg}" if loc else msg


def _line(root: yaml.Node | None, loc: Iterable[Any]) -> int | None:
    """The line of the deepest YAML node that `loc` reaches (1-based)."""
    node = root
    if node is None:
        return None
    best = node.start_mark.line + 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if getattr(k, "value", None) == str(part)), None)
            if child is None:
                # point at the key itself when the value is what is missing
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
        best = node.start_mark.line + 1
    return best
