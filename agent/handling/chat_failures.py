"""A chat post that could not be posted, or may not have been: its text goes to the deal's Responsible
person by email, so that the news is not lost with the post (docs/chat.md)."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from agent.chat.services import where
from agent.chat.status import Status
from agent.clock import Clock
from agent.handling.cause import Cause, Process
from agent.handling.enqueue import Enqueuer
from agent.store import models as m
from agent.store.repo import Repo

log = logging.getLogger(__name__)
ENDINGS = ("chat_failed", "chat_unknown")  # the history lines after which a person is told


class ChatFailures:
    def __init__(
        self, enqueuer: Enqueuer, process: Process, clock: Clock, sessions: sessionmaker[Session]
    ) -> None:
        self.enqueuer = enqueuer
        self.process = process
        self.clock = clock
        self.sessions = sessions

    def __call__(self, post_id: int, error: str) -> None:
        """Tell once per ending: a post a person queued again (`chat retry`) that fails again is told again."""
        with self.sessions.begin() as s:
            repo = Repo(s)
            post = repo.chat_post(post_id)
            endings = sum(1 for a in repo.chat_history(post) if a.kind in ENDINGS) if post else 0

        def work(repo: Repo, cause: Cause) -> str | None:
            post = repo.chat_post(post_id)
            deal = repo.deal(post.deal_id) if post and post.deal_id else None
            if post is None or deal is None:
                log.warning("chat post %d is about no deal: nobody to tell (%s)", post_id, error)
                return None
            subject, message = notice(post, deal, error)
            self.enqueuer.notify_responsible(
                repo, deal, cause, self.clock.now(), subject=subject, message=message
            )
            return None

        self.process(f"chat-failure:{post_id}:{endings}", "timer", None, work)


def notice(post: m.ChatPost, deal: m.Deal, error: str) -> tuple[str, str]:
    """The subject and the message: what happened, what to do, and the post itself."""
    channel = where(post, deal)
    if post.status == Status.UNKNOWN:
        subject = f"{deal.name}: a chat message may not have reached {channel}"
        head = (
            f"This chat message may or may not have been posted to {channel} ({error}). It is not posted "
            "again on a guess, since that could show it twice. Please look in the channel: if it is not "
            f"there, `python -m agent chat retry {post.id}` posts it, or pass it on yourself."
        )
    else:
        subject = f"{deal.name}: a chat message could not be posted to {channel}"
        head = (
            f"This chat message could not be posted to {channel} ({error}). Once that is fixed, "
            f"`python -m agent chat retry {post.id}` posts it again."
        )
    facts = "\n".join(f"{label}: {value}" for label, value in post.facts or ())
    body = "\n\n".join(part for part in (post.title, post.text, facts, post.link) if part)
    return subject, f"{head}\n\nHere it is:\n\n{body}"
