"""A pipeline's KPI cards (`scorecard: {cards: [...]}`): what each counts, over which deals, against what.

A card is a segment (a filter of the pipeline's deals), a metric over it, a format and a target.
Each card is validated alone by agent.pipeline.loader, like a rule: a broken one is named and
dropped, and the others (and the pipeline) keep working. Computed by agent.reports.kpis.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from agent.pipeline.schema import Names, PipelineHead, Strict

Problem = tuple[tuple[Any, ...], str, str]  # (where in the file, what is wrong, error | warning)

Metric = Literal["accounts", "at_risk", "went_live", "time_in_onboarding", "time_in_stage", "csat"]
TIME_METRICS = ("time_in_onboarding", "time_in_stage")
# the metrics where less is better: a bare target number is a ceiling for them, a floor for the others
LOWER_IS_BETTER = frozenset({"at_risk", *TIME_METRICS})


class SegmentDef(Strict):
    """Which of the pipeline's deals a card counts, as they were at the end of the period."""

    stage: Names | None = Field(None, description="In one of these stages")
    stage_not: Names | None = Field(None, description="In none of these stages")
    final: bool | None = Field(
        None, description="false: still onboarding (not in an end stage); true: in one"
    )
    at_risk: bool | None = Field(
        None,
        description="Onboarding with an overdue task, or in its stage longer than the stage's target_days",
    )
    attribute: dict[str, str] | None = Field(None, description="Custom attributes equal these values")


class TargetDef(Strict):
    op: Literal["<=", ">=", ""] = ""  # "" as written (a bare number): CardDef.goal gives the direction
    value: float

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value <= self.value if self.op == "<=" else value >= self.value

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


_TARGET = re.compile(
    r"^\s*(?P<op><=|>=|at most|at least|max|min)?\s*(?P<value>\d+(?:\.\d+)?)\s*(?:%|d|days?)?\s*$", re.I
)
_OPS = {"<=": "<=", "at most": "<=", "max": "<=", ">=": ">=", "at least": ">=", "min": ">="}


def _target(v: Any) -> Any:
    """30, "<= 30", "at least 10", "90%": the direction is completed from the metric afterwards."""
    if isinstance(v, TargetDef | dict) or v is None:
        return v
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise ValueError("expected a number, or '<= N' / '>= N' ('at most N', 'at least N')")
    found = _TARGET.match(str(v))
    if not found:
        raise ValueError(f"expected a number, or '<= N' / '>= N' ('at most N', 'at least N'), got {v!r}")
    op = found.group("op")
    return {"op": _OPS[op.lower()] if op else "", "value": float(found.group("value"))}


class CardDef(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    segment: SegmentDef = SegmentDef()
    metric: Metric
    stage: str | None = Field(None, description="time_in_stage: this stage (none: each stage)")
    stat: Literal["median", "average", "p90"] = Field("median", description="For the time metrics")
    format: Literal["number", "trend", "percent"] = "number"
    target: Annotated[TargetDef | None, BeforeValidator(_target)] = None

    @model_validator(mode="after")
    def _fits(self) -> CardDef:
        if self.stage is not None and self.metric != "time_in_stage":
            raise ValueError("'stage' only goes with metric time_in_stage")
        if "stat" in self.model_fields_set and self.metric not in TIME_METRICS:
            raise ValueError(f"'stat' only goes with the time metrics ({', '.join(TIME_METRICS)})")
        if self.format == "percent" and self.metric in TIME_METRICS:
            raise ValueError(
                "format percent is a share (accounts, at_risk, went_live, csat); time metrics are in days"
            )
        return self

    @property
    def goal(self) -> TargetDef | None:
        """The target with its direction: a bare number is a ceiling for at_risk and times, else a floor."""
        if self.target is None:
            return None
        op = self.target.op or ("<=" if self.metric in LOWER_IS_BETTER else ">=")
        return TargetDef(op=op, value=self.target.value)


def card_problems(card: CardDef, head: PipelineHead, seen: set[str]) -> Iterable[Problem]:
    """What pydantic cannot check alone: the stages named exist, and the names are unique."""
    stages = [s.id for s in head.stages]
    if card.name in seen:
        yield ("name",), f"duplicate card name {card.name!r}", "error"
    seen.add(card.name)
    for key in ("stage", "stage_not"):
        for stage in getattr(card.segment, key) or []:
            if stage not in stages:
                yield ("segment", key), f"unknown stage {stage!r}; expected one of {stages}", "error"
    if card.stage is not None and card.stage not in stages:
        yield ("stage",), f"unknown stage {card.stage!r}; expected one of {stages}", "error"
