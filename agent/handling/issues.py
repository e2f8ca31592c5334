"""Issues on a deal: read from its messages, their severity confirmed by a person, and the rules told.

Only deals whose pipeline reacts to issues (`issue_reported`, `issue_updated`) have their mail
read for them: elsewhere a client's "the export is broken" is the CSM's to read, as before.
A message that names a support ticket already on record is news of that issue
(`issue_updated`), not a new one: both departments hear of it as the ticket moves, and nobody
is asked to confirm its severity again.

A high or critical reading is only a reading. The rules ask the CSM team lead to confirm it
(coordination.ask); their reply ("confirm", "yes", or the severity it really is: "medium",
"sev 2", "P1") is read here. An unclear reply confirms nothing: they are asked back.
"""

from __future__ import annotations

import re
from datetime import datetime

from agent.config import Config
from agent.domain import SEVERITIES, Address, InboundMessage
from agent.handling.cause import Cause
from agent.handling.enqueue import Enqueuer
from agent.handling.runner import RuleRunner
from agent.handling.severity_checks import ask
from agent.pipeline.definition import Pipeline
from agent.pipeline.engine import Trigger, listens
from agent.replies.intent import Intent, intent_of
from agent.replies.reader import read_reply
from agent.severity import parse_severity, read_issue
from agent.store import models as m
from agent.store.repo import Repo

# a deal whose pipeline reacts to none of these has its mail left unread for issues
REPORTS = (*(Trigger("issue_reported", s) for s in SEVERITIES), Trigger("issue_updated"))
AGENT_TAG = re.compile(r"\[agent\]", re.I)  # the subject prefix of the agent's emails to our people
CONFIRM = re.compile(
    r"\s*(?:i\s+)?(?:confirm(?:ed)?|yes|yep|correct|that'?s right|agreed?)\b(?!\s+not)", re.I
)
_NOT = re.compile(r"(?:\bnot|n't|\bno|\bnever)\s+(?:\w+\s+)?$", re.I)  # "not critical", "isn't really high"
_WORD = re.compile(r"\b(crit(?:ical)?|high|medium|med|low|sev(?:erity)?\s*[1-4]|p[1-4])\b", re.I)


class Issues:
    def __init__(
        self, config: Config, pipelines: dict[str, Pipeline], runner: RuleRunner, enqueuer: Enqueuer
    ) -> None:
        self.config = config
        self.pipelines = pipelines
        self.runner = runner
        self.enqueuer = enqueuer

    def read(
        self, repo: Repo, deal: m.Deal, msg: InboundMessage, message_id: int, sender: str, now: datetime
    ) -> list[Trigger]:
        """The issue this message on the deal reports, recorded; the triggers for the deal's rules."""
        pipeline = self.pipelines.get(deal.pipeline)
        if pipeline is None or not any(listens(pipeline, t) for t in REPORTS):
            return []
        if AGENT_TAG.search(msg.subject):
            return []  # one of ours answering or forwarding the agent's own email: its words are the agent's
        reading = read_issue(msg.subject, msg.new_text, self.config.severity)
        if reading is None:
            return []
        row = repo.message(message_id)
        if row is not None:
            row.severity = reading.severity
        known = repo.issue_by_ticket(deal.id, reading.ticket) if reading.ticket else None
        summary = _summary(msg)
        if known is not None:
            known.updated_at = now
            known.summary = summary
            return [Trigger("issue_updated", known.ticket, f"news of ticket {known.ticket} from {sender}")]
        issue = m.Issue(
            deal_id=deal.id,
            message_id=message_id,
            kind=reading.kind,
            summary=summary,
            severity=reading.severity,
            evidence=reading.evidence,
            confirmed="",
            confirmed_by="",
            status="open",
            ticket=reading.ticket,
            reported_by=sender,
            created_at=now,
            updated_at=now,
        )
        repo.add(issue)
        said = f" ('{reading.evidence}')" if reading.evidence else " (no words said how severe: the default)"
        detail = f"{reading.kind} issue read as {reading.severity}{said} from {sender}"
        return [Trigger("issue_reported", reading.severity, detail)]

    def answer(
        self, repo: Repo, request: m.OutboxEmail, text: str, person: Address, cause: Cause, now: datetime
    ) -> None:
        """A person's reply to "confirm this issue's severity": confirmed, corrected, or asked back."""
        issue = repo.issue(request.about_issue_id or 0)
        deal = repo.deal(issue.deal_id) if issue is not None else None
        if issue is None or deal is None:
            return
        trail = cause.trail(repo, now).on(deal)
        if issue.confirmed:
            trail("severity_late", f"{person.email} answered, but {issue.confirmed_by} confirmed it already")
            return
        said = read_reply(text, person.name).said
        severity = _severity_in(said)
        if severity is None and (
            CONFIRM.match(said) or intent_of(said, person.name).intent is Intent.APPROVE
        ):
            severity = issue.severity
        if severity is None:
            first = " ".join(said.split()[:12])
            trail("severity_unclear", f"{person.email} answered {first!r}: no severity or confirmation read")
            asked_back = {"said": first, "reason": "expected 'confirm' or one of " + ", ".join(SEVERITIES)}
            ask(
                self.enqueuer,
                repo,
                deal,
                issue,
                (person,),
                cause,
                now,
                rule="",
                reason="asked back",
                asked_back=asked_back,
            )
            return
        how = "confirmed" if severity == issue.severity else f"changed from {issue.severity} to"
        issue.confirmed, issue.confirmed_by, issue.updated_at = severity, person.email, now
        trail("severity_confirmed", f"{person.email} {how} {severity}: {issue.summary[:120]}")
        self.runner.dispatch(
            repo,
            deal,
            [Trigger("severity_confirmed", severity, f"{person.email} {how} {severity}")],
            cause,
            now,
        )


def _severity_in(said: str) -> str | None:
    """The severity a person's words name ("it's only medium", "P1"); None when they name none or two.
    A level said not to be ("not critical", "isn't high") is not named."""
    named = (w for w in _WORD.finditer(said) if not _NOT.search(said[max(0, w.start() - 20) : w.start()]))
    words = (re.sub(r"severity\s*", "sev ", w.group(1).lower()) for w in named)
    found = {parse_severity(re.sub(r"sev\s*", "sev ", w)) for w in words}
    found.discard(None)
    return found.pop() if len(found) == 1 else None


def _summary(msg: InboundMessage) -> str:
    text = " ".join(msg.new_text.split())
    return f"{msg.subject}: {text[:300]}" if text else msg.subject
