"""Stage gates: a deal moves on only when its stage's tasks are done (docs/rules.md, "Gates").

A rule that would move a deal on while tasks of its stage are open (or wait for their
approval) does not move it: the move is kept on the deal (`held_move`) with the rule and its
reason, and happens when the last of those tasks is done. A person may move a deal on anyway,
with a reason (`deals advance --force --reason`, or "advance ... because ..." by email); it is
recorded. A stage without tasks holds nothing: its moves happen at once. Moving back is never
held: the tasks of a stage hold the way on, not the way back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from agent.handling.cause import Cause
from agent.store import models as m
from agent.store.repo import Repo

# Not a rules trigger: queued after `stage_tasks_done`, so that the rules reacting to the tasks
# being done run first, with the deal still in its stage; then the held move happens.
GATE_OPEN = "gate_open"


def unfinished(repo: Repo, deal: m.Deal) -> Sequence[m.Task]:
    """The tasks of the deal's stage that hold it there."""
    return repo.unfinished_in_stage(deal.id, deal.stage)


def listed(tasks: Sequence[m.Task]) -> str:
    """`import-data (open), provision-account (awaiting approval)`, for people and the audit trail."""
    return ", ".join(f"{t.key} ({t.status.replace('_', ' ')})" for t in tasks)


def let_through(
    repo: Repo, deal: m.Deal, cause: Cause, now: datetime, *, who: str, reason: str, forced: bool
) -> str:
    """A person moving the deal on: what stops them, or "" when nothing does.

    Tasks not done stop them unless they give a reason (or force it); then the tasks left
    open and the reason are recorded.
    """
    left = unfinished(repo, deal)
    if not left:
        return ""
    if not (reason or forced):
        return (
            f"the tasks of {deal.stage} are not done: {listed(left)}; "
            "finish them, or move it on anyway with a reason"
        )
    cause.trail(repo, now).on(deal)(
        "gate_overridden",
        f"{who} moved the deal on from {deal.stage} with tasks not done ({listed(left)}): "
        f"{reason or 'no reason given'}",
        reason_given=reason,
        left_open=[t.key for t in left],
    )
    return ""


def hold(
    repo: Repo,
    deal: m.Deal,
    target: str,
    tasks: Sequence[m.Task],
    cause: Cause,
    now: datetime,
    *,
    rule: str,
    reason: str,
) -> None:
    """Keep a rule's move until the stage's tasks are done; the latest move asked for wins."""
    earlier = deal.held_move or {}
    deal.held_move = {
        "stage": deal.stage,
        "target": target,
        "rule": rule,
        "reason": reason,
        "at": now.isoformat(),
    }
    replaced = (
        f"; it replaces the move to {earlier['target']} (rule {earlier['rule']})"
        if earlier.get("stage") == deal.stage and earlier.get("target") != target
        else ""
    )
    cause.trail(repo, now).on(deal)(
        "stage_move_waiting",
        f"{deal.stage} → {target} waits until the stage's tasks are done: {listed(tasks)}{replaced}",
        rule=rule,
        target=target,
        waiting_for=[t.key for t in tasks],
    )


def take(deal: m.Deal) -> dict[str, Any] | None:
    """The move held in the deal's current stage, now let go of; None when none is."""
    held = dict(deal.held_move or {})
    deal.held_move = {}
    return held if held.get("stage") == deal.stage and held.get("target") else None


def waiting(deal: m.Deal) -> dict[str, Any]:
    """The move held in the deal's stage ({} none), as `deals show` prints it."""
    held = deal.held_move or {}
    return dict(held) if held.get("stage") == deal.stage else {}
