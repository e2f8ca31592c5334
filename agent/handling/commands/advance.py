"""`advance`, `advance to STAGE`, `set stage STAGE`: move the deal, as `deals advance` does.

With the stage's tasks not done it moves only with a reason ("advance to training because the
client imported the data themselves"), recorded; the stage's approval, if it needs one, is
still asked (only the command line's --force skips it).
"""

from __future__ import annotations

from datetime import datetime

from agent.handling.cause import Cause
from agent.handling.commands.context import CommandContext
from agent.handling.commands.grammar import Command
from agent.store import models as m
from agent.store.repo import Repo


def obey(
    ctx: CommandContext, repo: Repo, deal: m.Deal, command: Command, sender: str, cause: Cause, now: datetime
) -> str:
    pipeline = ctx.pipelines.get(deal.pipeline)
    if pipeline is None:
        return ""  # the deal's pipeline is not loaded: the rules say so in the audit trail
    target = command.arg or pipeline.next_stage(deal.stage) or ""
    if not pipeline.has_stage(target):
        return f"no stage {target!r} in {deal.pipeline}"
    problem = ctx.runner.advance(repo, deal, target, cause, now, who=sender, reason=command.reason)
    return problem and f'{problem} (write "advance to {target} because <why>")'
