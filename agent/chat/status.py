"""A chat post's status, and every change of it: the one place that assigns one.

    queued ──claim──> sending ──posted──> sent
      ^                 │  ├──found────> sent     (after a crash: looked up by its key, not posted again)
      │                 │  ├──retry────> queued   (429, 5xx, no answer: later, with back-off)
      │                 │  ├──fail─────> failed   (a refusal trying again cannot fix; retries exhausted)
      │                 │  └──unknown──> unknown  (after a crash, on a service that cannot be asked)
      └──requeue── failed, unknown (a person, `chat retry`)
    queued ──withdraw──> withdrawn

`sending` means: an attempt is recorded and its outcome is not. The attempt is committed before
the HTTP call, so a post found in `sending` by a later flush is one whose process died mid-post
(or whose answer was lost): it may be in the channel already. Where the service can be asked
(the Slack Web API) it is looked up by its key; where it cannot (webhooks) it is never posted a
second time on a guess: it becomes `unknown` and a person is told (docs/chat.md).

Each transition writes its own audit line through the trail it is given, so a deal's history
says "posted to #escalation: Acme Health: critical issue reported".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from agent.store import models as m
from agent.store.audit import Trail


class Status(StrEnum):
    QUEUED = "queued"  # waiting for its due time
    SENDING = "sending"  # an attempt is recorded; its outcome is not (yet)
    SENT = "sent"
    FAILED = "failed"  # given up on: a permanent refusal, or retries exhausted
    UNKNOWN = "unknown"  # an attempt's outcome cannot be known (a webhook, after a crash): a person decides
    WITHDRAWN = "withdrawn"  # never to go


DUE = (Status.QUEUED, Status.SENDING)  # what a flush works on when its time has come
STUCK = (Status.FAILED, Status.UNKNOWN)  # what needs a person: `chat retry` queues it again


class TransitionError(ValueError):
    """A change the state machine does not allow (e.g. retrying a post that was sent)."""


def _require(post: m.ChatPost, allowed: tuple[Status, ...], what: str) -> None:
    if post.status not in allowed:
        raise TransitionError(
            f"chat post {post.id} is {post.status}; only {' or '.join(allowed)} posts can be {what}"
        )


def queue(trail: Trail, post: m.ChatPost, reason: str) -> None:
    """A new post stored: it goes at its due time (after the transaction that wrote it commits)."""
    post.status = Status.QUEUED
    post.created_at = post.created_at or trail.at
    post.due_at = post.due_at or trail.at
    trail.repo.add(post)  # before the audit line, which names the row's id
    trail.chat("chat_queued", post, f"for {post.channel}: {post.title}" + (f" ({reason})" if reason else ""))


def claim(trail: Trail, post: m.ChatPost, where: str, hold_seconds: float = 0.0) -> None:
    """An attempt is recorded before the service is called: after a crash the post is found in `sending`.

    `hold_seconds` (a store shared by several workers): the post is not due again before then,
    so that another worker does not take an attempt in flight for a crashed one.
    """
    _require(post, DUE, "posted")
    post.status = Status.SENDING
    post.attempts += 1
    post.first_attempt_at = post.first_attempt_at or trail.at
    if hold_seconds:
        post.due_at = trail.at + timedelta(seconds=hold_seconds)
    # the history must show when each attempt began: an `unknown` post is judged by it
    trail.chat("chat_attempt", post, f"posting to {where} (attempt {post.attempts}): {post.title}")


def posted(trail: Trail, post: m.ChatPost, where: str, remote_id: str, *, looked_up: bool = False) -> None:
    """The service took it. `looked_up`: an interrupted attempt was looked for first and was not there."""
    _require(post, (Status.SENDING,), "marked sent")
    post.status, post.remote_id, post.last_error = Status.SENT, remote_id, ""
    post.sent_at = trail.at
    note = " (the interrupted attempt was not there: posted once)" if looked_up else ""
    trail.chat("chat_posted", post, f"posted to {where}: {post.title}{note}", remote_id=remote_id)


def found(trail: Trail, post: m.ChatPost, where: str, remote_id: str) -> None:
    """An interrupted attempt had landed: the service shows the post under its key. Not posted again."""
    _require(post, (Status.SENDING,), "marked sent")
    post.status, post.remote_id, post.last_error = Status.SENT, remote_id, ""
    post.sent_at = trail.at
    trail.chat(
        "chat_posted",
        post,
        f"posted to {where}: {post.title} (found there after an interrupted attempt; not posted again)",
        remote_id=remote_id,
    )


def retry(trail: Trail, post: m.ChatPost, error: str, delay_seconds: float) -> None:
    """A temporary failure: queued again, later."""
    _require(post, (Status.SENDING,), "retried")
    post.last_error = error
    post.status, post.due_at = Status.QUEUED, trail.at + timedelta(seconds=delay_seconds)
    trail.chat(
        "chat_retry", post, f"{post.title}: {error}; attempt {post.attempts + 1} in {delay_seconds:.0f} s"
    )


def recheck(trail: Trail, post: m.ChatPost, error: str, delay_seconds: float) -> None:
    """No answer after the request went out, on a service that can be asked: it stays `sending`,
    so that the next attempt looks it up before posting (the request may have landed)."""
    _require(post, (Status.SENDING,), "looked up later")
    post.last_error = error
    post.due_at = trail.at + timedelta(seconds=delay_seconds)
    trail.chat(
        "chat_retry",
        post,
        f"{post.title}: {error}; looked up by its key, then posted if missing, in {delay_seconds:.0f} s",
    )


def fail(trail: Trail, post: m.ChatPost, error: str) -> None:
    """Given up on: a permanent refusal, a channel that cannot be resolved, or retries exhausted."""
    _require(post, (Status.QUEUED, Status.SENDING), "failed")
    post.last_error = error
    post.status = Status.FAILED
    trail.chat("chat_failed", post, f"{post.title}: not posted after {post.attempts} attempts: {error}")


def unknown(trail: Trail, post: m.ChatPost, where: str, why: str) -> None:
    """Its attempt may or may not have landed and the service cannot say: never posted again on a guess."""
    _require(post, (Status.SENDING,), "marked unknown")
    post.status, post.last_error = Status.UNKNOWN, why
    trail.chat(
        "chat_unknown",
        post,
        f"{post.title}: may or may not be in {where} ({why}); not posted again, the deal's people are told",
    )


def requeue(trail: Trail, post: m.ChatPost, who: str) -> None:
    """A person posts a failed or unknown post again (`chat retry`): attempts and the retry window start over."""
    _require(post, STUCK, "retried")
    post.status, post.due_at, post.attempts, post.last_error = Status.QUEUED, trail.at, 0, ""
    post.first_attempt_at = None  # retry_for_hours counts from the new first attempt
    trail.chat("chat_requeued", post, f"{post.title}: queued again by {who}")


def withdraw(trail: Trail, post: m.ChatPost, why: str) -> None:
    """It never goes (its deal is gone, a person cancelled it)."""
    _require(post, (Status.QUEUED, *STUCK), "withdrawn")
    post.status, post.last_error = Status.WITHDRAWN, why
    trail.chat("chat_withdrawn", post, f"{post.title}: {why}")


def gave_up(post: m.ChatPost, now: datetime, retry_for_hours: float) -> bool:
    """Whether a post's retries are exhausted: as long after its first attempt as the config allows."""
    started = post.first_attempt_at or now
    return now - started >= timedelta(hours=retry_for_hours)
