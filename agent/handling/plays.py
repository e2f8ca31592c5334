"""Plays (seeds/002's SuccessPlays): a stage's named groups of tasks, and what their end sets going.

A play's tasks are created with its stage's when the deal enters it (agent.deals.enter_stage):
that is the play starting. When the last of them is done, the play's `on_complete` actions run,
once, as a firing of their own (`PLAY.on_complete` in the audit trail) through the same actions
as a rule's `then`: typically an `advance`, whose stage starts the next play. The stage's gate
(agent.handling.gates) holds for a play's tasks like for any other task of the stage.

A play is part of the pipeline's head, not a rule: the loader refuses a broken one with the
file, and nothing a rule reload does can leave half a play running.
"""

from __future__ import annotations

from datetime import datetime

from agent.handling.cause import Cause
from agent.pipeline.definition import Pipeline
from agent.pipeline.engine import Firing, Trigger
from agent.store import models as m
from agent.store.repo import Repo


def firings(
    repo: Repo, deal: m.Deal, pipeline: Pipeline, trigger: Trigger, cause: Cause, now: datetime
) -> list[Firing]:
    """The plays a trigger starts (recorded) or ends (their `on_complete`, to run)."""
    if trigger.kind == "stage_entered":
        _started(repo, deal, pipeline, trigger.subject, cause, now)
        return []
    if trigger.kind != "task_completed":
        return []
    play = pipeline.play_of(trigger.subject)
    if play is None:
        return []
    left = [t.id for t in play.tasks if (row := repo.task(deal.id, t.id)) is None or row.status != "done"]
    if left:
        return []
    reason = f"play {play.name}: its last task, {trigger.subject}, is done"
    cause.trail(repo, now).on(deal)("play_completed", reason, rule=f"{play.id}.on_complete")
    if not play.on_complete:
        return []
    return [Firing(f"{play.id}.on_complete", reason, tuple(play.on_complete))]


def _started(
    repo: Repo, deal: m.Deal, pipeline: Pipeline, stage_id: str, cause: Cause, now: datetime
) -> None:
    if deal.stage != stage_id or not pipeline.has_stage(stage_id):
        return  # the deal moved on in the same pass: the stage it passed through started nothing
    trail = cause.trail(repo, now).on(deal)
    for play in pipeline.stage(stage_id).plays:
        rows = [row for t in play.tasks if (row := repo.task(deal.id, t.id)) is not None]
        if any(row.created_at == now for row in rows):  # a stage entered again keeps its tasks
            trail("play_started", f"play {play.name}: {', '.join(t.id for t in play.tasks)}")
