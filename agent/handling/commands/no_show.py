"""`no-show`: the deal's last call that has started did not happen; no recap goes, R is told."""

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
    held = [
        mt for mt in repo.meetings_for(deal.id) if mt.status in ("scheduled", "completed") and mt.start <= now
    ]
    if not held:
        return "no meeting has started yet"
    ctx.meetings.mark_no_show(repo, held[-1], cause, now, who=sender)
    return ""
