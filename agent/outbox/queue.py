"""Send what is due from the outbox: re-check, record the attempt, deliver, record the result.

Each email has its own transactions, so one bad email never holds up the
others. The attempt is committed *before* the transport is called: after a
crash, an email left in "sending" is delivered again with the same
Message-ID (the file transport sees its file and does nothing).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from agent.clock import Clock
from agent.config import Config
from agent.outbox.compose import compose
from agent.outbox.transports import Transport, TransportError
from agent.store import models as m
from agent.store.repo import Repo

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


@dataclass
class FlushResult:
    sent: int = 0
    withdrawn: int = 0
    postponed: int = 0
    failed: int = 0
    held: int = 0  # dry run: rendered, not sent


class Outbox:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: Config,
        transport: Transport,
        clock: Clock,
        *,
        stage_order: dict[str, list[str]],
        dry_run: bool = False,
    ) -> None:
        self.sessions = sessions
        self.stage_order = stage_order  # pipeline id -> stage ids in order
        self.config = config
        self.transport = transport
        self.clock = clock
        self.dry_run = dry_run

    def flush(self, should_stop: Callable[[], bool] = lambda: False) -> FlushResult:
        result = FlushResult()
        now = self.clock.now()
        with self.sessions.begin() as s:
            due = list(Repo(s).due_outbox(now))
        for email_id in due:
            if should_stop():
                break
            self._one(email_id, result)
        return result

    def _one(self, email_id: int, result: FlushResult) -> None:
        now = self.clock.now()
        with self.sessions.begin() as s:
            repo = Repo(s)
            email = repo.outbox(email_id)
            if email is None or email.status not in ("queued", "sending"):
                return
            problem = self._recheck(repo, email, now)
            if problem is not None:
                kind, reason, until = problem
                if kind == "withdraw":
                    email.status = "withdrawn"
                    email.last_error = reason
                    result.withdrawn += 1
                else:
                    assert until is not None
                    email.due_at = until
                    result.postponed += 1
                repo.audit(
                    now,
                    f"email_{kind}",
                    deal_id=email.deal_id,
                    event_id=None,
                    rule=email.rule,
                    reason=f"{email.template}: {reason}",
                    outbox_id=email.id,
                )
                log.info("%s %s (outbox %d): %s", kind, email.template, email.id, reason)
                return
            deal = repo.deal(email.deal_id) if email.deal_id else None
            message = compose(
                self.config.agent,
                to=email.to,
                cc=email.cc,
                subject=email.subject,
                text=email.body_text,
                html=email.body_html,
                message_id=email.message_id,
                token=deal.token if deal else None,
                in_reply_to=email.in_reply_to,
                references=list(email.references),
                date=now,
            )
            recipients = [a["email"] for a in (*email.to, *email.cc)]
            if self.dry_run:
                log.info(
                    "dry run: would send %s to %s: %s", email.template, ", ".join(recipients), email.subject
                )
                result.held += 1
                return
            email.status = "sending"
            email.attempts += 1
        try:
            self.transport.send(message, recipients, email_id)
        except TransportError as exc:
            self._failed(email_id, exc, result)
            return
        with self.sessions.begin() as s:
            repo = Repo(s)
            row = repo.outbox(email_id)
            assert row is not None
            row.status, row.sent_at = "sent", self.clock.now()
            repo.audit(
                row.sent_at,
                "email_sent",
                deal_id=row.deal_id,
                event_id=None,
                rule=row.rule,
                reason=f"sent {row.template} to {', '.join(recipients)} via {self.transport.name}",
                outbox_id=row.id,
                message_id=row.message_id,
            )
        log.info(
            "sent %s for deal %s to %s (rule %s)",
            email.template,
            email.deal_id,
            ", ".join(recipients),
            email.rule or "manual",
        )
        result.sent += 1

    def _failed(self, email_id: int, exc: TransportError, result: FlushResult) -> None:
        now = self.clock.now()
        with self.sessions.begin() as s:
            repo = Repo(s)
            row = repo.outbox(email_id)
            assert row is not None
            row.last_error = str(exc)
            if exc.permanent or row.attempts >= MAX_ATTEMPTS:
                row.status = "failed"
                result.failed += 1
                repo.audit(
                    now,
                    "email_failed",
                    deal_id=row.deal_id,
                    event_id=None,
                    rule=row.rule,
                    reason=f"{row.template}: {exc}",
                    outbox_id=row.id,
                )
            else:
                # exponential backoff with jitter, so a flapping server is not hammered in lockstep
                delay = min(3600.0, 30.0 * 2 ** (row.attempts - 1)) * random.uniform(0.8, 1.2)
                row.status, row.due_at = "queued", now + timedelta(seconds=delay)
                result.postponed += 1
        log.warning("sending outbox %d failed: %s", email_id, exc)

    def _recheck(
        self, repo: Repo, email: m.OutboxEmail, now: datetime
    ) -> tuple[str, str, datetime | None] | None:
        """Is the email still right? ("withdraw" | "postpone", reason, until) when not."""
        deal = repo.deal(email.deal_id) if email.deal_id else None
        if email.deal_id and deal is None:
            return "withdraw", "the deal no longer exists", None
        if email.meeting_id:
            meeting = repo.meeting_by_id(email.meeting_id)
            if meeting is not None and meeting.status in ("cancelled", "no_show"):
                return "withdraw", f"meeting '{meeting.title}' is {meeting.status.replace('_', '-')}", None
        if deal is not None and email.unless_replied and repo.client_message_since(deal.id, email.created_at):
            return "withdraw", "the client replied meanwhile", None
        if deal is not None and email.stage and self._moved_back(deal, email.stage):
            return "withdraw", f"the deal went back from {email.stage} to {deal.stage}", None
        blocked = repo.blocked(a["email"] for a in (*email.to, *email.cc))
        if blocked:
            email.to = [a for a in email.to if a["email"] not in blocked]
            email.cc = [a for a in email.cc if a["email"] not in blocked]
            if not email.to:
                return (
                    "withdraw",
                    f"every recipient bounced or opted out ({', '.join(sorted(blocked))})",
                    None,
                )
        return self._rate_limited(repo, email, now)

    def _moved_back(self, deal: m.Deal, stage: str) -> bool:
        order = self.stage_order.get(deal.pipeline, [])
        return stage in order and deal.stage in order and order.index(deal.stage) < order.index(stage)

    def _rate_limited(
        self, repo: Repo, email: m.OutboxEmail, now: datetime
    ) -> tuple[str, str, datetime] | None:
        agent = self.config.agent
        recent = repo.sent_since(now - timedelta(days=1))
        per_deal = sum(1 for e in recent if e.deal_id == email.deal_id)
        if email.deal_id and per_deal >= agent.max_emails_per_deal_per_day:
            return (
                "postpone",
                f"{per_deal} emails sent on this deal in 24 h (limit)",
                now + timedelta(hours=1),
            )
        for a in email.to:
            count = sum(1 for e in recent for r in e.to if r["email"] == a["email"])
            if count >= agent.max_emails_per_recipient_per_day:
                return (
                    "postpone",
                    f"{count} emails sent to {a['email']} in 24 h (limit)",
                    now + timedelta(hours=1),
                )
        return None
