"""The digest emails, each once per person and period (the item's key makes it once):

- the unmatched-mail digest to `unmatched_notice_to`, once a day from 09:00;
- each CSM's daily list of deals that need them, on business days from `daily_at`;
- each Accountable person's weekly scorecard, on `weekly_on` from `weekly_at`;
- each Informed person's digest of a deal, at its pipeline's `informed` cadence (a deal's timer).

What goes in them is read by agent.reports (digests, progress); this module decides when, and queues.
"""

from __future__ import annotations

from datetime import datetime
from datetime import time as dt_time
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from agent.businesstime import BusinessCalendar, local_day, spoken_day
from agent.clock import Clock
from agent.config import Config
from agent.domain import Address
from agent.handling.cause import Cause, Process
from agent.handling.enqueue import Enqueuer
from agent.handling.local_time import LocalTime, Reach
from agent.handling.task_mail import names, people_in, reachable
from agent.handling.task_timing import INFORMED, arm_cadence
from agent.pipeline.definition import Pipeline
from agent.pipeline.engine import Trigger
from agent.reports import progress
from agent.reports.digests import accountable_emails, csm_day, csm_emails, week
from agent.store import models as m
from agent.store.repo import Repo

DIGEST_AT = dt_time(9, 0)  # the unmatched-mail digest goes out after this, local time
INFORMED_TEMPLATE = "informed-digest"


