"""`done TASK`, `mark TASK done`: tick a task of the deal, as `deals task-done` does."""

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
    if repo.task(deal.id, command.arg) is None:
        return f"no task {command.arg!r} on this deal"
    ctx.runner.complete_task(repo, deal, command.arg, cause, now, who=sender)
    return ""
