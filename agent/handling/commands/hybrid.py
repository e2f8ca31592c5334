"""`hybrid learning-bought-service`, "became hybrid: bought FMC", "now hybrid, they bought the
credentialing service", "became hybrid: bought learning": the account became hybrid, as
`deals hybrid` says it (agent.handling.hybrid).

The way is read from what was bought: the Fully-Managed Credentialing service (FMC,
credentialing, managed service) or Learning and/or Compliance (learning, compliance, LMS).
"""

from __future__ import annotations

import re
from datetime import datetime

from agent.domain import HYBRID_PATHS
from agent.handling.cause import Cause
from agent.handling.commands.context import CommandContext
from agent.handling.commands.grammar import Command
from agent.handling.hybrid import LEARNING_BOUGHT_SERVICE, SERVICE_BOUGHT_LEARNING, become_hybrid
from agent.store import models as m
from agent.store.repo import Repo

_BOUGHT = re.compile(r"\b(?:bought|buys|buy|purchased|purchases|added|adds|signed\s+up\s+for)\b", re.I)
# The self-managed Credentialing Software (CRED SOFT) is not the service: buying it makes no account hybrid
_SOFTWARE = re.compile(r"\b(?:cred(?:entialing)?[\s-]*soft(?:ware)?|self-managed[\s-]+credentialing)\b", re.I)
_SERVICE = re.compile(r"\b(?:fmc|credentialing|managed\s+service|cred\s*serv|service)\b", re.I)
_LEARNING = re.compile(r"\b(?:learning|compliance|lms)\b", re.I)


def path_of(words: str) -> str:
    """Which way the words say the account became hybrid; "" when they do not tell."""
    text = " ".join(words.lower().split())
    named = [p for p in HYBRID_PATHS if p in text]
    if len(named) == 1:
        return named[0]
    bought = _BOUGHT.split(text, maxsplit=1)  # "an FMC account bought learning": what was bought counts
    what = _SOFTWARE.sub(" ", bought[-1])
    service, learning = bool(_SERVICE.search(what)), bool(_LEARNING.search(what))
    if service == learning:
        return ""
    return LEARNING_BOUGHT_SERVICE if service else SERVICE_BOUGHT_LEARNING


def obey(
    ctx: CommandContext, repo: Repo, deal: m.Deal, command: Command, sender: str, cause: Cause, now: datetime
) -> str:
    path = path_of(command.arg) or command.arg
    problem = become_hybrid(ctx.runner, ctx.pipelines, repo, deal, path, cause, now, who=sender)
    if problem and path not in HYBRID_PATHS:  # the words did not tell: the two ways, as written
        return f'{problem} (write "hybrid {LEARNING_BOUGHT_SERVICE}" or "hybrid {SERVICE_BOUGHT_LEARNING}")'
    return problem
