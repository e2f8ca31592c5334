"""Answers to review requests: a draft goes to the Responsible person, whose reply decides it.

The reply is read as a person would (agent.replies.review, forms in docs/replies.md): "send"
and its kin send the draft as it is, "cancel" and its kin drop it, an edit in one of its
documented forms ("Edit:" line, or the draft quoted back with changes) is what goes out
instead. Anything else is unclear: nothing is sent, and the reviewer is asked back in a notice
that is itself a review request of the same draft, so that answering it decides the draft.
A reviewer's own words reach a client only as an edit.

With no answer by the deadline, the draft is sent or dropped, as `[review] on_timeout` says;
after an unclear answer it is dropped: the reviewer had something to say about it.
Which drafts are held is the enqueuer's decision (`[review]`).
"""

from __future__ import annotations

import html
from datetime import datetime

from agent.config import ReviewSection
from agent.domain import Address
from agent.handling.cause import Cause
from agent.handling.enqueue import Enqueuer
from agent.handling.runner import RuleRunner
from agent.outbox import status
from agent.pipeline.engine import Trigger
from agent.replies.edits import draft_block
from agent.replies.intent import Intent
from agent.replies.review import Verdict, read_review
from agent.store import models as m
from agent.store.queries.addresses import OPT_OUT_CONFIRM
from agent.store.repo import Repo

ASK_BACK = "notice"  # the template of the question back; a review request of the draft like the first
QUOTED_MAX = 300  # characters of the reviewer's answer quoted back to them


class Reviews:
    def __init__(self, settings: ReviewSection, enqueuer: Enqueuer, runner: RuleRunner) -> None:
        self.settings = settings
        self.enqueuer = enqueuer
        self.runner = runner  # a person's yes is a trigger: `when: {email_approved: TEMPLATE}`

    def answer(
        self, repo: Repo, draft: m.OutboxEmail, text: str, reviewer: Address, cause: Cause, now: datetime
    ) -> None:
        """The reviewer's reply (its whole body, quotes included): send, cancel, an edit, or unclear."""
        trail = cause.trail(repo, now)
        who = reviewer.email
        if draft.status != status.Status.REVIEW:
            trail.email(
                "review_late",
                draft,
                f"{who} answered, but the {draft.template} email is already {draft.status}",
            )
            return
        # the draft as each request showed it, and as held now: a note on the call may have
        # rewritten it since, and quoting the old version back is no edit
        shown = [b for r in repo.requests_about(draft.id) if (b := draft_block(r.body_text)) is not None]
        verdict = read_review(text, [draft.body_text, *shown], reviewer.name)
        if verdict.intent is Intent.APPROVE:
            status.release(trail, draft, f"approved by {who}: {verdict.reason}", arrived_at=cause.arrived_at)
            self._approved(repo, draft, who, cause, now)
        elif verdict.intent is Intent.CANCEL:
            status.withdraw(trail, draft, f"cancelled by {who} in review: {verdict.reason}")
        elif verdict.intent is Intent.EDIT:
            draft.body_text = verdict.edit
            draft.body_html = text_to_html(verdict.edit.strip())
            status.release(
                trail, draft, f"edited by {who} in review ({verdict.reason})", arrived_at=cause.arrived_at
            )
            self._approved(repo, draft, f"{who} (edited)", cause, now)
        else:
            trail.email(
                "review_unclear",
                draft,
                f"{who} answered {_excerpt(verdict.said)!r}: {verdict.reason}; nothing sent, asked back",
            )
            self._ask_back(repo, draft, verdict, reviewer, cause, now)

    def _approved(self, repo: Repo, draft: m.OutboxEmail, who: str, cause: Cause, now: datetime) -> None:
        deal = repo.deal(draft.deal_id) if draft.deal_id is not None else None
        if deal is not None:
            detail = f"{who} approved the {draft.template} email"
            self.runner.dispatch(repo, deal, [Trigger("email_approved", draft.template, detail)], cause, now)

    def timeout(self, repo: Repo, draft_id: int, cause: Cause, now: datetime) -> None:
        draft = repo.outbox(draft_id)
        if draft is None or draft.status != status.Status.REVIEW:
            return  # answered in time
        trail = cause.trail(repo, now)
        if any(r.template == ASK_BACK for r in repo.requests_about(draft.id)):
            status.withdraw(trail, draft, "the reviewer's answer was unclear and no clear one came in time")
        elif self.settings.on_timeout == "send":
            status.release(trail, draft, "nobody answered the review in time", arrived_at=cause.arrived_at)
        else:
            status.withdraw(trail, draft, "nobody answered the review in time")

    def _ask_back(
        self,
        repo: Repo,
        draft: m.OutboxEmail,
        verdict: Verdict,
        reviewer: Address,
        cause: Cause,
        now: datetime,
    ) -> None:
        deal = repo.deal(draft.deal_id) if draft.deal_id is not None else None
        if deal is None:
            return
        to = ", ".join(a["email"] for a in draft.to)
        # a confirmation for contacts who opted out has no deadline: it waits for a person's answer
        confirming = any(r.template == OPT_OUT_CONFIRM for r in repo.requests_about(draft.id))
        what = "confirmation" if confirming else "review"
        until = (
            "Until a clear answer comes, it waits: nothing goes to the people who opted out."
            if confirming
            else "If no clear answer comes by the review's deadline, the draft is dropped, not sent."
        )
        message = (
            f"You answered the {what} of the {draft.template} email to {to} with:\n\n"
            f'  "{_excerpt(verdict.said) or "(nothing)"}"\n\n'
            f"I could not tell what you meant ({verdict.reason}), so nothing was sent. "
            "Please reply to this email with one of these:\n\n"
            '  "send" - it goes as it is (also: ok, looks good, go ahead, yes please; '
            "passt, bitte senden; ok pour moi, tu peux envoyer)\n"
            '  "cancel" - it never goes (also: don\'t send, stop; nicht senden; ne pas envoyer)\n'
            '  "Edit:" on a line of its own, and under it the whole text to send instead '
            "(or edit the draft between its draft lines in the review request, and send that back)\n\n"
            + until
        )
        question = self.enqueuer.notice(
            repo,
            deal,
            (reviewer,),
            cause,
            now,
            subject=f"Not sent: I could not tell what you meant about the {draft.template} email",
            message=message,
            trigger=Trigger("review", f"{draft.id} unclear"),
            reason=f"the answer to the review of the {draft.template} email was unclear",
            rule=draft.rule,
        )
        if question is not None:
            # A reply to the question back answers the review of this draft, exactly like a reply
            # to the first request; not a status, so outbox.status has no say in it.
            question.review_of = draft.id


def _excerpt(said: str) -> str:
    flat = " ".join(said.split())
    return flat if len(flat) <= QUOTED_MAX else flat[: QUOTED_MAX - 1] + "…"


def text_to_html(text: str) -> str:
    """A reviewer's plain text as the HTML part: paragraphs and line breaks kept, everything escaped."""
    paragraphs = [html.escape(p).replace("\n", "<br>\n") for p in text.split("\n\n") if p.strip()]
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f'<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"></head>\n<body>\n{body}\n</body>\n</html>\n'
