"""The message in hand, the verdicts of steps, and the ordered list of steps that reads them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from agent.domain import InboundMessage
from agent.handling.cause import Cause
from agent.handling.commands.grammar import Command
from agent.matching import Match
from agent.replies.reading import TextReading, read_text
from agent.store.audit import Trail
from agent.store.repo import Repo

log = logging.getLogger(__name__)


@dataclass
class MailItem:
    """One inbound message on its way through the steps; steps fill in what later steps read."""

    repo: Repo
    msg: InboundMessage
    cause: Cause
    now: datetime
    raw: bytes
    direction: str = "inbound"  # inbound (from outside) | internal (to the agent) | cc | bcc
    commands: list[Command] | None = None  # None: the sender is not a verified one of ours
    match: Match | None = None
    trace: list[tuple[str, bool, str]] = field(default_factory=list)  # (step, took it, why)
    history: bool = False  # the mailbox held it before the agent first watched it: recorded, not acted on
    read: TextReading | None = None  # what its text says, when the parsing helper read it (`reading`)

    @property
    def reading(self) -> TextReading:
        """What the message's text says (its own words, an opt-out request, proposed times), read once."""
        if self.read is None:
            self.read = read_text(self.msg)
        return self.read

    @property
    def trail(self) -> Trail:
        return self.cause.trail(self.repo, self.now)

    @property
    def sender(self) -> str:
        return self.msg.sender.email if self.msg.sender else ""

    def log_message(
        self,
        deal_id: int | None,
        direction: str,
        status: str,
        reason: str,
        match: Match | None = None,
        candidates: list[int] | None = None,
        raw: bytes | None = None,
    ) -> int:
        """The message's row (its id); `candidates` and `raw` are kept for one no deal could be told."""
        msg = self.msg
        return self.repo.record_message(
            deal_id=deal_id,
            message_id=msg.message_id,
            source_key=self.cause.key,
            subject=msg.subject,
            sender=self.sender,
            recipients=[a.email for a in (*msg.to, *msg.cc)],
            direction=direction,
            kind=msg.kind.value,
            status=status,
            match_strategy=match.strategy if match else "",
            match_reason=reason,
            match_confidence=match.confidence if match else 0.0,
            candidates=candidates or [],
            received_at=self.now,
            date=msg.date,
            excerpt=msg.new_text[:2000],
            references=list(msg.references),
            raw=raw,
        )


@dataclass(frozen=True)
class Took:
    """The step handled the message: nothing after it runs. `label` is the work's outcome, if any."""

    reason: str
    label: str | None = None


@dataclass(frozen=True)
class Passed:
    reason: str


class Step(Protocol):
    name: str

    def __call__(self, item: MailItem) -> Took | Passed: ...


class MailPipeline:
    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = list(steps)

    def process(self, item: MailItem) -> str | None:
        """Run the steps in order until one takes the message; its label ("unmatched") or None."""
        for step in self.steps:
            verdict = step(item)
            took = isinstance(verdict, Took)
            item.trace.append((step.name, took, verdict.reason))
            if isinstance(verdict, Took):
                log.debug("%s: %s", item.msg.message_id, "; ".join(f"{n}: {w}" for n, _, w in item.trace))
                return verdict.label
        raise RuntimeError(f"{item.msg.message_id}: no step took the message")  # `matched` always does
