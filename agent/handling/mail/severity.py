"""Mail that tells about an issue's severity: a person's answer to "confirm this issue's severity"."""

from __future__ import annotations

from agent.domain import Address
from agent.handling.issues import Issues
from agent.handling.mail.pipeline import MailItem, Passed, Took
from agent.handling.mail.replies import answered_request


class SeverityAnswer:
    """Only the people asked may confirm or correct it (the CSM team lead, by the shipped rules)."""

    name = "severity answer"

    def __init__(self, issues: Issues) -> None:
        self.issues = issues

    def __call__(self, item: MailItem) -> Took | Passed:
        request = answered_request(item)
        if isinstance(request, Passed):
            return request
        if request.about_issue_id is None:
            return Passed("answers a request that is not about an issue's severity")
        item.log_message(request.deal_id, "internal", "ignored", "an answer about an issue's severity")
        if item.sender not in {a["email"] for a in request.to}:
            item.trail(
                "severity_refused",
                f"{item.sender} answered about issue {request.about_issue_id}, asked of {request.to[0]['email']}",
            )
            return Took("an answer about an issue's severity, from someone not asked")
        person = item.msg.sender or Address(item.sender)
        self.issues.answer(item.repo, request, item.msg.text, person, item.cause, item.now)
        return Took(f"{item.sender} answered about issue {request.about_issue_id}'s severity")
