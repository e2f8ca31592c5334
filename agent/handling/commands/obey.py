"""Carry out the commands of a verified person, each by its own module; every one is audited.

`deal` (which deal the message is about) is read by matching, and `ignore` by the matched
step: they have nothing to carry out here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from agent.handling.cause import Cause
from agent.handling.commands import advance, approval, done, escalate, hybrid, no_show
from agent.handling.commands.context import CommandContext
from agent.handling.commands.grammar import Command
from agent.store import models as m
from agent.store.repo import Repo

Obey = Callable[[CommandContext, Repo, m.Deal, Command, str, Cause, datetime], str]
COMMANDS: dict[str, Obey] = {
    "advance": advance.obey,
    "done": done.obey,
    "no-show": no_show.obey,
    "approve": approval.obey,
    "reject": approval.obey,
    "hybrid": hybrid.obey,
    "escalate": escalate.obey,
}


def obey(
    ctx: CommandContext, repo: Repo, deal: m.Deal, command: Command, sender: str, cause: Cause, now: datetime
) -> None:
    """Carry out one command; what cannot be done is said in the audit trail."""
    carry_out = COMMANDS.get(command.verb)
    problem = carry_out(ctx, repo, deal, command, sender, cause, now) if carry_out else ""
    kind = "command_failed" if problem else "command"
    reason = f"'{command.line}' from {sender}" + (f": {problem}" if problem else "")
    cause.trail(repo, now).on(deal)(kind, reason)
