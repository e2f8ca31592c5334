"""`advance`, `advance to STAGE`, `set stage STAGE`: move the deal, as `deals advance` does."""

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
    ctx.runner.advance(repo, deal, target, cause, now, who=sender)
    return ""
