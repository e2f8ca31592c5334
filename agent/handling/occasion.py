"""What a rule's coordination action happens on: the deal, the rule that fired and why, the cause,
the time, and the issue the trigger is about; and a rule's message with its placeholders filled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agent.handling.cause import Cause
from agent.pipeline.engine import Firing, Trigger
from agent.store import models as m
from agent.store.repo import Repo

ISSUE_TRIGGERS = frozenset({"issue_reported", "severity_confirmed", "issue_updated"})


@dataclass(frozen=True)
class Occasion:
    repo: Repo
    deal: m.Deal
    firing: Firing
    trigger: Trigger
    cause: Cause
    now: datetime
    issue: m.Issue | None  # the issue the trigger is about (the one reported or changed last)

    @classmethod
    def of(
        cls, repo: Repo, deal: m.Deal, firing: Firing, trigger: Trigger, cause: Cause, now: datetime
    ) -> Occasion:
        issue = repo.latest_issue(deal.id) if trigger.kind in ISSUE_TRIGGERS else None
        return cls(repo, deal, firing, trigger, cause, now, issue)

    def trail(self, kind: str, reason: str) -> None:
        """An audit line on the deal, put down to the rule that fired."""
        self.cause.trail(self.repo, self.now).on(self.deal)(kind, reason, rule=self.firing.rule)

    def fill(self, message: str) -> str:
        return fill(message, self.deal, self.issue)


def fill(message: str, deal: m.Deal, issue: m.Issue | None) -> str:
    """A rule's message with {deal}, {severity} and {issue} filled in; other braces are left as written."""
    values = {
        "deal": deal.name,
        "severity": (issue.confirmed or issue.severity) if issue else "",
        "issue": issue.summary if issue else "",
    }
    out = message
    for k, v in values.items():
        out = out.replace("{" + k + "}", v)
    return out.strip()
