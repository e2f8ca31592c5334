"""Replies to the agent's own emails: an answer to "which deal?", and a reviewer's answer to a draft.

Only a verified one of ours may answer (the commands step decides that).
"""

from __future__ import annotations

from agent.handling.assign import Assigner
from agent.handling.mail.pipeline import MailItem, Passed, Took
from agent.handling.reviews import Reviews

NONE_WORDS = ("none", "ignore", "neither")


class QuestionAnswer:
    """ "2" ties the held message or meeting to option 2; "none" lets it go."""

    name = "question answer"

    def __init__(self, assigner: Assigner) -> None:
        self.assigner = assigner

    def __call__(self, item: MailItem) -> Took | Passed:
        if item.commands is None:
            return Passed("not from a verified one of ours")
        msg, repo = item.msg, item.repo
        question = repo.question_in_thread([i for i in (msg.in_reply_to, *msg.references) if i])
        if question is None:
            return Passed("answers none of the agent's questions")
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
        words = msg.new_text.strip().split()
        first = words[0].strip(".:)#").lower() if words else ""
        chosen = int(first) if first.isdigit() and 1 <= int(first) <= len(candidates) else 0
        deal = repo.deal(int(candidates[chosen - 1])) if chosen else None
        if deal is not None and held_msg is not None:
            self.assigner.message(repo, held_msg, deal, item.cause, item.now, who)
        elif deal is not None and meeting is not None:
            self.assigner.meeting(repo, meeting, deal, item.cause, item.now, who)
        elif first in NONE_WORDS:
            if held_msg is not None:
                held_msg.status = "ignored"
            if meeting is not None:
                meeting.candidates = []
            item.trail("answer_none", f"{item.sender} said {what} is about none of the deals")
        else:
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
        if item.commands is None:
            return Passed("not from a verified one of ours")
        msg, repo = item.msg, item.repo
        request = repo.review_in_thread([i for i in (msg.in_reply_to, *msg.references) if i])
        if request is None or request.review_of is None:
            return Passed("answers none of the agent's review requests")
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
        self.reviews.answer(repo, draft, msg.new_text, item.sender, item.cause, item.now)
        return Took(f"{item.sender} answered the review of the {draft.template} email")
