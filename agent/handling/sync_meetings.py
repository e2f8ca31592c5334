"""A rule's `schedule_sync`: a meeting of two departments' people at the first free business-hours
slot the agent's calendar shows for them (else a proposed time), sent as an iTIP REQUEST and stored
as the deal's meeting, so that it counts as busy for the next one."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from agent.businesstime import BusinessCalendar
from agent.config import Config
from agent.domain import Address
from agent.handling.enqueue import Enqueuer
from agent.handling.free_slot import first_free, proposed
from agent.handling.occasion import Occasion
from agent.handling.severity_checks import issue_context
from agent.outbox.invitation import build_request
from agent.pipeline.actions import ScheduleSync
from agent.store import models as m

SYNC = "sync-meeting"  # the meeting type and the template of the invitation
HORIZON_DAYS = 14  # how far ahead a free slot is looked for (the invitation says so)
LEAD = timedelta(minutes=30)  # the earliest a sync meeting starts after it is decided


class SyncMeetings:
    def __init__(self, config: Config, enqueuer: Enqueuer, calendar: BusinessCalendar) -> None:
        self.config = config
        self.enqueuer = enqueuer
        self.calendar = calendar

    def schedule(self, at: Occasion, effect: ScheduleSync) -> None:
        repo, deal, issue, firing = at.repo, at.deal, at.issue, at.firing
        if len(effect.to) < 2:
            at.trail("sync_not_scheduled", f"nobody to meet: {', '.join(effect.unfilled)} unfilled")
            return
        agent = self.config.identity(deal.team)
        uid = f"{SYNC}-{deal.token}-{issue.id if issue else at.cause.event_id}@{agent.address.split('@')[-1]}"
        if repo.meeting(uid, "") is not None:
            return  # this sync meeting was sent already (the same issue, the item processed again)
        tz, after, minutes = agent.timezone, at.now + LEAD, effect.minutes
        emails = [a.email for a in effect.to]
        busy = repo.busy(emails, after, after + timedelta(days=HORIZON_DAYS))
        start = first_free(
            busy, after=after, minutes=minutes, calendar=self.calendar, tz=tz, horizon_days=HORIZON_DAYS
        )
        free = start is not None
        start = start or proposed(after, calendar=self.calendar, tz=tz)
        end = start + timedelta(minutes=minutes)
        title = at.fill(effect.title or "Hybrid account sync: {deal}")
        severity = issue and (issue.confirmed or issue.severity)
        about = f"{issue.kind} issue ({severity}): {issue.summary}" if issue else firing.reason
        ics = build_request(
            uid=uid,
            organizer=Address(agent.address, agent.name),
            attendees=effect.to,
            start=start,
            end=end,
            summary=title,
            description=f"{about}\n\nDeal: {deal.name}",
            now=at.now,
        )
        repo.add(
            m.Meeting(
                deal_id=deal.id,
                uid=uid,
                title=title,
                description=about,
                type=SYNC,
                start=start,
                end=end,
                status="scheduled",
                organizer=agent.address,
                attendees=[{"email": a.email, "name": a.name} for a in effect.to],
                match_reason=f"the agent scheduled it: {firing.reason}",
                source="agent",
            )
        )
        local = start.astimezone(ZoneInfo(tz))
        when = f"{local.strftime('%A %-d %B %Y, %H:%M')} ({tz})"
        sync = {
            "title": title,
            "when": when,
            "minutes": minutes,
            "free": free,
            "about": about,
            "days": HORIZON_DAYS,
        }
        email = self.enqueuer.queue_email(
            repo,
            deal,
            SYNC,
            effect.to,
            (),
            due=at.now,
            rule=firing.rule,
            reason=firing.reason,
            cause=at.cause,
            trigger=at.trigger,
            now=at.now,
            extra={"sync": sync, "issue": issue_context(issue)},
        )
        if email is not None:
            email.calendar_ics = ics
        if issue is not None:
            issue.status, issue.updated_at = "routed", at.now
        how = "the first free slot" if free else "a proposed time (no free slot seen)"
        at.trail("sync_scheduled", f"{title} at {start.isoformat()} ({how}) with {', '.join(emails)}")
