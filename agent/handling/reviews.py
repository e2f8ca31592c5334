"""Answers to review requests: a draft goes to the Responsible person, whose reply decides it.

They reply "send" (it goes as it is), "cancel" (it never goes), or with their own text,
which is what goes out. With no answer by the deadline, the draft is sent or dropped, as
`[review] on_timeout` says. Which drafts are held is the enqueuer's decision (`[review]`).
"""

from __future__ import annotations

import html
from datetime import datetime

from agent.config import ReviewSection
from agent.handling.cause import Cause
from agent.outbox import status
from agent.store import models as m
from agent.store.repo import Repo

SEND_WORDS = {"send", "ok", "okay", "yes", "approve", "approved", "go"}
CANCEL_WORDS = {"cancel", "drop", "don't", "dont", "stop"}


class Reviews:
    def __init__(self, settings: ReviewSection) -> None:
        self.settings = settings

    def answer(
        self, repo: Repo, draft: m.OutboxEmail, reply: str, who: str, cause: Cause, now: datetime
    ) -> None:
        """The reviewer's reply: "send", "cancel", or the text to send instead."""
        trail = cause.trail(repo, now)
        if draft.status != status.Status.REVIEW:
            trail.email(
                "review_late",
                draft,
                f"{who} answered, but the {draft.template} email is already {draft.status}",
            )
            return
        words = reply.strip().split()
        first = words[0].strip(".,!:").lower() if words else ""
        if first in SEND_WORDS and len(words) <= 3:
            status.release(trail, draft, f"approved by {who}", arrived_at=cause.arrived_at)
        elif first in CANCEL_WORDS and len(words) <= 3:
            status.withdraw(trail, draft, f"cancelled by {who} in review")
        elif reply.strip():
            draft.body_text = reply.strip() + "\n"
            draft.body_html = text_to_html(reply.strip())
            status.release(trail, draft, f"edited by {who} in review", arrived_at=cause.arrived_at)

    def timeout(self, repo: Repo, draft_id: int, cause: Cause, now: datetime) -> None:
        draft = repo.outbox(draft_id)
        if draft is None or draft.status != status.Status.REVIEW:
            return  # answered in time
        trail = cause.trail(repo, now)
        if self.settings.on_timeout == "send":
            status.release(trail, draft, "nobody answered the review in time", arrived_at=cause.arrived_at)
        else:
            status.withdraw(trail, draft, "nobody answered the review in time")


def text_to_html(text: str) -> str:
    """A reviewer's plain text as the HTML part: paragraphs and line breaks kept, everything escaped."""
    paragraphs = [html.escape(p).replace("\n", "<br>\n") for p in text.split("\n\n") if p.strip()]
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f'<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"></head>\n<body>\n{body}\n</body>\n</html>\n'
