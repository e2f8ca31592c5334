"""A deal handed over by Sales: created and started by the rule runner, and its calls booked before it claimed."""

from __future__ import annotations

from datetime import datetime

from agent import deals
from agent.config import Config
from agent.handling import picks
from agent.handling.cause import Cause
from agent.handling.meetings import MeetingHandler
from agent.handling.runner import RuleRunner
from agent.store import models as m
from agent.store.repo import Repo


class HandOver:
    def __init__(self, config: Config, runner: RuleRunner, meetings: MeetingHandler) -> None:
        self.config = config
        self.runner = runner
        self.meetings = meetings

    def __call__(self, repo: Repo, spec: deals.DealSpec, cause: Cause, now: datetime) -> m.Deal:
        pipeline = self.runner.pipelines.get(spec.pipeline)
        spec, picked = picks.fill(self.config, spec, set(pipeline.internal_roles()) if pipeline else set())
        deal = self.runner.hand_over(repo, spec, cause, now, picked)
        # a CSM often books the kickoff before the hand-over: it is the deal's now, and watched
        self.meetings.claim_waiting(repo, deal, cause, now)
        return deal
