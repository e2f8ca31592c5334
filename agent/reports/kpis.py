"""KPI cards: each card a pipeline file defines (`scorecard: {cards}`), computed over its segment of deals.

Pure computation over rows read once (deals, stage visits, tasks, survey answers). A segment is
taken as the deals were at a moment: the end of the period (or now, if sooner), and for a trend
also the end of the period before, of the same length. Time is counted as agent.deals does: the
clock stops at an end stage and restarts if the deal leaves it. At risk means still onboarding
with an open task past its due date, or in the stage longer than the stage's target_days: the
scorecard's "overdue" and "stuck", per deal.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.pipeline.cards import TIME_METRICS, CardDef, SegmentDef, TargetDef
from agent.pipeline.definition import Pipeline
from agent.store import models as m
from agent.store.repo import Repo

DAY = 86400.0


@dataclass(frozen=True)
class Snapshot:
    """A deal as it was at one moment: what segments and metrics read."""

    deal: m.Deal
    stage: str  # "" before its first stage
    final: bool
    at_risk: bool
    onboarding_days: float
    stage_days: dict[str, float]
    live_at: datetime | None  # when it first reached an end stage


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime
    at: datetime  # the moment states are taken at: the window's end, or now if sooner

    def __contains__(self, when: datetime | None) -> bool:
        return when is not None and self.since <= when < self.until


@dataclass
class _Rows:
    deals: list[m.Deal]
    visits: dict[int, list[m.StageVisit]]
    tasks: dict[int, list[m.Task]]
    answers: dict[int, list[m.CsatAnswer]]


def kpi_cards(
    repo: Repo,
    pipelines: dict[str, Pipeline],
    since: datetime,
    until: datetime,
    now: datetime,
    *,
    pipeline: str | None = None,
    csm: str | None = None,
    only: set[int] | None = None,
) -> list[dict[str, Any]]:
    """Every card of every pipeline (or of `pipeline`), in file order; the filters narrow the deals."""
    # a pipeline the team does not run (yet) shows no cards: they would only say "-"
    used = repo.pipelines_in_use()
    chosen = [
        p for p in pipelines.values() if p.cards and p.id in used and (pipeline is None or p.id == pipeline)
    ]
    if not chosen:
        return []
    rows = _read(repo, {p.id for p in chosen}, csm, only)
    current = Window(since, until, min(now, until))
    previous = Window(since - (until - since), since, min(now, since))
    out = []
    for p in chosen:
        deals = [d for d in rows.deals if d.pipeline == p.id]
        now_snaps = [_snapshot(d, p, rows, current.at) for d in deals if d.created_at <= current.at]
        before = [_snapshot(d, p, rows, previous.at) for d in deals if d.created_at <= previous.at]
        for card in p.cards:
            out.append(_card(card, p, rows, (now_snaps, current), (before, previous)))
    return out


def _read(repo: Repo, pipelines: set[str], csm: str | None, only: set[int] | None) -> _Rows:
    deals = [
        d
        for d in repo.deals()
        if d.pipeline in pipelines
        and (only is None or d.id in only)
        and (csm is None or any(r.role == "csm" and r.email.lower() == csm.lower() for r in d.roles))
    ]
    ids = {d.id for d in deals}
    rows = _Rows(deals, defaultdict(list), defaultdict(list), defaultdict(list))
    for v in repo.all_visits():
        if v.deal_id in ids:
            rows.visits[v.deal_id].append(v)
    for t in repo.all_tasks():
        if t.deal_id in ids:
            rows.tasks[t.deal_id].append(t)
    for a in repo.survey_answers():
        if a.deal_id in ids:
            rows.answers[a.deal_id].append(a)
    return rows


def _snapshot(deal: m.Deal, p: Pipeline, rows: _Rows, at: datetime) -> Snapshot:
    def end(stage: str) -> bool:
        return p.has_stage(stage) and p.stage(stage).end

    stage, since = "", at
    per_stage: dict[str, float] = defaultdict(float)
    live_at = None
    for v in rows.visits[deal.id]:
        if v.entered_at > at:
            continue
        left = v.exited_at if v.exited_at is not None and v.exited_at <= at else None
        per_stage[v.stage] += max(0.0, ((left or at) - v.entered_at).total_seconds()) / DAY
        if left is None:
            stage, since = v.stage, v.entered_at
        if live_at is None and end(v.stage):
            live_at = v.entered_at
    final = end(stage)
    target = p.stage(stage).target_days if p.has_stage(stage) else None
    late = target is not None and (at - since).total_seconds() / DAY > target
    overdue = any(_overdue(t, at) for t in rows.tasks[deal.id])
    return Snapshot(
        deal=deal,
        stage=stage,
        final=final,
        at_risk=bool(stage) and not final and (late or overdue),
        onboarding_days=sum(days for s, days in per_stage.items() if not end(s)),
        stage_days=dict(per_stage),
        live_at=live_at,
    )


def _overdue(task: m.Task, at: datetime) -> bool:
    """Open at that moment and past its due date (a task waiting for its approval is A's to decide)."""
    if task.due_at is None or task.due_at >= at or task.created_at > at:
        return False
    if task.status == "done":
        return task.completed_at is not None and task.completed_at > at
    return task.status == "open"


def in_segment(seg: SegmentDef, s: Snapshot) -> bool:
    attributes = s.deal.attributes or {}
    return (
        (seg.stage is None or s.stage in seg.stage)
        and (seg.stage_not is None or s.stage not in seg.stage_not)
        and (seg.final is None or s.final == seg.final)
        and (seg.at_risk is None or s.at_risk == seg.at_risk)
        and all(str(attributes.get(k, "")) == v for k, v in (seg.attribute or {}).items())
    )


Snaps = tuple[list[Snapshot], Window]


def _card(card: CardDef, p: Pipeline, rows: _Rows, now: Snaps, before: Snaps) -> dict[str, Any]:
    out: dict[str, Any] = {
        "pipeline": p.id,
        "name": card.name,
        "description": card.description,
        "metric": card.metric,
        "stage": card.stage,
        "segment": segment_text(card.segment),
        "format": card.format,
        "unit": "%" if card.format == "percent" else "days" if card.metric in TIME_METRICS else "",
    }
    goal = card.goal
    if card.metric == "time_in_stage" and card.stage is None:
        # one figure per stage, each against the card's target, else the stage's own target_days
        out["breakdown"] = []
        for stage in (s for s in p.stages if not s.end):
            own = goal or (TargetDef(op="<=", value=stage.target_days) if stage.target_days else None)
            figure = _figure(card, own, _in_stage(card, stage.id), now, before)
            out["breakdown"].append({"stage": stage.id, "stage_name": stage.name, **figure})
        met = [b["met"] for b in out["breakdown"] if b["met"] is not None]
        out.update(value=None, target=None, met=all(met) if met else None)
        return out
    out.update(_figure(card, goal, lambda snaps, w: _value(card, snaps, w, rows), now, before))
    return out


def _figure(
    card: CardDef,
    goal: TargetDef | None,
    compute: Callable[[list[Snapshot], Window], float | None],
    now: Snaps,
    before: Snaps,
) -> dict[str, Any]:
    value = compute(*now)
    figure: dict[str, Any] = {"value": value, "display": _shown(card, value)}
    if card.format == "trend":
        previous = compute(*before)
        change = None if value is None or previous is None else round(value - previous, 1)
        figure.update(previous=previous, change=change)
        figure["display"] += f" ({change:+g})" if change is not None else " (no figure before)"
    met = goal.met(value) if goal else None
    if goal:
        words = f"{'≤' if goal.op == '<=' else '≥'} {goal.value:g}{'%' if card.format == 'percent' else ''}"
        figure["target"] = {"op": goal.op, "value": goal.value, "met": met, "text": words}
    else:
        figure["target"] = None
    figure["met"] = met
    return figure


def _shown(card: CardDef, value: float | None) -> str:
    if value is None:
        return "-"
    if card.format == "percent":
        return f"{value:.0f}%"
    if card.metric in TIME_METRICS:
        return f"{value:.1f} d"
    return f"{value:g}"


def _value(card: CardDef, snaps: list[Snapshot], w: Window, rows: _Rows) -> float | None:
    seg = [s for s in snaps if in_segment(card.segment, s)]
    share = card.format == "percent"
    if card.metric == "accounts":
        return _percent(len(seg), len(snaps)) if share else float(len(seg))
    if card.metric == "at_risk":
        risky = sum(s.at_risk for s in seg)
        return _percent(risky, len(seg)) if share else float(risky)
    if card.metric == "went_live":
        live = sum(s.live_at in w for s in seg)
        return _percent(live, len(seg)) if share else float(live)
    if card.metric == "time_in_onboarding":
        return _stat(card.stat, [s.onboarding_days for s in seg])
    if card.metric == "time_in_stage":
        assert card.stage is not None
        return _stage_time(card, snaps, card.stage)
    answers = [a for s in seg for a in rows.answers[s.deal.id] if a.answered_at in w]
    if share:  # CSAT as teams report it: the share of answers in the top two points of their scale
        return _percent(sum(a.score >= a.scale_max - 1 for a in answers), len(answers))
    return round(sum(a.score for a in answers) / len(answers), 2) if answers else None


def _in_stage(card: CardDef, stage: str) -> Callable[[list[Snapshot], Window], float | None]:
    return lambda snaps, _: _stage_time(card, snaps, stage)


def _stage_time(card: CardDef, snaps: list[Snapshot], stage: str) -> float | None:
    seg = [s for s in snaps if in_segment(card.segment, s)]
    return _stat(card.stat, [s.stage_days[stage] for s in seg if stage in s.stage_days])


def _percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _stat(stat: str, values: Sequence[float]) -> float | None:
    """Days with one decimal; median and p90 are nearest-rank (a value that occurred), as the scorecard's."""
    if not values:
        return None
    if stat == "average":
        return round(sum(values) / len(values), 1)
    ordered = sorted(values)
    q = 0.5 if stat == "median" else 0.9
    return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 1)


def segment_text(seg: SegmentDef) -> str:
    """The segment in words, for the table and the dashboard."""
    parts = []
    if seg.final is not None:
        parts.append("in an end stage" if seg.final else "onboarding")
    if seg.stage:
        parts.append(f"in {', '.join(seg.stage)}")
    if seg.stage_not:
        parts.append(f"not in {', '.join(seg.stage_not)}")
    if seg.at_risk is not None:
        parts.append("at risk" if seg.at_risk else "not at risk")
    parts += [f"{k} = {v}" for k, v in (seg.attribute or {}).items()]
    return "; ".join(parts) or "all deals"
