"""Review before sending: a draft goes to the Responsible person, whose reply decides it.

They reply "send" (it goes as it is), "cancel" (it never goes), or with their
own text, which is what goes out. With no answer by the deadline, the draft is
sent or dropped, as `[review] on_timeout` says. Which templates are reviewed is
configured per template and per CSM (`[review]`); the recap is reviewed by
default, the survey is not.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from agent import deals
from agent.domain import Address
from agent.outbox.compose import subject_tag
from agent.pipeline.engine import Trigger
from agent.store import models as m
from agent.store.repo import Repo

if TYPE_CHECKING:
    from agent.processor import Cause, Processor

SEND_WORDS = {"send", "ok", "okay", "yes", "approve", "approved", "go"}
CANCEL_WORDS = {"cancel", "drop", "don't", "dont", "stop"}


class Reviews:
    def __init__(self, processor: Processor) -> None:
        self.p = processor

    def hold(self, repo: Repo, deal: m.Deal, draft: m.OutboxEmail, cause: Cause, now: datetime) -> bool:
        """Hold the draft for review when its template needs it on this deal; True when held."""
        settings = self.p.config.review
        csm = next((r.email for r in deal.roles if r.role == "csm"), "")
        if not settings.needs_review(draft.template, csm):
            return False
        raci = deals.raci(repo, deal)
        reviewers = tuple(
            Address(r.email, r.name) for r in deal.roles if r.role in (raci.responsible or ("csm",))
        )
        if not reviewers:
            return False
        deadline = now + timedelta(hours=settings.answer_within_hours)
        draft.status = "review"
        extra = {
            "draft": {
                "subject": draft.subject.replace(f" {subject_tag(deal.token)}", ""),
                "text": draft.body_text,
                "to": ", ".join(a["email"] for a in draft.to),
                "cc": ", ".join(a["email"] for a in draft.cc),
                "deadline": deadline.astimezone().strftime("%A %-d %B %H:%M %Z"),
                "on_timeout": settings.on_timeout,
            }
        }
        self.p.queue_email(
            repo,
            deal,
            "review-request",
            reviewers,
            (),
            due=now,
            rule=draft.rule,
            reason=f"{draft.template} needs a review before it goes",
            cause=cause,
            trigger=Trigger("review", str(draft.id)),
            now=now,
            extra=extra,
            review_of=draft.id,
        )
        repo.add_timer(f"review:{draft.id}", "review_timeout", deadline, deal.id, {"outbox_id": draft.id})
        repo.audit(
            now,
            "email_review",
            deal_id=deal.id,
            event_id=cause.event_id,
            rule=draft.rule,
            reason=f"{draft.template} waits for {', '.join(a.email for a in reviewers)} until "
            f"{deadline.isoformat()}",
            outbox_id=draft.id,
        )
        return True

    def answer(
        self, repo: Repo, draft: m.OutboxEmail, reply: str, who: str, cause: Cause, now: datetime
    ) -> None:
        """The reviewer's reply: "send", "cancel", or the text to send instead."""
        if draft.status != "review":
            repo.audit(
                now,
                "review_late",
                deal_id=draft.deal_id,
                event_id=cause.event_id,
                reason=f"{who} answered, but the {draft.template} email is already {draft.status}",
                outbox_id=draft.id,
            )
            return
        words = reply.strip().split()
        first = words[0].strip(".,!:").lower() if words else ""
        if first in SEND_WORDS and len(words) <= 3:
            self._release(repo, draft, now, f"approved by {who}", cause)
        elif first in CANCEL_WORDS and len(words) <= 3:
            self._drop(repo, draft, now, f"cancelled by {who} in review", cause)
        elif reply.strip():
            draft.body_text = reply.strip() + "\n"
            draft.body_html = text_to_html(reply.strip())
            self._release(repo, draft, now, f"edited by {who} in review", cause)

    def timeout(self, repo: Repo, draft_id: int, cause: Cause, now: datetime) -> None:
        draft = repo.outbox(draft_id)
        if draft is None or draft.status != "review":
            return  # answered in time
        if self.p.config.review.on_timeout == "send":
            self._release(repo, draft, now, "nobody answered the review in time", cause)
        else:
            self._drop(repo, draft, now, "nobody answered the review in time", cause)

    @staticmethod
    def _drop(repo: Repo, draft: m.OutboxEmail, now: datetime, why: str, cause: Cause) -> None:
        draft.status, draft.last_error = "withdrawn", why
        repo.audit(
            now,
            "email_withdraw",
            deal_id=draft.deal_id,
            event_id=cause.event_id,
            rule=draft.rule,
            reason=f"{draft.template}: {why}",
            outbox_id=draft.id,
        )

    @staticmethod
    def _release(repo: Repo, draft: m.OutboxEmail, now: datetime, why: str, cause: Cause) -> None:
        # the time a person took to review is theirs: the agent's reaction starts with their answer
        draft.ready_at = draft.due_at if draft.due_at > now else cause.arrived_at
        draft.status, draft.due_at = "queued", max(draft.due_at, now)
        repo.audit(
            now,
            "email_released",
            deal_id=draft.deal_id,
            event_id=cause.event_id,
            rule=draft.rule,
            reason=f"{draft.template}: {why}",
            outbox_id=draft.id,
        )


def text_to_html(text: str) -> str:
    """A reviewer's plain text as the HTML part: paragraphs and line breaks kept, everything escaped."""
    paragraphs = [html.escape(p).replace("\n", "<br>\n") for p in text.split("\n\n") if p.strip()]
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f'<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"></head>\n<body>\n{body}\n</body>\n</html>\n'
