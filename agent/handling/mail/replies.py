"""Replies to the agent's own emails: an answer to "which deal?", and a reviewer's answer to a draft.

Only a verified one of ours may answer (the commands step decides that), and only in mail to
the agent itself: with the agent in Cc or Bcc, the mail is written to someone else. A reply
answers the exact request it replies to: the one named by In-Reply-To, else the nearest one
in References (`request_answered`), never any request of the conversation. What the person
wrote is read by agent.replies (quotes, footers and signatures aside).
"""

from __future__ import annotations

from agent.domain import Address
from agent.handling.assign import Assigner
from agent.handling.mail.pipeline import MailItem, Passed, Took
from agent.handling.reviews import Reviews
from agent.replies.choice import NONE, choice_of
from agent.store import models as m


def answered_request(item: MailItem) -> m.OutboxEmail | Passed:
    """The agent's request this mail answers, or why it answers none."""
    if item.commands is None:
        return Passed("not from a verified one of ours")
    if item.direction != "internal":
        return Passed("not written to the agent: answers nothing")
    request = item.repo.request_answered(item.msg.in_reply_to, item.msg.references)
    return request if request is not None else Passed("replies to none of the agent's requests")


class QuestionAnswer:
    """ "2" ties the held message or meeting to option 2; "none" lets it go."""

    name = "question answer"

    def __init__(self, assigner: Assigner) -> None:
        self.assigner = assigner

    def __call__(self, item: MailItem) -> Took | Passed:
        question = answered_request(item)
        if isinstance(question, Passed):
            return question
        if question.about_message_id is None and question.about_meeting_id is None:
            return Passed("answers a request that is not a question")
        repo = item.repo
        who = f"{item.sender} (answering the agent)"
        item.log_message(None, "internal", "ignored", "an answer to the agent's question")
        held_msg = repo.message(question.about_message_id) if question.about_message_id else None
        meeting = repo.meeting_by_id(question.about_meeting_id) if question.about_meeting_id else None
        if held_msg is not None and held_msg.status == "held":
            what, candidates = f"'{held_msg.subject}'", list(held_msg.candidates)
        elif meeting is not None and meeting.deal_id is None and meeting.candidates:
            what, candidates = f"meeting '{meeting.title}'", list(meeting.candidates)
        else:
            item.trail("answer_ignored", f"{item.sender} answered, but it was already decided")
            return Took("an answer to a question already decided")
        said = item.reading.reply.said
        chosen = choice_of(said, len(candidates))
        deal = repo.deal(int(candidates[chosen - 1])) if chosen else None
        if deal is not None and held_msg is not None:
            self.assigner.message(repo, held_msg, deal, item.cause, item.now, who)
        elif deal is not None and meeting is not None:
            self.assigner.meeting(repo, meeting, deal, item.cause, item.now, who)
        elif chosen == NONE:
            if held_msg is not None:
                held_msg.status = "ignored"
            if meeting is not None:
                meeting.candidates = []
            item.trail("answer_none", f"{item.sender} said {what} is about none of the deals")
        else:
            first = " ".join(said.split()[:8])
            item.trail(
                "answer_not_understood",
                f"{item.sender} answered {first!r}; expected a number 1-{len(candidates)} or 'none'",
            )
        return Took(f"an answer about {what}")


class ReviewAnswer:
    """Only the reviewers asked may decide the draft."""

    name = "review answer"

    def __init__(self, reviews: Reviews) -> None:
        self.reviews = reviews

    def __call__(self, item: MailItem) -> Took | Passed:
        request = answered_request(item)
        if isinstance(request, Passed):
            return request
        if request.review_of is None:
            return Passed("answers a request that is not a review")
        msg, repo = item.msg, item.repo
        draft = repo.outbox(request.review_of)
        item.log_message(request.deal_id, "internal", "ignored", "an answer to a review")
        if draft is None:
            return Took("an answer to a review of a draft that is gone")
        if item.sender not in {a["email"] for a in request.to}:
            item.trail.email(
                "review_refused",
                draft,
                f"{item.sender} answered a review that was asked of {request.to[0]['email']}",
            )
            return Took("an answer to a review, from someone not asked")
        reviewer = msg.sender or Address(item.sender)
        self.reviews.answer(repo, draft, msg.text, reviewer, item.cause, item.now)
        return Took(f"{item.sender} answered the review of the {draft.template} email")
