"""A deal handed over by Sales: created and started by the rule runner, and its calls booked before it claimed."""

from __future__ import annotations

from datetime import datetime

from agent import deals
from agent.handling.cause import Cause
from agent.handling.meetings import MeetingHandler
from agent.handling.runner import RuleRunner
from agent.store import models as m
from agent.store.repo import Repo


class HandOver:
    def __init__(self, runner: RuleRunner, meetings: MeetingHandler) -> None:
        self.runner = runner
        self.meetings = meetings

    def __call__(self, repo: Repo, spec: deals.DealSpec, cause: Cause, now: datetime) -> m.Deal:
        deal = self.runner.hand_over(repo, spec, cause, now)
        # a CSM often books the kickoff before the hand-over: it is the deal's now, and watched
        self.meetings.claim_waiting(repo, deal, cause, now)
        return deal
