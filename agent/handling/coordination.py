"""The coordination work two departments do by hand (seeds/004), done by the rules' actions.

- `chat`: a post to a configured chat channel, or to the deal's own one; stored as a chat
  post and sent by the chat outbox (agent.chat.queue) with the email outbox's guarantees.
  A channel nobody configured is not a reason to lose the news: the deal's Responsible
  person gets it by email instead, and the audit trail says why.
- `open_channel`: the deal's own channel for a purpose (escalation, ...) with the roles'
  people in it; created by the chat outbox when it first posts there (network work never
  runs inside the item's transaction).
- `confirm_severity`: the issue the trigger is about is put to a person (the CSM team
  lead); their reply confirms or corrects it (agent.handling.issues).
- `schedule_sync`: a sync meeting at the first free business-hours slot the calendar shows
  for its people, sent as an iTIP REQUEST; stored as the deal's meeting.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agent.businesstime import BusinessCalendar
from agent.chat import status as chat_status
from agent.config import Config
from agent.domain import Address
from agent.handling.cause import Cause
from agent.handling.enqueue import Enqueuer
from agent.handling.free_slot import first_free, proposed
from agent.outbox.invitation import build_request
from agent.pipeline.actions import ConfirmSeverity, Coordination, OpenChannel, PostChat, ScheduleSync
from agent.pipeline.definition import Pipeline
from agent.pipeline.engine import Firing, Trigger
from agent.store import models as m
from agent.store.repo import Repo

DEAL_CHANNEL = "deal"  # a rule's name for the deal's own channel
SYNC = "sync-meeting"  # the meeting type and the template of the invitation
CONFIRM = "severity-confirm"  # the template asking a person to confirm an issue's severity
HORIZON_DAYS = 14  # how far ahead a free slot for a sync meeting is looked for (the invitation says so)
LEAD = timedelta(minutes=30)  # the earliest a sync meeting starts after it is decided
CONFIRM_WAIT = timedelta(hours=2)  # how long an issue's severity waits for its confirmation before a reminder
UNCONFIRMED = "severity_unconfirmed"  # the timer kind of that reminder
ISSUE_TRIGGERS = frozenset({"issue_reported", "severity_confirmed", "issue_updated"})


class Coordinator:
    def __init__(
        self, config: Config, pipelines: dict[str, Pipeline], enqueuer: Enqueuer, calendar: BusinessCalendar
    ) -> None:
        self.config = config
        self.pipelines = pipelines
        self.enqueuer = enqueuer
        self.calendar = calendar

    def apply(
        self,
        repo: Repo,
        deal: m.Deal,
        effect: Coordination,
        firing: Firing,
        trigger: Trigger,
        cause: Cause,
        now: datetime,
    ) -> None:
        issue = repo.latest_issue(deal.id) if trigger.kind in ISSUE_TRIGGERS else None
        if isinstance(effect, PostChat):
            for name in effect.channels:
                self._post(repo, deal, name, effect.message, firing, trigger, cause, now, issue)
        elif isinstance(effect, OpenChannel):
            self._open(repo, deal, effect, firing, trigger, cause, now, issue)
        elif isinstance(effect, ConfirmSeverity):
            self._confirm(repo, deal, effect, firing, trigger, cause, now, issue)
        else:
            self._sync(repo, deal, effect, firing, trigger, cause, now, issue)

    def words(self, repo: Repo, deal: m.Deal, trigger: Trigger, message: str) -> str:
        """A rule's message with {deal}, {severity} and {issue} filled in (a notify's, as a post's)."""
        issue = repo.latest_issue(deal.id) if trigger.kind in ISSUE_TRIGGERS and "{" in message else None
        return _fill(message, deal, issue)

    # --- chat ------------------------------------------------------------------------------
    def _post(
        self,
        repo: Repo,
        deal: m.Deal,
        name: str,
        message: str,
        firing: Firing,
        trigger: Trigger,
        cause: Cause,
        now: datetime,
        issue: m.Issue | None,
    ) -> None:
        trail = cause.trail(repo, now).on(deal)
        channel = self._channel(deal, name)
        text = _fill(message, deal, issue) or firing.reason
        title = f"{deal.name}: {text.splitlines()[0][:140]}"
        if channel is None:
            trail(
                "chat_not_configured",
                f"no chat channel {name!r} is configured: told by email",
                rule=firing.rule,
            )
            self.enqueuer.notify_responsible(
                repo,
                deal,
                cause,
                now,
                subject=title,
                message=f"{text}\n\n(For chat channel {name}: {firing.reason})",
            )
            return
        key = _key(f"chat|{cause.key}|{deal.id}|{firing.rule}|{channel}|{text}")
        if repo.chat_post_by_key(key) is not None:
            return  # this cause posted it already (the item is being processed again)
        post = m.ChatPost(
            deal_id=deal.id,
            channel=channel,
            idempotency_key=key,
            title=title,
            text=f"{text}\n{firing.reason}" if text != firing.reason else text,
            facts=self._facts(repo, deal, issue),
            link=self._link(deal),
            due_at=now,
            created_at=now,
            attempts=0,
            last_error="",
            remote_id="",
            rule=firing.rule,
        )
        chat_status.queue(cause.trail(repo, now), post, "")

    def _channel(self, deal: m.Deal, name: str) -> str | None:
        """What a chat post's `channel` holds for a rule's name; None when nothing can carry it."""
        chat = self.config.chat
        own = deal.chat_channels.get(name, {})
        if (name == DEAL_CHANNEL or name in deal.chat_channels) and (chat.deal_channels or own.get("id")):
            return f"deal:{name}"  # the chat outbox creates it on its first post, if it must
        return name if chat.channel(name, deal.team) else None

    def _facts(self, repo: Repo, deal: m.Deal, issue: m.Issue | None) -> list[list[str]]:
        pipeline = self.pipelines.get(deal.pipeline)
        stage = pipeline.stage(deal.stage).name if pipeline and pipeline.has_stage(deal.stage) else deal.stage
        facts = [["Stage", stage]]
        csm = [r.name or r.email for r in deal.roles if r.role == "csm"]
        if csm:
            facts.append(["CSM", ", ".join(csm)])
        if issue is not None:
            facts.append(["Issue", f"{issue.kind}: {issue.summary[:200]}"])
            facts.append(["Severity", issue.confirmed or f"{issue.severity} (not confirmed yet)"])
            if issue.reported_by:
                facts.append(["Reported by", issue.reported_by])
            if issue.ticket:
                facts.append(["Ticket", issue.ticket])
        return facts

    def _link(self, deal: m.Deal) -> str:
        root = self.config.chat.dashboard_url.rstrip("/")
        return f"{root}/deals/{deal.id}" if root else ""

    def _open(
        self,
        repo: Repo,
        deal: m.Deal,
        effect: OpenChannel,
        firing: Firing,
        trigger: Trigger,
        cause: Cause,
        now: datetime,
        issue: m.Issue | None,
    ) -> None:
        trail = cause.trail(repo, now).on(deal)
        if effect.unfilled:
            trail(
                "recipients_missing",
                f"open_channel {effect.purpose}: nobody fills {', '.join(effect.unfilled)}",
            )
        people = [a.email for a in effect.invite]
        known = dict(deal.chat_channels.get(effect.purpose, {}))
        known["invite"] = sorted({*known.get("invite", []), *people})
        deal.chat_channels = {**deal.chat_channels, effect.purpose: known}  # a new dict: the ORM sees it
        trail(
            "chat_channel_opened",
            f"{effect.purpose} channel with {', '.join(people) or 'nobody'}",
            rule=firing.rule,
        )
        message = effect.message or f"The {effect.purpose} channel for {{deal}}: " + ", ".join(
            a.name or a.email for a in effect.invite
        )
        if self._channel(deal, effect.purpose) is None:
            # nothing can create it: the people who should be in it are asked to, by email
            text = _fill(message, deal, issue)
            self.enqueuer.notice(
                repo,
                deal,
                effect.invite,
                cause,
                now,
                subject=f"{deal.name}: please open a {effect.purpose} channel",
                message=f"{text}\n\nNo chat service is set up to open it; please open it with "
                f"{', '.join(people)}. ({firing.reason})",
                trigger=trigger,
            )
            return
        self._post(repo, deal, effect.purpose, message, firing, trigger, cause, now, issue)

    # --- severity and the sync meeting ---------------------------------------------------------
    def _confirm(
        self,
        repo: Repo,
        deal: m.Deal,
        effect: ConfirmSeverity,
        firing: Firing,
        trigger: Trigger,
        cause: Cause,
        now: datetime,
        issue: m.Issue | None,
    ) -> None:
        if issue is None:
            cause.trail(repo, now).on(deal)(
                "issue_missing", "confirm_severity: no issue on the deal", rule=firing.rule
            )
            return
        issue.status, issue.updated_at = "confirming", now
        ask(self.enqueuer, repo, deal, issue, effect.to, cause, now, rule=firing.rule, reason=firing.reason)
        # a critical issue must not wait on an unread email: unanswered, the people are told again
        tz = self.config.identity(deal.team).timezone
        due = self.calendar.next_open(now + CONFIRM_WAIT, tz)
        emails = [a.email for a in effect.to]
        repo.add_timer(
            f"severity:{issue.id}", UNCONFIRMED, due, deal.id, {"issue_id": issue.id, "asked": emails}
        )

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

    def _sync(
        self,
        repo: Repo,
        deal: m.Deal,
        effect: ScheduleSync,
        firing: Firing,
        trigger: Trigger,
        cause: Cause,
        now: datetime,
        issue: m.Issue | None,
    ) -> None:
        trail = cause.trail(repo, now).on(deal)
        if len(effect.to) < 2:
            trail(
                "sync_not_scheduled",
                f"nobody to meet: {', '.join(effect.unfilled)} unfilled",
                rule=firing.rule,
            )
            return
        tz = self.config.identity(deal.team).timezone
        after = now + LEAD
        minutes = effect.minutes
        emails = [a.email for a in effect.to]
        busy = repo.busy(emails, after, after + timedelta(days=HORIZON_DAYS))
        start = first_free(
            busy, after=after, minutes=minutes, calendar=self.calendar, tz=tz, horizon_days=HORIZON_DAYS
        )
        free = start is not None
        start = start or proposed(after, calendar=self.calendar, tz=tz)
        end = start + timedelta(minutes=minutes)
        title = _fill(effect.title or "Hybrid account sync: {deal}", deal, issue)
        about = (
            f"{issue.kind} issue ({issue.confirmed or issue.severity}): {issue.summary}"
            if issue
            else firing.reason
        )
        agent = self.config.identity(deal.team)
        uid = f"{SYNC}-{deal.token}-{issue.id if issue else cause.event_id}@{agent.address.split('@')[-1]}"
        if repo.meeting(uid, "") is not None:
            return  # this sync meeting was sent already (the same issue, the item processed again)
        ics = build_request(
            uid=uid,
            organizer=Address(agent.address, agent.name),
            attendees=effect.to,
            start=start,
            end=end,
            summary=title,
            description=f"{about}\n\nDeal: {deal.name}",
            now=now,
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
            due=now,
            rule=firing.rule,
            reason=firing.reason,
            cause=cause,
            trigger=trigger,
            now=now,
            extra={"sync": sync, "issue": issue_context(issue)},
        )
        if email is not None:
            email.calendar_ics = ics
        if issue is not None:
            issue.status, issue.updated_at = "routed", now
        how = "the first free slot" if free else "a proposed time (no free slot seen)"
        trail(
            "sync_scheduled",
            f"{title} at {start.isoformat()} ({how}) with {', '.join(emails)}",
            rule=firing.rule,
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


def _fill(message: str, deal: m.Deal, issue: m.Issue | None) -> str:
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


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
