"""A rule's `confirm_severity`: the issue the trigger is about is put to a person (the CSM team lead),
and told again, with the CSM, if nobody answers; their reply is read by agent.handling.issues."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from agent.businesstime import BusinessCalendar
from agent.config import Config
from agent.domain import Address
from agent.handling.cause import Cause
from agent.handling.enqueue import Enqueuer
from agent.handling.occasion import Occasion
from agent.pipeline.actions import ConfirmSeverity
from agent.pipeline.engine import Trigger
from agent.store import models as m
from agent.store.repo import Repo

CONFIRM = "severity-confirm"  # the template asking a person to confirm an issue's severity
CONFIRM_WAIT = timedelta(hours=2)  # how long an issue's severity waits for its confirmation before a reminder
UNCONFIRMED = "severity_unconfirmed"  # the timer kind of that reminder


class SeverityChecks:
    def __init__(self, config: Config, enqueuer: Enqueuer, calendar: BusinessCalendar) -> None:
        self.config = config
        self.enqueuer = enqueuer
        self.calendar = calendar

    def confirm(self, at: Occasion, effect: ConfirmSeverity) -> None:
        issue, deal = at.issue, at.deal
        if issue is None:
            at.trail("issue_missing", "confirm_severity: no issue on the deal")
            return
        issue.status, issue.updated_at = "confirming", at.now
        ask(
            self.enqueuer,
            at.repo,
            deal,
            issue,
            effect.to,
            at.cause,
            at.now,
            rule=at.firing.rule,
            reason=at.firing.reason,
        )
        # a critical issue must not wait on an unread email: unanswered, the people are told again
        due = self.calendar.next_open(at.now + CONFIRM_WAIT, self.config.identity(deal.team).timezone)
        payload = {"issue_id": issue.id, "asked": [a.email for a in effect.to]}
        at.repo.add_timer(f"severity:{issue.id}", UNCONFIRMED, due, deal.id, payload)

    def unconfirmed(self, repo: Repo, timer: m.Timer, deal: m.Deal, cause: Cause, now: datetime) -> None:
        """The people asked to confirm an issue's severity have not answered: they and the CSM are told."""
        issue = repo.issue(int(timer.payload["issue_id"]))
        if issue is None or issue.confirmed or issue.status != "confirming":
            return  # answered in time
        asked = {str(e) for e in timer.payload.get("asked", [])}
        people = tuple(Address(r.email, r.name) for r in deal.roles if r.email in asked or r.role == "csm")
        self.enqueuer.notice(
            repo,
            deal,
            people,
            cause,
            now,
            subject=f"{deal.name}: a {issue.severity} issue waits for its severity to be confirmed",
            message=f"The {issue.kind} issue reported by {issue.reported_by or 'the client'} is read as "
            f"{issue.severity} and nobody has confirmed it yet, so the other department has not been told: "
            f"{issue.summary[:300]}\n\nReply to the earlier email with 'confirm' or the severity it is "
            f"({', '.join(asked)} were asked).",
            reason="an issue's severity not confirmed in time",
        )


def ask(
    enqueuer: Enqueuer,
    repo: Repo,
    deal: m.Deal,
    issue: m.Issue,
    to: tuple[Address, ...],
    cause: Cause,
    now: datetime,
    *,
    rule: str,
    reason: str,
    asked_back: dict[str, str] | None = None,
) -> None:
    """Ask `to` to confirm or correct the issue's severity; the reply answers this request."""
    email = enqueuer.queue_email(
        repo,
        deal,
        CONFIRM,
        to,
        (),
        due=now,
        rule=rule,
        reason=reason,
        cause=cause,
        trigger=Trigger("severity", f"{issue.id}:{asked_back['said'] if asked_back else ''}"),
        now=now,
        extra={"issue": issue_context(issue), "asked_back": asked_back or {"said": "", "reason": ""}},
    )
    if email is not None:
        email.about_issue_id = issue.id


def issue_context(issue: m.Issue | None) -> dict[str, Any]:
    """What the templates are told of an issue."""
    if issue is None:
        return {}
    return {
        "kind": issue.kind,
        "summary": issue.summary,
        "severity": issue.severity,
        "confirmed": issue.confirmed,
        "evidence": issue.evidence,
        "reported_by": issue.reported_by,
        "ticket": issue.ticket,
    }
