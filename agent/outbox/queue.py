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
from agent.outbox import status
from agent.outbox.compose import FORWARD, compose, is_ours
from agent.outbox.status import Status
from agent.outbox.transports.base import SendResult, Transport, TransportError
from agent.pipeline.raci import CONSULT, TASK_APPROVAL
from agent.store import models as m
from agent.store.audit import Trail
from agent.store.db import STORE_FAILURES
from agent.store.queries.addresses import OPT_OUT_CONFIRM
from agent.store.repo import Repo

log = logging.getLogger(__name__)
COMPLETION, RECAP = "completion", "recap"  # shipped template names (DESIGN.md)
RECAP_WAIT = timedelta(minutes=15)  # how often a completion email held for a recap in review looks again
# Emails to our own people that someone waits on: a question (which deal?), a client's words
# forwarded, a draft to review or confirm. The per-recipient cap counts a CSM's whole day over all
# their deals (every copy of every email): it would hold these back for hours on a busy day.
UNCAPPED = frozenset({"question", FORWARD, "review-request", OPT_OUT_CONFIRM, CONSULT})
# Of those, the requests a person of ours must act on for a deal to go on: no daily cap holds
# them (a soak run's 100 forwards a deal held the stages' approvals). None of them is caused by
# the volume of inbound mail on the deal, so no loop runs through them; a question has no deal.
ACTION_REQUESTS = frozenset(
    {"question", "review-request", OPT_OUT_CONFIRM, "approval-request", TASK_APPROVAL}
)


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
        on_failure: Callable[[int, str], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.stage_order = stage_order  # pipeline id -> stage ids in order
        self.on_failure = on_failure
        self.last_error = ""
        self.config = config
        self.transport = transport
        self.clock = clock
        self.dry_run = dry_run
        # several workers on one store: who we are, and how long a claim to send keeps the others off
        self.worker = ""
        self.claim_seconds = 0.0

    def flush(self, should_stop: Callable[[], bool] = lambda: False) -> FlushResult:
        result = FlushResult()
        now = self.clock.now()
        with self.sessions.begin() as s:
            due = list(Repo(s).due_outbox(now))
        for email_id in due:
            if should_stop():
                break
            try:
                self._one(email_id, result)
            except STORE_FAILURES:
                raise  # the database, not the email: nothing recorded, the pass is retried (service)
            except Exception as exc:  # one email that cannot be built or sent must not hold up the others
                log.exception("outbox %d cannot be sent", email_id)
                self._failed(email_id, f"{type(exc).__name__}: {exc}", True, True, result)
        return result

    def _one(self, email_id: int, result: FlushResult) -> None:
        now = self.clock.now()
        with self.sessions.begin() as s:
            repo = Repo(s)
            email = repo.claim_email(email_id)  # locked until this transaction ends; None: another has it
            if email is None or email.status not in status.DUE:
                return
            if self._claimed_by_another(email, now):
                return  # another worker is sending it now; it is theirs until their claim runs out
            trail = Trail(repo, now)
            problem = self._recheck(repo, email, now)
            if problem is not None:
                kind, reason, until = problem
                if kind == "withdraw":
                    status.withdraw(trail, email, reason)
                    result.withdrawn += 1
                else:
                    assert until is not None
                    status.postpone(trail, email, reason, until)
                    result.postponed += 1
                log.info("%s %s (outbox %d): %s", kind, email.template, email.id, reason)
                return
            deal = repo.deal(email.deal_id) if email.deal_id else None
            message = compose(
                self.config.identity(deal.team if deal else ""),
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
                csm=[{"name": r.name, "email": r.email} for r in deal.roles if r.role == "csm"]
                if deal
                else [],
                answer_to=repo.inbound_sender(email.in_reply_to) if email.template == FORWARD else "",
                calendar=email.calendar_ics,
            )
            # Who still needs it: a retry after a partial refusal goes only to those not yet served.
            recipients = [
                a["email"] for a in (*email.to, *email.cc) if _state(email, a["email"]) == "pending"
            ]
            if self.dry_run:
                log.info(
                    "dry run: would send %s to %s: %s", email.template, ", ".join(recipients), email.subject
                )
                result.held += 1
                return
            status.claim(trail, email, self.worker, self.claim_seconds)
        try:
            sent = self.transport.send(message, recipients, email_id)
        except TransportError as exc:
            self._failed(email_id, str(exc), exc.permanent, exc.operator, result, exc.retry_after)
            return
        self._record(email_id, sent, result)

    def _claimed_by_another(self, email: m.OutboxEmail, now: datetime) -> bool:
        return bool(
            self.claim_seconds
            and email.status == Status.SENDING
            and email.claimed_by not in ("", self.worker)
            and email.claimed_until is not None
            and email.claimed_until > now
        )

    def _record(self, email_id: int, sent: SendResult, result: FlushResult) -> None:
        now = self.clock.now()
        with self.sessions.begin() as s:
            repo = Repo(s)
            trail = Trail(repo, now)
            row = repo.outbox_without_bodies(email_id)
            assert row is not None
            delivery = dict(row.delivery or {})  # a new dict: JSON columns do not track in-place changes
            delivery.update({r: "sent" for r in sent.accepted})
            delivery.update({r: f"refused: {why}" for r, why in sent.refused.items()})
            delivery.update({r: f"deferred: {why}" for r, why in sent.deferred.items()})
            row.delivery = delivery
            for address, why in sent.refused.items():
                flag = repo.flag(address)  # a 5xx for a recipient is a bounce told at once
                flag.bounced_at, flag.reason = now, f"refused by the SMTP server: {why}"
            if sent.accepted:
                status.delivered(trail, row, sent.accepted, self.transport.name)
            if sent.copy_error:  # the email went; only its copy in the Sent folder failed: not sent again
                log.warning("outbox %d: %s", email_id, sent.copy_error)
                trail.email("email_copy_failed", row, sent.copy_error)
            anyone_served = any(v == "sent" for v in delivery.values())
            done = not sent.deferred and (anyone_served or not sent.refused)
            if done:
                status.sent(row)
        log.debug(  # the decisions log says "sent recap to ..."; failures are warnings below
            "outbox %d: sent to %s; deferred %s; refused %s",
            email_id,
            ", ".join(sent.accepted) or "nobody",
            ", ".join(sent.deferred) or "nobody",
            ", ".join(sent.refused) or "nobody",
        )
        if sent.deferred:
            self._failed(
                email_id, "; ".join(f"{r}: {w}" for r, w in sent.deferred.items()), False, False, result
            )
        elif not done:  # refused by every recipient it was tried on, and nobody served before
            self._failed(
                email_id, "; ".join(f"{r}: {w}" for r, w in sent.refused.items()), True, False, result
            )
        else:
            result.sent += 1
            if sent.refused:
                self._report(
                    email_id, "refused for " + "; ".join(f"{r} ({w})" for r, w in sent.refused.items())
                )

    def _failed(
        self,
        email_id: int,
        error: str,
        permanent: bool,
        operator: bool,
        result: FlushResult,
        retry_after: float = 0.0,
    ) -> None:
        now = self.clock.now()
        settings = self.config.transport
        with self.sessions.begin() as s:
            repo = Repo(s)
            trail = Trail(repo, now)
            row = repo.outbox(email_id)
            assert row is not None
            # Like a mail server's queue lifetime: a server refusing for an hour (or a night) only
            # delays the email; it is given up on after retry_for_hours or max_attempts.
            started = row.first_attempt_at or now
            gave_up = (
                permanent
                or row.attempts >= settings.max_attempts
                or now - started >= timedelta(hours=settings.retry_for_hours)
            )
            if gave_up:
                status.fail(trail, row, error)
                result.failed += 1
            else:
                # exponential backoff with jitter, so a flapping server is not hammered in lockstep
                delay = min(
                    settings.retry_max_seconds, settings.retry_base_seconds * 2 ** (row.attempts - 1)
                ) * random.uniform(0.8, 1.2)
                delay = max(delay, retry_after)  # never sooner than the server asked
                status.retry(trail, row, error, delay)
                result.postponed += 1
        log.warning("sending outbox %d failed: %s", email_id, error)
        self.last_error = error
        if gave_up or operator:
            self._report(email_id, error)

    def _report(self, email_id: int, error: str) -> None:
        """Tell the deal's Responsible person, once per email (the callback keys the notice by the email)."""
        if self.on_failure is not None:
            self.on_failure(email_id, error)

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
        if deal is not None and email.template == COMPLETION and repo.in_review(deal.id, RECAP):
            # both departments' notes come first (seeds/004): the completion email follows the recaps
            return "postpone", "a recap of the deal is still in review", now + RECAP_WAIT
        # opted-out contacts only on an email a person confirmed for them (addresses.blocked)
        blocked = repo.blocked((a["email"] for a in (*email.to, *email.cc)), email_id=email.id)
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
        ours_only = all(is_ours(agent, a["email"]) for a in (*email.to, *email.cc))
        if email.template in ACTION_REQUESTS and ours_only:
            return None
        since = now - timedelta(days=1)
        # A deal's budget is kept apart for its two audiences: client mail forwarded to the CSM
        # must not use up the day's emails to the client (a recap held behind 20 forwards).
        on_deal = repo.sent_on_deal_since(email.deal_id, since) if email.deal_id else []
        per_deal = sum(1 for to in on_deal if all(is_ours(agent, r["email"]) for r in to) == ours_only)
        if email.deal_id and per_deal >= agent.max_emails_per_deal_per_day:
            return (
                "postpone",
                f"{per_deal} emails sent on this deal in 24 h (limit)",
                now + timedelta(hours=1),
            )
        if email.template in UNCAPPED and ours_only:
            return None  # a person waits on it; the deal's cap (a question has no deal) still stops a loop
        recent = repo.sent_to_since((a["email"] for a in email.to), since)
        for a in email.to:
            count = sum(1 for to in recent for r in to if r["email"] == a["email"])
            if count >= agent.max_emails_per_recipient_per_day:
                return (
                    "postpone",
                    f"{count} emails sent to {a['email']} in 24 h (limit)",
                    now + timedelta(hours=1),
                )
        return None


def _state(email: m.OutboxEmail, address: str) -> str:
    """pending | sent | refused, for one recipient of one email."""
    value = (email.delivery or {}).get(address, "")
    return "sent" if value == "sent" else "refused" if value.startswith("refused") else "pending"
