from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.deals import time_in_stage
from agent.pipeline.loader import load_pipelines
from agent.store.models import StageVisit

T0 = datetime(2026, 12, 1, tzinfo=UTC)
DAY = timedelta(days=1)
PIPELINE = load_pipelines(Path(__file__).resolve().parents[2] / "rules").pipelines["standard-onboarding"]


def visit(stage: str, start: int, end: int | None) -> StageVisit:
    return StageVisit(
        stage=stage, entered_at=T0 + start * DAY, exited_at=T0 + end * DAY if end is not None else None
    )


def test_time_per_stage_and_in_total() -> None:
    visits = [visit("introduction-call", 0, 3), visit("set-up", 3, None)]
    per_stage, total = time_in_stage(visits, PIPELINE, T0 + 10 * DAY)
    assert per_stage == {"introduction-call": 3 * 86400, "set-up": 7 * 86400}
    assert total == 10 * 86400


def test_the_clock_stops_at_an_end_stage() -> None:
    visits = [visit("training", 0, 5), visit("won", 5, None)]
    _, total = time_in_stage(visits, PIPELINE, T0 + 40 * DAY)
    assert total == 5 * 86400


def test_the_clock_restarts_when_a_deal_leaves_the_end_stage_and_revisits_add_up() -> None:
    visits = [visit("training", 0, 5), visit("won", 5, 20), visit("training", 20, None)]
    per_stage, total = time_in_stage(visits, PIPELINE, T0 + 22 * DAY)
    assert per_stage["training"] == 7 * 86400
    assert per_stage["won"] == 15 * 86400
    assert total == 7 * 86400
