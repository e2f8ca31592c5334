"""The onboarding scorecard: what CS leaders run onboarding by, per pipeline, per CSM, per period.

Pure computation over rows read once from the store (one pass per table), so a report
over ten thousand deals stays a few queries. Durations are in days. Time in stage follows
agent.deals.time_in_stage: the clock stops at an end stage and restarts if the deal leaves it.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent.deals import time_in_stage
from agent.pipeline.definition import Pipeline
from agent.reports.kpis import kpi_cards
from agent.store import models as m
from agent.store.repo import Repo

DAY = 86400.0
DEFAULT_DAYS = 30  # the period without dates, back from now: `report`'s and the dashboard's


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime

    def __contains__(self, when: datetime | None) -> bool:
        return when is not None and self.since <= when < self.until


@dataclass
class Row:
    """The figures for one group of deals (all, one pipeline, one CSM)."""

    scope: str
    deals: int = 0
    in_onboarding: int = 0
    went_live: int = 0
    live_days: list[float] = field(default_factory=list)
    stage_days: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    stuck: list[dict[str, Any]] = field(default_factory=list)
    overdue: Counter[str] = field(default_factory=Counter)
    emails_sent: int = 0
    replies: int = 0
    meetings_held: int = 0
    no_shows: int = 0
    csat: list[int] = field(default_factory=list)  # one score per contact who answered
    csat_deals: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))

    def as_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "deals": self.deals,
            "in_onboarding": self.in_onboarding,
            "went_live": self.went_live,
            "time_to_live_days": {
                "median": _quantile(self.live_days, 0.5),
                "p90": _quantile(self.live_days, 0.9),
            },
            "time_in_stage_days": {
                stage: {"median": _quantile(days, 0.5), "p90": _quantile(days, 0.9), "deals": len(days)}
                for stage, days in self.stage_days.items()
            },
            "stuck": self.stuck,
            "overdue_tasks_by_responsible": dict(self.overdue.most_common()),
            "emails_sent": self.emails_sent,
            "replies_received": self.replies,
            "meetings_held": self.meetings_held,
            "no_shows": self.no_shows,
            "csat": {
                "average": _mean(self.csat),
                "answers": len(self.csat),
                "distribution": {str(k): v for k, v in sorted(Counter(self.csat).items())},
            },
            # each deal counted once, however many of its contacts answered
            "csat_by_deal": {
                "deals": len(self.csat_deals),
                "average": _mean([sum(scores) / len(scores) for scores in self.csat_deals.values()]),
            },
        }


def scorecard(
    repo: Repo,
    pipelines: dict[str, Pipeline],
    period: Period,
    now: datetime,
    *,
    pipeline: str | None = None,
    csm: str | None = None,
    only: set[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """{"period", "rows": [all, per pipeline, per CSM]}; a filter narrows every row; `progress` hears
    (deals done, deals) as they are counted.

    What is a state rather than a count (stuck deals, overdue tasks) is taken as of the
    period's end, or now if that is sooner: a report on last month shows last month's end.
    """
    now = min(now, period.until)
    deals = [
        d
        for d in repo.deals()
        if (pipeline is None or d.pipeline == pipeline)
        and (csm is None or _role(d, "csm") == csm.lower())
        and (only is None or d.id in only)
        and d.created_at < period.until
    ]
    ids = {d.id for d in deals}
    rows: dict[str, Row] = {"all": Row("all")}
    scopes = {d.id: ["all", f"pipeline:{d.pipeline}", f"csm:{_role(d, 'csm') or '(none)'}"] for d in deals}
    for d in deals:
        for scope in scopes[d.id][1:]:
            rows.setdefault(scope, Row(scope))

    visits: dict[int, list[m.StageVisit]] = defaultdict(list)
    for v in repo.all_visits():
        if v.deal_id in ids:
            visits[v.deal_id].append(v)
    roles = {d.id: {r.role: r.email.lower() for r in d.roles} for d in deals}

    for n, d in enumerate(deals, start=1):
        if progress is not None:
            progress(n, len(deals))
        p = pipelines.get(d.pipeline)
        live_at = _first_end_entry(visits[d.id], p)
        ended = p is not None and p.has_stage(d.stage) and p.stage(d.stage).end
        for row in (rows[x] for x in scopes[d.id]):
            row.deals += 1
            row.in_onboarding += not ended
            if live_at in period:
                assert live_at is not None
                row.went_live += 1
                row.live_days.append(time_in_stage(visits[d.id], p, live_at)[1] / DAY)
            for stage, seconds in _stage_seconds(visits[d.id], period, now).items():
                if not (p and p.has_stage(stage) and p.stage(stage).end):
                    row.stage_days[stage].append(seconds / DAY)
            late = _late(d, visits[d.id], p, now)
            if late:
                row.stuck.append(late)

    for t in repo.open_tasks_due():
        if t.deal_id in ids and t.due_at is not None and t.due_at < now:
            who = roles[t.deal_id].get(t.responsible, f"({t.responsible})")
            for scope in scopes[t.deal_id]:
                rows[scope].overdue[who] += 1
    for deal_id, sent_at in repo.sent_times():
        if deal_id in ids and sent_at in period:
            _add(rows, scopes[deal_id], "emails_sent")
    for deal_id, received in repo.client_reply_times():
        if deal_id in ids and received in period:
            _add(rows, scopes[deal_id], "replies")
    for deal_id, status, end in repo.meeting_outcomes():
        if deal_id in ids and end in period:
            if status == "completed":
                _add(rows, scopes[deal_id], "meetings_held")
            elif status == "no_show":
                _add(rows, scopes[deal_id], "no_shows")
    answered: dict[int, list[m.CsatAnswer]] = defaultdict(list)
    for a in repo.survey_answers():
        if a.deal_id in ids and a.answered_at in period:
            answered[a.deal_id].append(a)
            for scope in scopes[a.deal_id]:
                rows[scope].csat.append(a.score)
                rows[scope].csat_deals[a.deal_id].append(a.score)

    ordered = [rows["all"]] + [rows[k] for k in sorted(rows) if k != "all"]
    return {
        "period": {"since": period.since.isoformat(), "until": period.until.isoformat()},
        "filters": {"pipeline": pipeline, "csm": csm},
        "rows": [r.as_dict() for r in ordered],
        "csat_answers": _csat_by_deal([d for d in deals if d.id in answered], answered),
        # the pipelines' own KPI cards (`scorecard: {cards}` in their files), under the same filters
        "kpis": kpi_cards(
            repo, pipelines, period.since, period.until, now, pipeline=pipeline, csm=csm, only=only
        ),
    }


def _csat_by_deal(deals: list[m.Deal], answered: dict[int, list[m.CsatAnswer]]) -> list[dict[str, Any]]:
    """Per deal, its contacts' answers: the score on the survey's scale, the words and the comment."""
    return [
        {
            "deal": d.name,
            "id": d.id,
            "average": _mean([a.score for a in answered[d.id]]),
            "answers": [
                {
                    "contact": a.contact_email,
                    "score": a.score,
                    "scale": f"{a.scale_min}-{a.scale_max}",
                    "original": a.original,
                    "normalised": a.normalised,
                    "comment": a.comment,
                    "answered_at": a.answered_at.isoformat(),
                }
                for a in answered[d.id]
            ],
        }
        for d in sorted(deals, key=lambda d: (d.name, d.id))
    ]


def _role(deal: m.Deal, role: str) -> str:
    return next((r.email.lower() for r in deal.roles if r.role == role), "")


def _add(rows: dict[str, Row], scopes: Iterable[str], counter: str) -> None:
    for scope in scopes:
        setattr(rows[scope], counter, getattr(rows[scope], counter) + 1)


def _first_end_entry(visits: list[m.StageVisit], p: Pipeline | None) -> datetime | None:
    """When the deal first reached an end stage: it went live."""
    return next((v.entered_at for v in visits if p and p.has_stage(v.stage) and p.stage(v.stage).end), None)


def _stage_seconds(visits: list[m.StageVisit], period: Period, now: datetime) -> dict[str, float]:
    """Time per stage, for the stays that ended in the period or go on at its end."""
    per_stage: dict[str, float] = defaultdict(float)
    for v in visits:
        left = v.exited_at or min(now, period.until)
        if v.exited_at is None and v.entered_at >= period.until:
            continue
        if v.exited_at is not None and v.exited_at not in period:
            continue
        per_stage[v.stage] += max(0.0, (left - v.entered_at).total_seconds())
    return per_stage


def _late(
    deal: m.Deal, visits: list[m.StageVisit], p: Pipeline | None, now: datetime
) -> dict[str, Any] | None:
    """The deal, if it has been in its current stage longer than the stage's target."""
    if p is None or not p.has_stage(deal.stage) or not visits or visits[-1].exited_at is not None:
        return None
    target = p.stage(deal.stage).target_days
    days = (now - visits[-1].entered_at).total_seconds() / DAY
    if target is None or days <= target:
        return None
    return {
        "deal": deal.name,
        "id": deal.id,
        "stage": deal.stage,
        "days": round(days, 1),
        "target_days": target,
    }


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _quantile(values: list[float], q: float) -> float | None:
    """Nearest-rank quantile (a value that occurred), in days with one decimal."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 1)
