"""A due timer: a review's deadline, a meeting's end, time in stage, or the wait for a client's reply;
and the kinds of a deal's timers that other handlers own (`kinds`: a task's reminder, a digest...)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from agent.businesstime import BusinessCalendar
from agent.handling.cause import Cause
from agent.handling.meetings import MeetingHandler
from agent.handling.reviews import Reviews
from agent.handling.runner import RuleRunner
from agent.outbox.status import Status
from agent.pipeline.definition import Pipeline
from agent.pipeline.engine import Trigger
from agent.store import models as m
from agent.store.repo import Repo

LOOK_AGAIN = timedelta(hours=1)  # a nudge's email that has not gone yet is looked at again this much later
# A deal's timer of a kind another handler owns: it may re-arm the timer (fired_at None, a later due_at).
TimerKind = Callable[[Repo, m.Timer, m.Deal, Cause, datetime], None]


class TimerHandler:
    def __init__(
        self,
        pipelines: dict[str, Pipeline],
        calendar: BusinessCalendar,
        runner: RuleRunner,
        meetings: MeetingHandler,
        reviews: Reviews,
        kinds: Mapping[str, TimerKind] | None = None,
    ) -> None:
        self.pipelines = pipelines
        self.calendar = calendar
        self.runner = runner
        self.meetings = meetings
        self.reviews = reviews
        self.kinds = dict(kinds or {})

    def fire(self, repo: Repo, timer: m.Timer, cause: Cause, now: datetime) -> None:
        timer.fired_at = now
        p = timer.payload
        if timer.kind == "review_timeout":
            self.reviews.timeout(repo, int(p["outbox_id"]), cause, now)
        elif timer.kind == "meeting_end":
            self.meetings.held(repo, int(p["meeting_id"]), p["end"], cause, now)
        elif timer.deal_id is not None and (deal := repo.deal(timer.deal_id)) is not None:
            if timer.kind == "in_stage_for":
                self._in_stage(repo, deal, p, cause, now)
            elif timer.kind == "no_reply":
                self._no_reply(repo, deal, timer, cause, now)
            elif (handler := self.kinds.get(timer.kind)) is not None:
                handler(repo, timer, deal, cause, now)

    def _in_stage(self, repo: Repo, deal: m.Deal, p: dict[str, object], cause: Cause, now: datetime) -> None:
        visit = repo.open_visit(deal.id)
        if visit is not None and visit.id == p["visit"]:  # still the same stay in the stage
            since = f"in {deal.stage} since {visit.entered_at.isoformat()}"
            self.runner.dispatch(repo, deal, [Trigger("in_stage_for", str(p["rule"]), since)], cause, now)

    def _no_reply(self, repo: Repo, deal: m.Deal, timer: m.Timer, cause: Cause, now: datetime) -> None:
        p = timer.payload
        email = repo.outbox(int(p["outbox_id"]))
        if email is not None and email.status in (Status.QUEUED, Status.SENDING):
            # not sent yet (delayed or postponed): look again later; the wait starts when it goes
            timer.fired_at, timer.due_at = None, now + LOOK_AGAIN
            return
        if email is None or email.status != Status.SENT or email.sent_at is None:
            return
        rule = next((r for r in self.pipelines[deal.pipeline].rules if r.id == p["rule"]), None)
        if rule is None or rule.when.for_ is None:
            return  # the rule is gone (rules reloaded): nothing to nudge for
        wait_until = self.calendar.add(email.sent_at, rule.when.for_, deal.timezone)
        if now < wait_until:
            timer.fired_at, timer.due_at = None, wait_until  # sent later than queued: wait from the send
            return
        if not repo.client_message_since(deal.id, email.sent_at):
            detail = f"no reply to {email.template} sent {email.sent_at.isoformat()}"
            self.runner.dispatch(repo, deal, [Trigger("no_reply_to", p["rule"], detail)], cause, now)
