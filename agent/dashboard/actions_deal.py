"""A deal's stage and tasks moved from the dashboard, as `deals advance`, `task-done` and `approve --task` do.

Each checks first that the page it came from still tells the truth (the deal is where the form
saw it, the task is still open or waiting): a stale form or a second click changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from agent import deals
from agent.dashboard.actions_flow import Act, Action, Refused
from agent.domain import Participant
from agent.handling import gates
from agent.handling.tasks import AWAITING
from agent.pipeline.definition import Pipeline
from agent.store import models as m


def _pipeline(act: Act) -> Pipeline:
    pipeline = act.runtime.pipelines.get(act.deal.pipeline)
    if pipeline is None:
        raise Refused(f"{act.deal.name}'s pipeline {act.deal.pipeline} is not loaded: nothing can move it.")
    return pipeline


def _stage_name(pipeline: Pipeline, stage: str) -> str:
    return pipeline.stage(stage).name or stage if pipeline.has_stage(stage) else stage


def _reason(act: Act, why: str) -> str:
    """The form's reason; without one, refused (the confirmation page asks for it, and its look
    goes on as if one were given)."""
    reason = act.field("reason")
    if not reason and not act.looking:
        raise Refused(f"Give a reason: {why}.", 422)
    return reason or "the reason to be given"


# --- the stage ---------------------------------------------------------------------------------
def _move_title(act: Act) -> str:
    pipeline = _pipeline(act)
    target = act.field("to")
    back = _back(pipeline, act.field("from") or act.deal.stage, target)
    return f"Move {act.deal.name} {'back ' if back else ''}to {_stage_name(pipeline, target)}?"


def _back(pipeline: Pipeline, stage: str, target: str) -> bool:
    if not (pipeline.has_stage(stage) and pipeline.has_stage(target)):
        return False
    return pipeline.stage_index(target) < pipeline.stage_index(stage)


def move(act: Act) -> str:
    """Advance the deal, or move it back; with a reason when it goes back, leaves open tasks, or is forced."""
    deal, pipeline = act.deal, _pipeline(act)
    seen, target, force = act.field("from"), act.field("to"), act.field("force") == "1"
    if seen != deal.stage:
        raise Refused(
            f"{deal.name} is in {_stage_name(pipeline, deal.stage)} now, not {_stage_name(pipeline, seen)}: "
            "nothing was moved. Open its page again to see why."
        )
    if not pipeline.has_stage(target) or target == deal.stage:
        raise Refused(f"{pipeline.id} has no other stage {target!r}: nothing was moved.")
    here, there = _stage_name(pipeline, deal.stage), _stage_name(pipeline, target)
    left = gates.unfinished(act.repo, deal)
    if _back(pipeline, deal.stage, target):
        reason = _reason(act, f"why {deal.name} goes back to {there}")
    elif force:
        reason = _reason(act, f"why {deal.name} leaves {here} without its approval")
    elif left:
        titles = ", ".join(t.title for t in left)
        reason = _reason(act, f"{here} has tasks not done ({titles}), so say why it moves on anyway")
    else:
        reason = act.field("reason")
    problem = act.runtime.handlers.runner.advance(
        act.repo, deal, target, act.cause, act.now, who=act.who, force=force, reason=reason
    )
    if problem:  # gates said no (checked above): kept in the agent's words
        raise Refused(problem, 422)
    if deal.stage == target:
        return f"{deal.name} moved to {there}."
    approval = act.repo.pending_approval(deal.id)
    if approval is not None:
        return f"{deal.name} waits for {approval.approver or 'its Accountable person'} to approve leaving {here}."
    return f"{deal.name} stays in {here}: see its timeline for why."


MOVE = Action(
    "move",
    "/deals/<int:deal_id>/stage",
    _move_title,
    "Move",
    move,
    carried=("from", "to", "force"),
    reason="optional",
)


def _approval_title(act: Act) -> str:
    pipeline, approval = _pipeline(act), act.repo.pending_approval(act.deal.id)
    target = _stage_name(pipeline, approval.target_stage) if approval else "its next stage"
    return f"Let {act.deal.name} leave {_stage_name(pipeline, act.deal.stage)} for {target}?"


def _leave(grant: bool) -> Callable[[Act], str]:
    """The answer to a stage's approval request, as the approver's "approve" or "reject" by email."""

    def decide(act: Act) -> str:
        deal, pipeline = act.deal, _pipeline(act)
        approval = act.repo.pending_approval(deal.id)
        here = _stage_name(pipeline, deal.stage)
        if approval is None or approval.stage != act.field("from"):
            raise Refused(f"{deal.name} waits for no approval to leave {here}: nothing was changed.")
        if act.actor and act.actor != approval.approver.lower():
            them = next((r.name for r in deal.roles if r.email == approval.approver and r.name), "")
            raise Refused(
                f"Only {them or approval.approver or 'its Accountable person'} may decide it; you are {act.actor}: "
                "nothing was changed.",
                403,
            )
        act.runtime.handlers.runner.decide_approval(act.repo, deal, grant, act.cause, act.now, who=act.who)
        if deal.stage != approval.stage:
            return f"{deal.name} moved to {_stage_name(pipeline, deal.stage)}."
        return f"{deal.name} stays in {here}: leaving it was refused."

    return decide


LEAVE = "/deals/<int:deal_id>/approval/"
GRANT = Action("stage-grant", LEAVE + "grant", _approval_title, "Approve", _leave(True), carried=("from",))
REFUSE = Action("stage-refuse", LEAVE + "refuse", _approval_title, "Refuse", _leave(False), carried=("from",))


# --- tasks ---------------------------------------------------------------------------------------
def _task(act: Act, *, waiting: bool) -> m.Task:
    task = act.repo.task(act.deal.id, act.field("task"))
    if task is None:
        raise Refused(f"{act.deal.name} has no task {act.field('task')!r}: nothing was changed.")
    if waiting and task.status != AWAITING:
        state = "done" if task.status == "done" else "open again"
        raise Refused(f"'{task.title}' no longer waits for approval (it is {state}): nothing was changed.")
    if not waiting and task.status != "open":
        state = "done" if task.status == "done" else "waiting for its approval"
        raise Refused(f"'{task.title}' is {state} already: nothing was changed.")
    return task


def _accountable(act: Act, task: m.Task) -> list[Participant]:
    return [p for p in deals.view(act.deal).people if p.role == task.accountable]


def _titled(words: str) -> Callable[[Act], str]:
    """The confirmation's question, e.g. "Approve '{task}' on {deal}?" with the task's title."""

    def title(act: Act) -> str:
        task = act.repo.task(act.deal.id, act.field("task"))
        return words.format(task=task.title if task else act.field("task"), deal=act.deal.name)

    return title


def task_done(act: Act) -> str:
    task = _task(act, waiting=False)
    pipeline = _pipeline(act)
    definition = pipeline.task_def(task.key)
    who = act.who
    if (
        definition is not None
        and definition.approval
        and act.actor in {p.email for p in _accountable(act, task)}
    ):
        # the Accountable person marking it done approves it (agent.handling.tasks): they are
        # known by their address, as when they write "done TASK"
        who = act.actor
    stage = act.deal.stage
    act.runtime.handlers.runner.complete_task(act.repo, act.deal, task.key, act.cause, act.now, who=who)
    if task.status == AWAITING:
        approvers = ", ".join(p.name or p.email for p in _accountable(act, task)) or task.accountable
        return f"'{task.title}' waits for {approvers} to approve it."
    moved = (
        f" {act.deal.name} moved to {_stage_name(pipeline, act.deal.stage)}."
        if act.deal.stage != stage
        else ""
    )
    return f"'{task.title}' is done.{moved}"


def _decide(approve: bool) -> Callable[[Act], str]:
    def decide(act: Act) -> str:
        task = _task(act, waiting=True)
        people = _accountable(act, task)
        if act.actor and act.actor not in {p.email for p in people}:
            them = ", ".join(p.name or p.email for p in people) or f"nobody fills {task.accountable}"
            raise Refused(
                f"Only the task's Accountable person may decide it ({them}); you are {act.actor}: "
                "nothing was changed.",
                403,
            )
        reason = "" if approve else _reason(act, "the Responsible person is told why it is not approved")
        runner = act.runtime.handlers.runner
        triggers = runner.tasks.decide(
            act.repo, act.deal, task, approve, reason, act.cause, act.now, who=act.who
        )
        runner.dispatch(act.repo, act.deal, triggers, act.cause, act.now)
        if approve:
            return f"'{task.title}' is approved."
        return f"'{task.title}' is not approved: it is open again, and its Responsible person is told why."

    return decide


TASKS = "/deals/<int:deal_id>/tasks/<task>/"
TASK_DONE = Action(
    "task-done", TASKS + "done", _titled("Mark '{task}' done on {deal}?"), "Mark done", task_done
)
TASK_APPROVE = Action(
    "task-approve", TASKS + "approve", _titled("Approve '{task}' on {deal}?"), "Approve", _decide(True)
)
TASK_REJECT = Action(
    "task-reject",
    TASKS + "reject",
    _titled("Send '{task}' on {deal} back, not approved?"),
    "Do not approve",
    _decide(False),
    reason="required",
)