class Digests:
    def __init__(
        self,
        config: Config,
        sessions: sessionmaker[Session],
        process: Process,
        clock: Clock,
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.process = process
        self.clock = clock
        self.done: set[str] = set()  # "daily:<date>", "weekly:<week>" sent (or found sent) already

    def unmatched(self, enqueuer: Enqueuer) -> None:
        """Tell `unmatched_notice_to` what no deal claimed."""
        to = self.config.agent.unmatched_notice_to
        local = self._local()
        if not to or local.time() < DIGEST_AT:
            return
        day = local.date()
        key = f"digest:unmatched:{day.isoformat()}"
        with self.sessions.begin() as s:
            repo = Repo(s)
            if repo.event(key) is not None:
                return  # today's went out already
            waiting = [(x.id, x.subject, x.sender, x.received_at, x.match_reason) for x in repo.unmatched()]
        if not waiting:
            return
        digest = {
            "date": f"{day:%A} {day.day} {day:%B %Y}",
            "messages": [
                {
                    "id": i,
                    "subject": subject,
                    "sender": sender,
                    "reason": reason,
                    "received_at": f"{at.astimezone(local.tzinfo):%Y-%m-%d %H:%M}",
                }
                for i, subject, sender, at, reason in waiting
            ],
        }

        def work(repo: Repo, cause: Cause) -> str | None:
            enqueuer.queue_standalone(
                repo,
                "unmatched-digest",
                tuple(Address(a) for a in to),
                {"digest": digest},
                cause=cause,
                now=self.clock.now(),
                reason=f"{len(waiting)} messages matched no deal",
            )
            return None

        self.process(key, "timer", None, work)  # the key makes it once a day

    def people(self, enqueuer: Enqueuer, pipelines: dict[str, Pipeline], calendar: BusinessCalendar) -> None:
        """The CSMs' daily digest and the Accountable people's weekly scorecard, once per person and period."""
        settings = self.config.digests
        local = self._local()
        today, this_week = f"daily:{local.date()}", "weekly:{}-W{:02d}".format(*local.isocalendar()[:2])
        if (
            settings.daily
            and calendar.is_business_day(local.date())
            and f"{local:%H:%M}" >= settings.daily_at
            and today not in self.done
        ):
            self._daily(enqueuer, pipelines, local)
            self.done.add(today)  # each once a day: the next passes need not look again
        if (
            settings.weekly
            and local.strftime("%a").lower() == settings.weekly_on
            and f"{local:%H:%M}" >= settings.weekly_at
            and this_week not in self.done
        ):
            self._weekly(enqueuer, pipelines, local)
            self.done.add(this_week)

    def _daily(self, enqueuer: Enqueuer, pipelines: dict[str, Pipeline], local: datetime) -> None:
        with self.sessions.begin() as s:
            people = csm_emails(Repo(s), pipelines)
        for csm, name in sorted(people.items()):
            if csm in self.config.digests.off_for:
                continue

            def daily(repo: Repo, cause: Cause, csm: str = csm, name: str = name) -> str | None:
                items = csm_day(repo, pipelines, csm, self.clock.now())
                if any(items.values()):  # a digest of nothing is not sent
                    enqueuer.queue_standalone(
                        repo,
                        "csm-digest",
                        (Address(csm, name),),
                        {"digest": {"date": f"{local:%A %d %B %Y}", **items}},
                        cause=cause,
                        now=self.clock.now(),
                        reason="the daily digest of deals that need them",
                    )
                return None

            self.process(f"digest:csm:{csm}:{local.date().isoformat()}", "timer", None, daily)

    def _weekly(self, enqueuer: Enqueuer, pipelines: dict[str, Pipeline], local: datetime) -> None:
        year, number, _ = local.isocalendar()
        with self.sessions.begin() as s:
            people_deals = accountable_emails(Repo(s), pipelines)
        for (person, name), ids in sorted(people_deals.items()):
            if person in self.config.digests.off_for:
                continue

            def weekly(
                repo: Repo, cause: Cause, person: str = person, name: str = name, ids: set[int] = ids
            ) -> str | None:
                enqueuer.queue_standalone(
                    repo,
                    "weekly-scorecard",
                    (Address(person, name),),
                    {"scorecard": week(repo, pipelines, ids, self.clock.now())},
                    cause=cause,
                    now=self.clock.now(),
                    reason="the weekly scorecard of the deals they are accountable for",
                )
                return None

            self.process(f"digest:weekly:{person}:{year}-W{number:02d}", "timer", None, weekly)

    def _local(self) -> datetime:
        return self.clock.now().astimezone(ZoneInfo(self.config.agent.timezone))


class InformedDigests:
    """Each Informed person of a deal hears of its stage changes and completed tasks, at the cadence of
    its pipeline's `informed` (one keyed timer per deal and period, armed by agent.handling.task_timing).

    A period in which nothing happened sends nothing. Each person gets their own email in their
    own business hours; a client contact who opted out gets none. The deal's last digest, the
    one that tells it reached its final stage, ends the series.
    """

    def __init__(self, pipelines: dict[str, Pipeline], enqueuer: Enqueuer, local: LocalTime) -> None:
        self.pipelines = pipelines
        self.enqueuer = enqueuer
        self.local = local

    def send(self, repo: Repo, timer: m.Timer, deal: m.Deal, cause: Cause, now: datetime) -> None:
        pipeline = self.pipelines.get(deal.pipeline)
        cadence = pipeline.head.informed if pipeline else None
        if pipeline is None or cadence is None:
            return  # the pipeline no longer asks for digests (rules reloaded): the series ends
        reach = self.local.ours(deal)
        opening = reach.next_open(now)
        if opening > now:  # fired outside business hours (the agent was down): at the next opening
            timer.fired_at, timer.due_at = None, opening
            return
        start = datetime.fromisoformat(str(timer.payload["since"]))
        if deal.stage not in pipeline.final_stages:
            arm_cadence(repo, deal, INFORMED, cadence, reach, since=now)
        trail = cause.trail(repo, now).on(deal)
        readers: dict[Address, Reach] = {}
        for role in dict.fromkeys(i for t in repo.tasks(deal.id) for i in t.informed):
            to, opted = reachable(repo, people_in(deal, pipeline, role))
            if opted:
                trail("recipient_opted_out", f"{INFORMED_TEMPLATE} never goes to {names(opted)}: opted out")
            for person in to:
                readers.setdefault(person, self.local.of_role(deal, pipeline, role))
        news = progress.since(repo, deal, pipeline, start, now, reach.tz)
        if not readers or not (news["stages"] or news["tasks"]):
            why = "nobody is Informed on the deal" if not readers else "no stage change and no task done"
            trail("informed_digest_skipped", f"{why} since {start.isoformat()}")
            return
        for person, theirs in readers.items():
            told = (
                progress.since(repo, deal, pipeline, start, now, theirs.tz) if theirs.tz != reach.tz else news
            )
            self.enqueuer.queue_email(
                repo,
                deal,
                INFORMED_TEMPLATE,
                (person,),
                (),
                due=theirs.next_open(now),
                rule="",
                reason=f"what happened on the deal since {start.isoformat()} (informed: every {cadence.every})",
                cause=cause,
                trigger=Trigger(INFORMED, start.isoformat()),
                now=now,
                extra={"informed": {**told, "since": spoken_day(local_day(start, theirs.tz))}},
            )
