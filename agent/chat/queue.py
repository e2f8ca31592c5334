"""Post what is due from the chat outbox: resolve the channel, record the attempt, post, record the result.

The same guarantees as the email outbox (agent/outbox/queue.py), and the same shape: each post
has its own transactions, so one bad post never holds up the others; the attempt is committed
*before* the service is called, and the result in a transaction of its own after it; a failing
store is re-raised (nothing was recorded, the pass is tried again), anything else fails that
post alone.

A post found `sending` at its next turn was interrupted (a crash, or an answer that never came):
it may be in the channel already. The Slack Web API is asked (by the post's key, since its first
attempt): found, it is marked sent; not found, it is posted. A webhook cannot be asked, so such a
post is never posted a second time on a guess: it becomes `unknown`, and `on_failure` has the
deal's Responsible person told, with the text, so that nothing is lost (docs/chat.md).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from sqlalchemy.orm import Session, sessionmaker

from agent.chat import status
from agent.chat.base import ChatError, ChatMessage, ChatService
from agent.chat.services import PRIVATE, ChatServices, NoRoute, Opening, Route, record_channel, route
from agent.chat.status import Status
from agent.clock import Clock
from agent.config import Config
from agent.store import models as m
from agent.store.audit import Trail
from agent.store.db import STORE_FAILURES
from agent.store.repo import Repo

log = logging.getLogger(__name__)
# Slack's timestamps are its clock's, the first attempt ours: a look-up reaches this far further back
LOOK_BACK = timedelta(minutes=10)


@dataclass
class ChatFlushResult:
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    postponed: int = 0
    held: int = 0  # dry run: resolved, not posted
    error: str = ""  # the last failure of this flush ("" when none): the part's health


@dataclass(frozen=True)
class Attempt:
    """What a claimed post needs outside its transaction."""

    post_id: int
    deal_id: int | None
    plan: Route | Opening
    service: ChatService
    message: ChatMessage
    interrupted: bool  # found `sending`: an earlier attempt's outcome is unknown
    since: datetime  # its first attempt


class ChatOutbox:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: Config,
        clock: Clock,
        services: ChatServices | None = None,
        on_failure: Callable[[int, str], None] | None = None,
        *,
        dry_run: bool = False,
        hold_seconds: float = 0.0,
    ) -> None:
        self.sessions = sessions
        self.config = config  # replaced on reload; the services stay, built per entry
        self.clock = clock
        self.services = services or ChatServices()
        self.on_failure = on_failure
        self.dry_run = dry_run
        # several workers on one store: a claimed post is not due again for this long, so that
        # another worker does not take an attempt in flight for an interrupted one
        self.hold_seconds = hold_seconds
        self.last_error = ""

    def flush(self, should_stop: Callable[[], bool] = lambda: False) -> ChatFlushResult:
        result = ChatFlushResult()
        with self.sessions.begin() as s:
            due = list(Repo(s).due_chat(self.clock.now()))
        for post_id in due:
            if should_stop():
                break
            try:
                attempt = self._claim(post_id, result)
                if attempt is not None:
                    self._attempt(attempt, result)
            except STORE_FAILURES:
                raise  # the database, not the post: nothing recorded, the pass is retried
            except Exception as exc:  # one post that cannot be built or posted must not hold up the others
                log.exception("chat post %d cannot be posted", post_id)
                self._failed(post_id, "", f"{type(exc).__name__}: {exc}", result, permanent=True)
        return result

    # --- before the call: one transaction -----------------------------------------------------
    def _claim(self, post_id: int, result: ChatFlushResult) -> Attempt | None:
        """The post resolved and its attempt recorded (committed on return); None: nothing to call."""
        now = self.clock.now()
        tell, attempt = "", None
        with self.sessions.begin() as s:
            repo = Repo(s)
            post = repo.claim_chat(post_id)  # locked until this transaction ends; None: another has it
            if post is None or post.status not in status.DUE or post.due_at > now:
                return None  # taken by another worker, or rescheduled since the list was read
            trail = Trail(repo, now)
            deal = repo.deal(post.deal_id) if post.deal_id else None
            try:
                plan = route(self.config.chat, post.channel, deal, namesake=_namesake(repo, deal))
            except NoRoute as exc:
                status.fail(trail, post, str(exc))
                result.failed, result.error, tell = result.failed + 1, str(exc), str(exc)
                plan = None
            if plan is not None:
                service = self.services(plan.entry)
                interrupted = post.status == Status.SENDING
                if self.dry_run:
                    log.info("dry run: would post to %s: %s", plan.where, post.title)
                    result.held += 1
                    return None
                if interrupted and isinstance(plan, Route) and not service.can_look_up:
                    tell = (
                        f"the agent stopped while posting it, and a {service.kind} webhook cannot be asked "
                        "whether it arrived"
                    )
                    status.unknown(trail, post, plan.where, tell)
                    result.unknown, result.error = result.unknown + 1, tell
                else:
                    status.claim(trail, post, plan.where, self.hold_seconds)
                    assert post.first_attempt_at is not None
                    attempt = Attempt(
                        post.id,
                        post.deal_id,
                        plan,
                        service,
                        _message(post, deal),
                        # a deal channel not yet recorded had no post: its creation comes before
                        interrupted and isinstance(plan, Route),
                        post.first_attempt_at,
                    )
        if tell:
            self.last_error = tell
            self._report(post_id, tell)
            return None
        return attempt

    # --- the calls, outside any transaction ---------------------------------------------------
    def _attempt(self, a: Attempt, result: ChatFlushResult) -> None:
        where = a.plan.where
        try:
            target = self._open(a, a.plan) if isinstance(a.plan, Opening) else a.plan
            if a.interrupted:  # the service can be asked (a webhook's became `unknown` at the claim)
                hit = a.service.look_up(target.channel, a.message.key, a.since - LOOK_BACK)
                if hit is not None:
                    self._record(a.post_id, lambda t, p: status.found(t, p, where, hit.remote_id))
                    result.sent += 1
                    return
            posted = a.service.post(target.channel, a.message)
        except ChatError as exc:
            self._failed(
                a.post_id,
                where,
                str(exc),
                result,
                permanent=exc.permanent,
                retry_after=exc.retry_after,
                maybe_landed=_maybe_landed(exc),
                can_look_up=a.service.can_look_up,
            )
            return
        self._record(
            a.post_id, lambda t, p: status.posted(t, p, where, posted.remote_id, looked_up=a.interrupted)
        )
        result.sent += 1

    def _open(self, a: Attempt, opening: Opening) -> Route:
        """Create the deal's channel, invite its people, and record it on the deal before posting to it.

        Creating is safe to repeat (a taken name gives the channel made before), so a crash or a
        failure before the record only creates nothing twice.
        """
        channel_id = a.service.create_channel(opening.name, private=PRIVATE)
        missing: list[str] = []
        trouble = ""
        if opening.invite:
            try:
                missing = a.service.invite(channel_id, opening.invite)
            except ChatError as exc:
                if not exc.permanent:
                    raise  # all again later: the channel is found, the invitations repeated
                trouble = str(exc)  # the post still goes; the people can be added by hand
        with self.sessions.begin() as s:
            repo = Repo(s)
            deal, post = repo.deal(a.deal_id or 0), repo.chat_post(a.post_id)
            assert deal is not None and post is not None
            record_channel(deal, opening, channel_id)
            invited = [e for e in opening.invite if e not in missing] if not trouble else []
            reason = f"opened {opening.where} for the deal ({opening.purpose})"
            reason += f"; invited {', '.join(invited)}" if invited else ""
            reason += f"; no Slack user for {', '.join(missing)}" if missing else ""
            reason += f"; could not invite {', '.join(opening.invite)}: {trouble}" if trouble else ""
            Trail(repo, self.clock.now()).chat(
                "chat_channel_created", post, reason, channel_id=channel_id, not_in_slack=missing
            )
        log.info("chat: %s", reason)
        return Route(opening.entry, channel_id, opening.where)

    # --- after the call: one transaction ------------------------------------------------------
    def _record(self, post_id: int, change: Callable[[Trail, m.ChatPost], None]) -> None:
        with self.sessions.begin() as s:
            repo = Repo(s)
            post = repo.chat_post(post_id)
            assert post is not None
            change(Trail(repo, self.clock.now()), post)

    def _failed(
        self,
        post_id: int,
        where: str,
        error: str,
        result: ChatFlushResult,
        *,
        permanent: bool,
        retry_after: float = 0.0,
        maybe_landed: bool = False,
        can_look_up: bool = False,
    ) -> None:
        now = self.clock.now()
        settings = self.config.chat
        tell = ""
        with self.sessions.begin() as s:
            repo = Repo(s)
            trail = Trail(repo, now)
            post = repo.chat_post(post_id)
            if post is None or post.status not in status.DUE:
                log.warning("chat post %d: %s (left %s)", post_id, error, post.status if post else "gone")
                return
            if permanent or status.gave_up(post, now, settings.retry_for_hours):
                status.fail(trail, post, error)
                result.failed, tell = result.failed + 1, error
            elif maybe_landed and not can_look_up:
                tell = f"{error}; a webhook cannot be asked whether it arrived"
                status.unknown(trail, post, where or f"#{post.channel}", tell)
                result.unknown += 1
            else:
                # the service's own wait when it named one (429 Retry-After), else doubling back-off
                # with jitter, so that a flapping service is not hammered in lockstep
                delay = retry_after or min(
                    settings.retry_max_seconds, settings.retry_base_seconds * 2 ** max(0, post.attempts - 1)
                ) * random.uniform(0.8, 1.2)
                # no answer from a service that can be asked: stays `sending`, looked up before posting
                (status.recheck if maybe_landed else status.retry)(trail, post, error, delay)
                result.postponed += 1
        log.warning("chat post %d to %s failed: %s", post_id, where or "its channel", error)
        self.last_error = result.error = error
        if tell:
            self._report(post_id, tell)

    def _report(self, post_id: int, error: str) -> None:
        """A failed or unknown post: the deal's Responsible person is told, with its text (the callback)."""
        if self.on_failure is not None:
            self.on_failure(post_id, error)


def _message(post: m.ChatPost, deal: m.Deal | None) -> ChatMessage:
    return ChatMessage(
        key=post.idempotency_key,
        title=post.title,
        text=post.text,
        deal=deal.name if deal is not None else "",
        link=post.link,
        facts=tuple((str(label), str(value)) for label, value in post.facts or ()),
    )


def _namesake(repo: Repo, deal: m.Deal | None) -> bool:
    """Whether an older deal has this deal's name: their own channels must not share a name."""
    return deal is not None and repo.older_namesake(deal)


def _maybe_landed(exc: ChatError) -> bool:
    """The request went out and no answer came back (a read timeout): the service may have taken it.

    Other failures without an answer (refused, reset, a name that does not resolve) are retried:
    a connection that never opened carried nothing.
    """
    return not exc.permanent and exc.status == 0 and isinstance(exc.__context__, requests.ReadTimeout)
