"""What is read from files at start-up (and on reload): config, rules and templates, and the handlers built on them.

`check` loads the same runtime and refuses what `problems_of` finds; the daemon refuses a
reload with problems and keeps the running version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from agent.businesstime import BusinessCalendar
from agent.config import Config
from agent.errors import InputError
from agent.handling.wiring import Handlers
from agent.outbox.context import sample_context
from agent.outbox.render import TemplateSet
from agent.pipeline.definition import Pipeline
from agent.pipeline.loader import LoadResult, load_pipelines

log = logging.getLogger(__name__)

# the templates the agent itself sends, whatever the rules say
REQUIRED_TEMPLATES = (
    "intro",
    "recap",
    "completion",
    "survey",
    "notice",
    "approval-request",
    "question",
    "unmatched-digest",
    "review-request",
    "csm-digest",
    "weekly-scorecard",
    "client-task",
    "task-reminder",
    "task-escalation",
    "informed-digest",
    "client-plan",
)


@dataclass
class Runtime:
    config: Config
    rules: LoadResult
    templates: TemplateSet
    handlers: Handlers

    @property
    def pipelines(self) -> dict[str, Pipeline]:
        return self.rules.pipelines

    def stage_order(self) -> dict[str, list[str]]:
        """Pipeline id -> its stage ids in order (the outbox withdraws an email whose deal went back)."""
        return {pid: [s.id for s in p.stages] for pid, p in self.rules.pipelines.items()}


def load_runtime(config: Config) -> Runtime:
    templates = TemplateSet(config.templates_dir)
    rules = load_pipelines(config.rules_dir, templates.names())
    for issue in rules.issues:
        # At run time a broken rule is disabled and named; the others keep running.
        (log.error if issue.severity == "error" else log.warning)("%s", issue)
    agent = config.agent
    calendar = BusinessCalendar.from_names(
        agent.business_days, agent.holidays, country=agent.country, hours=agent.business_hours
    )
    return Runtime(config, rules, templates, Handlers(config, rules.pipelines, templates, calendar))


def problems_of(runtime: Runtime) -> list[str]:
    """What `check` refuses: rule errors, missing templates, templates that do not render on a sample deal."""
    problems = [str(i) for i in runtime.rules.issues if i.severity == "error"]
    names = runtime.templates.names()
    problems += [
        f"{runtime.templates.folder}: missing template {t!r}" for t in REQUIRED_TEMPLATES if t not in names
    ]
    known = sorted(runtime.rules.pipelines)
    problems += [
        f"{runtime.config.source}: [[teams]] {t.name}: pipeline = {t.pipeline!r}: no such pipeline; "
        f"expected one of {known}"
        for t in runtime.config.teams
        if t.pipeline and t.pipeline not in runtime.rules.pipelines
    ]
    pipelines: list[Pipeline | None] = [*runtime.rules.pipelines.values()] or [None]
    for name in names:
        for pipeline in pipelines:
            try:
                runtime.templates.render(name, sample_context(runtime.config.agent, pipeline))
            except InputError as exc:
                problems.append(str(exc))
                break
    return problems


def chat_notes(runtime: Runtime) -> list[str]:
    """Chat channels the rules post to that [chat] does not configure: their posts reach people by email."""
    chat = runtime.config.chat
    teams = ["", *(t.name for t in runtime.config.teams)]
    missing: dict[str, list[str]] = {}
    for pipeline in runtime.rules.pipelines.values():
        places = [(r.id, r.then) for r in pipeline.rules]
        places += [(f"{st.id}.on_enter", st.on_enter) for st in pipeline.stages]
        places += [(f"{pl.id}.on_complete", pl.on_complete) for st in pipeline.stages for pl in st.plays]
        for where, actions in places:
            for name in (
                n for a in actions for n in [*(a.chat or []), *([a.open_channel] if a.open_channel else [])]
            ):
                own = name == "deal" or any(a.open_channel == name for _, acts in places for a in acts)
                if not (own and chat.deal_channels) and not any(chat.channel(name, t) for t in teams):
                    missing.setdefault(name, []).append(f"{pipeline.id}: {where}")
    return [
        f"warning: chat channel {name!r} is not configured ([chat]); the posts of {', '.join(sorted(set(where)))} "
        "go by email instead (to the deal's Responsible person; an open_channel's to the people it invites)"
        for name, where in missing.items()
    ]


def reload_runtime(config: Config) -> tuple[Runtime | None, list[str]]:
    """A new runtime, or None and the problems that refuse it (SIGHUP)."""
    try:
        runtime = load_runtime(config)
        problems = problems_of(runtime)
    except InputError as exc:
        return None, [str(exc)]
    return (None, problems) if problems else (runtime, [])
