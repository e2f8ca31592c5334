"""`escalate <why>`, `escalation: <why>`: the deal's escalation rule runs, as `deals escalate` does.

Before this was a command, the rule fired on the message's first word (agent.handling.mail.matching,
for a message with no command); now the command alone dispatches it, so it fires once, and a deal
whose pipeline has no escalation rule is said in the audit trail instead of passing unseen.
"""

from __future__ import annotations

from datetime import datetime

from agent.handling.cause import Cause
from agent.handling.commands.context import CommandContext
from agent.handling.commands.grammar import Command
from agent.handling.hybrid import escalate
from agent.store import models as m
from agent.store.repo import Repo


def obey(
    ctx: CommandContext, repo: Repo, deal: m.Deal, command: Command, sender: str, cause: Cause, now: datetime
) -> str:
    return escalate(ctx.runner, repo, deal, command.arg, cause, now, who=sender)
