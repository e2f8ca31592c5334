"""The client's plan: their open tasks with due dates, the next call, and what was done since the last one.

At the cadence of the pipeline's `client_plan` (`every: 1 week`), to the contacts in its `to`
roles, in the client's business hours (one keyed timer per deal and period, armed by
agent.handling.task_timing). Only while the deal is open: a deal in a final stage ends the
series. Never to a contact who opted out; nothing to say (no open task of theirs, no call ahead,
nothing done) sends nothing.
"""

from __future__ import annotations

from datetime import datetime

from agent.businesstime import local_day, spoken_day
from agent.domain import Address
from agent.handling.cause import Cause
from agent.handling.enqueue import Enqueuer
from agent.handling.local_time import LocalTime
from agent.handling.task_mail import names, people_in, reachable
from agent.handling.task_timing import PLAN, arm_cadence
from agent.pipeline.definition import Pipeline
from agent.pipeline.engine import Trigger
from agent.reports import progress
from agent.store import models as m
from agent.store.repo import Repo

PLAN_TEMPLATE = "client-plan"


class Plans:
    def __init__(self, pipelines: dict[str, Pipeline], enqueuer: Enqueuer, local: LocalTime) -> None:
        self.pipelines = pipelines
        self.enqueuer = enqueuer
        self.local = local

    def send(self, repo: Repo, timer: m.Timer, deal: m.Deal, cause: Cause, now: datetime) -> None:
        pipeline = self.pipelines.get(deal.pipeline)
        cadence = pipeline.head.client_plan if pipeline else None
        if pipeline is None or cadence is None:
            return  # the pipeline no longer has plans (rules reloaded): the series ends
        trail = cause.trail(repo, now).on(deal)
        if deal.stage in pipeline.final_stages:
            trail("client_plan_stopped", f"the deal is in {deal.stage}, a final stage: no more plans")
            return
        reach = self.local.client(deal)
        opening = reach.next_open(now)
        if opening > now:  # fired outside the client's business hours (the agent was down)
            timer.fired_at, timer.due_at = None, opening
            return
        start = datetime.fromisoformat(str(timer.payload["since"]))
        arm_cadence(repo, deal, PLAN, cadence, reach, since=now)
        people: dict[Address, None] = {}
        for role in cadence.to:
            people.update(dict.fromkeys(people_in(deal, pipeline, role)))
        to, opted = reachable(repo, tuple(people))
        if opted:
            trail("recipient_opted_out", f"{PLAN_TEMPLATE} never goes to {names(opted)}: opted out")
        done = progress.since(repo, deal, pipeline, start, now, reach.tz, client=True)
        ahead = progress.ahead(repo, deal, pipeline, now, reach.tz)
        if not to or not (ahead["tasks"] or ahead["meeting"] or any(done.values())):
            why = f"none of {', '.join(cadence.to)} can be written to" if not to else "nothing to say"
            trail("client_plan_skipped", f"{why} (since {start.isoformat()})")
            return
        self.enqueuer.queue_email(
            repo,
            deal,
            PLAN_TEMPLATE,
            to,
            (),
            due=now,
            rule="",
            reason=f"the client's plan (client_plan: every {cadence.every})",
            cause=cause,
            trigger=Trigger(PLAN, start.isoformat()),
            now=now,
            extra={"plan": {**ahead, "done": done, "since": spoken_day(local_day(start, reach.tz))}},
        )
