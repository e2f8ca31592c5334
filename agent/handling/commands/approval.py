"""`approve` / `reject`: the answer to an approval request, taken only from the approver asked."""

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
    approval = repo.pending_approval(deal.id)
    if approval is None or approval.approver != sender:
        return "no approval of this deal is waiting for this sender"
    ctx.runner.decide_approval(repo, deal, command.verb == "approve", cause, now, who=sender)
    return ""
