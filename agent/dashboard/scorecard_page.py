"""The scorecard: the pipelines' KPI cards, the figures per pipeline and CSM, and their charts.

It covers what `report` covers when asked for no dates: the last DEFAULT_DAYS days. The page's
form asks for the last 7 or 90 days instead, or for dates (`?since=2026-10-01&until=2026-11-01`,
as `report --since/--until`: from midnight of the first day, the until day not counted, in the
viewer's zone). A KPI card's trend is against the period of the same length just before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request

from agent.dashboard import charts
from agent.dashboard.site import Site
from agent.dashboard.when import day, viewer_zone
from agent.dashboard.words import plural
from agent.pipeline.definition import Pipeline
from agent.reports.scorecard import DEFAULT_DAYS, Period, scorecard
from agent.store import models as m
from agent.store.repo import Repo

PRESETS = sorted({7, DEFAULT_DAYS, 90})
LONGEST = 3660  # ten years: a longer period is a typo
ORDER = ["all", "pipeline", "csm"]


@dataclass(frozen=True)
class Asked:
    """The period the page shows, and what the form asked for."""

    period: Period
    days: int | None  # the last so many days; None when dates were given
    problem: str = ""  # why the page shows the default instead of what was asked


def asked(args: Mapping[str, str], now: datetime, zone: ZoneInfo) -> Asked:
    """The period `?days=` or `?since=&until=` asks for (the last DEFAULT_DAYS days otherwise)."""
    default = Asked(Period(now - timedelta(days=DEFAULT_DAYS), now), DEFAULT_DAYS)
    try:
        days = int(args.get("days") or DEFAULT_DAYS)
        since, until = (_midnight(args.get(k, ""), zone) for k in ("since", "until"))
    except ValueError:
        return Asked(default.period, DEFAULT_DAYS, "Dates are days like 2026-11-01.")
    if not 1 <= days <= LONGEST:
        return Asked(default.period, DEFAULT_DAYS, f"A period is 1 to {LONGEST} days long.")
    end = until or now
    start = since or end - timedelta(days=days)
    if start >= end:
        return Asked(default.period, DEFAULT_DAYS, "The period must end after it starts.")
    return Asked(Period(start, end), None if since or until else days)


def _midnight(text: str, zone: ZoneInfo) -> datetime | None:
    return datetime.combine(date.fromisoformat(text), time.min, tzinfo=zone) if text.strip() else None


def blueprint(site: Site) -> Blueprint:
    page = Blueprint("scorecard", __name__)

    @page.get("/scorecard", endpoint="scorecard")
    def shown() -> str:
        now, zone = site.clock.now(), viewer_zone(site, request)
        chosen = asked(request.args, now, zone)
        period = chosen.period
        with site.sessions.begin() as s:
            repo = Repo(s)
            card = scorecard(repo, site.pipelines, period, now)
            known = _Known(repo.deals(), site.pipelines)
            points = csat_points(repo, period.since, period.until)
        length = period.until - period.since
        return render_template(
            "scorecard.html",
            title="Scorecard",
            chosen=chosen,
            presets=PRESETS,
            tz=request.args.get("tz", ""),
            shown={
                "since": day(period.since, zone),
                "last": day(period.until - timedelta(microseconds=1), zone),
                "since_date": period.since.astimezone(zone).date().isoformat(),
                "until_date": period.until.astimezone(zone).date().isoformat(),
                "length": _length(length),
                "before": day(period.since - length, zone),
            },
            card=card,
            # all deals, then each pipeline, then each CSM
            rows=sorted((known.row(r) for r in card["rows"]), key=lambda r: ORDER.index(r["kind"])),
            kpis=[
                {**k, **_kpi(k), "pipeline_name": known.pipeline_name(k["pipeline"])} for k in card["kpis"]
            ],
            stuck=[
                {**x, "stage_name": known.stage_name(x["id"], x["stage"])} for x in card["rows"][0]["stuck"]
            ],
            overdue=[
                (known.person(who), n) for who, n in card["rows"][0]["overdue_tasks_by_responsible"].items()
            ],
            time_in_stage=[known.stage_chart(r) for r in card["rows"] if r["scope"].startswith("pipeline:")],
            csat=charts.scores(
                points, period.since, period.until, lambda w: day(w, zone), "Each client's answer, by day"
            ),
            csat_by_deal=[known.answers(d) for d in card["csat_answers"]],
        )

    return page


def _kpi(kpi: dict[str, Any]) -> dict[str, Any]:
    """A KPI card's figures as the page writes them: a trend's change beside its figure, and the
    figure of the period before on its own line (`display` says "(no figure before)" in the figure)."""
    unit, change = kpi["unit"], kpi.get("change")
    figure = _figure(kpi.get("value"), unit)
    return {
        "figure": f"{figure} ({change:+g})" if change is not None else figure,
        "before": _figure(kpi["previous"], unit) if kpi.get("previous") is not None else None,
    }


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} d" if unit == "days" else f"{value:.0f}%" if unit == "%" else f"{value:g}"


def _length(length: timedelta) -> str:
    """ "30 days"; a period of dates across a change of clocks is a whole number of days too."""
    days = length.total_seconds() / 86400
    return plural(round(days), "day") if abs(days - round(days)) < 1 / 24 else f"{days:.1f} days"


class _Known:
    """Names for what the scorecard counts by id or address: pipelines, stages, people, contacts."""

    def __init__(self, deals: Sequence[m.Deal], pipelines: dict[str, Pipeline]) -> None:
        self.pipelines = pipelines
        self.pipeline_of = {d.id: d.pipeline for d in deals}
        self.people: dict[str, str] = {}
        for d in deals:
            people: list[m.RoleAssignment | m.Contact] = [*d.roles, *d.contacts]
            for who in people:
                self.people.setdefault(who.email.lower(), who.name or who.email)

    def person(self, email: str) -> str:
        return self.people.get(email.lower(), email)

    def pipeline_name(self, pid: str) -> str:
        p = self.pipelines.get(pid)
        return p.head.name if p is not None else pid

    def stage_name(self, deal_id: int, stage: str) -> str:
        p = self.pipelines.get(self.pipeline_of.get(deal_id, ""))
        return p.stage(stage).name if p is not None and p.has_stage(stage) else stage

    def row(self, r: dict[str, Any]) -> dict[str, Any]:
        """A row of figures with its scope in words: all deals, a pipeline by name, a CSM by name."""
        kind, _, key = r["scope"].partition(":")
        label = {"all": "All deals", "pipeline": self.pipeline_name(key)}.get(kind) or (
            "No CSM" if key == "(none)" else self.person(key)
        )
        return {**r, "label": label, "kind": kind}

    def stage_chart(self, r: dict[str, Any]) -> Any:
        """The median days in each stage of one pipeline, its stages in their order."""
        pid = r["scope"].partition(":")[2]
        p = self.pipelines.get(pid)
        figures = r["time_in_stage_days"]
        stages = [(s.id, s.name) for s in p.stages] if p is not None else [(k, k) for k in figures]
        return charts.bars(
            [
                charts.Bar(
                    name,
                    f["median"],
                    f"{f['median']:.1f} days · {plural(f['deals'], 'deal')}",
                )
                for sid, name in stages
                if (f := figures.get(sid)) is not None and f["median"] is not None
            ],
            self.pipeline_name(pid),
        )

    def answers(self, d: dict[str, Any]) -> dict[str, Any]:
        return {**d, "answers": [{**a, "who": self.person(a["contact"])} for a in d["answers"]]}


def csat_points(repo: Repo, since: datetime, until: datetime | None = None) -> list[tuple[datetime, int]]:
    """(when, score) of each contact's survey answer since then (and before `until`), for the chart."""
    return [
        (a.answered_at, a.score) for a in repo.survey_answers(since) if until is None or a.answered_at < until
    ]
