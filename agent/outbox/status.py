"""An outbox email's status, and every change of it: the one place that assigns one.

    queued ──claim──> sending ──sent──> sent
      │  ^              │  └──retry──> queued (a 4xx, a deferred recipient: later, with backoff)
      │  │              └──fail───> failed ──requeue──> queued (a person, `outbox retry`)
      │  release
      v  │
    review ──withdraw──> withdrawn ──requeue──> queued
      (queued, review and failed emails may be withdrawn: cancelled, no-show, re-check, reviewer)

Each transition writes its own audit line through the trail it is given, so the history of
an email (`outbox show`) is the list of its transitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from agent.store import models as m
from agent.store.audit import Trail


class Status(StrEnum):
    QUEUED = "queued"  # waiting for its due time
    REVIEW = "review"  # held until a person decides (review before sending)
    SENDING = "sending"  # an attempt is recorded; its outcome is not (yet)
    SENT = "sent"
    FAILED = "failed"  # given up on: permanent refusal, or retries exhausted
    WITHDRAWN = "withdrawn"  # never to go: cancelled, no longer right, or dropped in review


DUE = (Status.QUEUED, Status.SENDING)  # what a flush sends when its time has come
UNSENT = (Status.QUEUED, Status.REVIEW)  # what a no-show or a change of plan can still stop


class TransitionError(ValueError):
    """A change the state machine does not allow (e.g. cancelling a sent email)."""


def _require(email: m.OutboxEmail, allowed: tuple[Status, ...], what: str) -> None:
    if email.status not in allowed:
        raise TransitionError(
            f"email {email.id} is {email.status}; only {' or '.join(allowed)} emails can be {what}"
        )


def queue(trail: Trail, email: m.OutboxEmail, reason: str) -> None:
    """A new email, written by the enqueuer, stored: it goes at its due time."""
    email.status = Status.QUEUED
    trail.repo.add_new(email)  # before the audit line, which names the row's id
    trail.email("email_queued", email, reason)


def hold_for_review(trail: Trail, email: m.OutboxEmail, reason: str) -> None:
    _require(email, (Status.QUEUED,), "held for review")
    email.status = Status.REVIEW
    trail.email("email_review", email, reason)


def release(trail: Trail, email: m.OutboxEmail, why: str, *, arrived_at: datetime) -> None:
    """A reviewed draft goes: at its due time, or now when that has passed."""
    _require(email, (Status.REVIEW,), "released")
    # the time a person took to review is theirs: the agent's reaction starts with their answer
    email.ready_at = email.due_at if email.due_at > trail.at else arrived_at
    email.status, email.due_at = Status.QUEUED, max(email.due_at, trail.at)
    trail.email("email_released", email, f"{email.template}: {why}")


def withdraw(trail: Trail, email: m.OutboxEmail, why: str) -> None:
    """It never goes (cancelled in review, a no-show, no longer right when re-checked)."""
    _require(email, (Status.QUEUED, Status.REVIEW, Status.SENDING), "withdrawn")
    email.status, email.last_error = Status.WITHDRAWN, why
    trail.email("email_withdraw", email, f"{email.template}: {why}")


def cancel(trail: Trail, email: m.OutboxEmail, who: str) -> None:
    """A person withdraws a queued or failed email (`outbox cancel`)."""
    _require(email, (Status.QUEUED, Status.FAILED), "cancelled")
    email.status, email.last_error = Status.WITHDRAWN, f"cancelled by {who}"
    trail.email("email_withdraw", email, f"{email.template}: cancelled by {who}")


def requeue(trail: Trail, email: m.OutboxEmail, who: str) -> None:
    """A person sends a failed or withdrawn email again (`outbox retry`): attempts start over."""
    _require(email, (Status.FAILED, Status.WITHDRAWN), "retried")
    if email.approver_role and email.sent_at is None and email.status == Status.WITHDRAWN:
        # it goes only on its approvers' yes (docs/chat.md): nobody else may send it by retrying
        raise TransitionError(
            f"email {email.id} needs the approval of {email.approver_role}: only they can send it"
        )
    email.status, email.due_at, email.attempts, email.last_error = Status.QUEUED, trail.at, 0, ""
    trail.email("email_requeued", email, f"{email.template}: queued again by {who}")


def postpone(trail: Trail, email: m.OutboxEmail, reason: str, until: datetime) -> None:
    """Not now (a daily cap): the same email, later."""
    email.due_at = until
    trail.email("email_postpone", email, f"{email.template}: {reason}")


def claim(trail: Trail, email: m.OutboxEmail, worker: str, claim_seconds: float) -> None:
    """An attempt is recorded before the transport is called (exactly-once needs it; docs/outbox.md)."""
    _require(email, DUE, "sent")
    if email.status == Status.SENDING:
        # A crash came after a previous attempt was recorded and before its outcome was:
        # the server may have the email already. Same Message-ID, logged.
        trail.email(
            "email_resent",
            email,
            f"{email.template}: the last attempt's outcome is unknown; sending again with the same Message-ID",
            claimed_by=email.claimed_by,  # the worker that made that attempt
        )
    email.status = Status.SENDING
    email.attempts += 1
    email.first_attempt_at = email.first_attempt_at or trail.at
    if claim_seconds:
        email.claimed_by, email.claimed_until = worker, trail.at + timedelta(seconds=claim_seconds)


def delivered(trail: Trail, email: m.OutboxEmail, accepted: Sequence[str], via: str) -> None:
    """Some or all recipients took it (partly sent while others are deferred or refused)."""
    trail.email(
        "email_sent",
        email,
        f"sent {email.template} to {', '.join(accepted)} via {via}",
        message_id=email.message_id,
    )
    email.sent_at = email.sent_at or trail.at


def sent(email: m.OutboxEmail) -> None:
    """Every recipient who can be served was: done (its `email_sent` line was written on delivery)."""
    _require(email, (Status.SENDING,), "marked sent")
    email.status = Status.SENT


def retry(trail: Trail, email: m.OutboxEmail, error: str, delay_seconds: float) -> None:
    """A temporary failure: queued again, later."""
    email.last_error = error
    email.status, email.due_at = Status.QUEUED, trail.at + timedelta(seconds=delay_seconds)
    trail.email(
        "email_retry",
        email,
        f"{email.template}: {error}; attempt {email.attempts + 1} in {delay_seconds:.0f} s",
    )


def fail(trail: Trail, email: m.OutboxEmail, error: str) -> None:
    """Given up on: a permanent refusal, or retries exhausted."""
    email.last_error = error
    email.status = Status.FAILED
    trail.email("email_failed", email, f"{email.template} after {email.attempts} attempts: {error}")
