"""Meetings: each version of a call, ordered by SEQUENCE; scheduled, moved, cancelled, held, no-show.

A meeting is held when its end plus the grace has passed and it was neither cancelled,
moved nor marked a no-show: that is a timer, keyed by the end time, so a reschedule
leaves the old timer nothing to fire.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from agent.calendars.parse import parse_calendar
from agent.config import CalendarSection
from agent.domain import Address, MeetingVersion
from agent.handling.cause import Cause
from agent.handling.enqueue import Enqueuer
from agent.handling.runner import RuleRunner
from agent.matching import Match, Party, match_meeting
from agent.outbox import status
from agent.pipeline.definition import Pipeline
from agent.pipeline.engine import Trigger
from agent.store import models as m
from agent.store.repo import Repo


class MeetingHandler:
    def __init__(
        self,
        settings: CalendarSection,
        party: Party,
        pipelines: dict[str, Pipeline],
        runner: RuleRunner,
        enqueuer: Enqueuer,
        default_tz: str = "UTC",
    ) -> None:
        self.settings = settings
        self.default_tz = default_tz  # of a kept series' floating times, when it is expanded
        self.party = party
        self.pipelines = pipelines
        self.runner = runner
        self.enqueuer = enqueuer

    def handle(
        self, repo: Repo, mv: MeetingVersion, cause: Cause, now: datetime, source: str = "", series: str = ""
    ) -> None:
        """One version of a meeting, from a calendar or an invitation.

        `series`: the calendar text of the series this occurrence stands for, when no deal claims
        it (agent.handling.series); kept on the meeting until one does.
        """
        trail = cause.trail(repo, now)
        if mv.all_day:
            trail("meeting_ignored", f"'{mv.title}' is an all-day event, not a call")
            return
        meeting = repo.meeting(mv.uid, mv.recurrence_id)
        # Versions are ordered by SEQUENCE, then DTSTAMP; an equal version may still
        # differ (a hand-edited .ics), so only a strictly older one is stale.
        if meeting is not None and _version(mv.sequence, mv.dtstamp) < _version(
            meeting.sequence, meeting.dtstamp
        ):
            trail.on(meeting.deal_id)(
                "meeting_stale",
                f"'{mv.title}' version {mv.sequence} is older than the stored {meeting.sequence}",
            )
            return
        if meeting is None:
            self._new(repo, mv, cause, now, source, series)
        else:
            meeting.source = source or meeting.source
            if series and meeting.deal_id is None:
                meeting.series = series
            self._update(repo, meeting, mv, cause, now)

    def _new(
        self,
        repo: Repo,
        mv: MeetingVersion,
        cause: Cause,
        now: datetime,
        source: str,
        series: str = "",
        of_series: m.Meeting | None = None,
    ) -> None:
        if of_series is not None:  # an occurrence of a kept series, expanded for the deal that claimed it
            match = Match(
                of_series.deal_id, "series", f"an occurrence of '{of_series.title}': {of_series.match_reason}"
            )
        else:
            match = match_meeting(mv, repo, self.party)
        deal = repo.deal(match.deal_id) if match.deal_id else None
        pipeline = self.pipelines.get(deal.pipeline) if deal else None
        mtype = pipeline.meeting_type(deal.stage, mv.title) if deal and pipeline else ""
        meeting = m.Meeting(
            deal_id=deal.id if deal else None,
            uid=mv.uid,
            recurrence_id=mv.recurrence_id,
            sequence=mv.sequence,
            dtstamp=mv.dtstamp,
            title=mv.title,
            description=mv.description,
            type=mtype,
            start=mv.start,
            end=mv.end,
            status="cancelled" if mv.cancelled else "scheduled",
            organizer=mv.organizer.email if mv.organizer else "",
            attendees=[{"email": a.email, "name": a.name} for a in mv.attendees],
            match_reason=match.reason,
            source=source,
            series=series if deal is None else "",
        )
        repo.add_new(meeting)  # one Core INSERT: a backlog's invitations each store a meeting
        cause.meeting = meeting
        if deal is not None and not mv.cancelled:
            # only a deal's meetings are watched: a stranger's invitation leaves no timers behind;
            # a meeting claimed later (a hand-over, an answer, a new version) is watched from then
            self.watch(repo, meeting)
        trail = cause.trail(repo, now)
        if deal is None:
            kept = " (a series: its other occurrences are stored once a deal claims it)" if series else ""
            trail("meeting_unmatched", f"'{mv.title}': {match.reason}{kept}")
            if match.ambiguous:
                meeting.candidates = list(match.candidates)
                when = mv.start.strftime("%A %-d %B %H:%M UTC")
                question = {
                    "what": "meeting",
                    "subject": mv.title,
                    "excerpt": f"{when}. {mv.description[:300]}",
                    "sender": mv.organizer.email if mv.organizer else "",
                }
                self.enqueuer.ask_which_deal(
                    repo,
                    list(match.candidates),
                    mv.organizer,
                    question,
                    cause,
                    now,
                    about_meeting_id=meeting.id,
                    participants=mv.attendees,  # a CSM invited is the one who can tell
                )
            return
        trail.on(deal)(
            "meeting_scheduled",
            f"'{mv.title}' at {mv.start.isoformat()} is a {mtype or 'meeting of no known type'}: "
            f"{match.reason}" + (f" (the invitation had an {mv.assumed})" if mv.assumed else ""),
        )
        if mv.cancelled:
            return
        trigger = Trigger("meeting_scheduled", mtype, f"'{mv.title}' was scheduled")
        self.runner.dispatch(repo, deal, [trigger], cause, now)

    def _update(
        self, repo: Repo, meeting: m.Meeting, mv: MeetingVersion, cause: Cause, now: datetime
    ) -> None:
        moved = (mv.start, mv.end) != (meeting.start, meeting.end)
        meeting.sequence, meeting.dtstamp = mv.sequence, mv.dtstamp
        meeting.title, meeting.description = mv.title, mv.description
        meeting.attendees = [{"email": a.email, "name": a.name} for a in mv.attendees]
        cause.meeting = meeting
        deal = repo.deal(meeting.deal_id) if meeting.deal_id else self._claim(repo, meeting, mv, cause, now)
        if meeting.status in ("completed", "no_show"):
            return  # history is not rewritten by a late update
        trigger: Trigger | None = None
        if mv.cancelled and meeting.status != "cancelled":
            meeting.status = "cancelled"
            trigger = Trigger("meeting_cancelled", meeting.type, f"'{mv.title}' was cancelled")
        elif not mv.cancelled and (moved or meeting.status == "cancelled"):
            meeting.start, meeting.end, meeting.status = mv.start, mv.end, "scheduled"
            if deal is not None:
                self.watch(repo, meeting)
            trigger = Trigger(
                "meeting_rescheduled", meeting.type, f"'{mv.title}' moved to {mv.start.isoformat()}"
            )
        if trigger is None or deal is None:
            return
        cause.trail(repo, now).on(deal)(trigger.kind, trigger.detail)
        self.runner.dispatch(repo, deal, [trigger], cause, now)

    def _claim(
        self, repo: Repo, meeting: m.Meeting, mv: MeetingVersion, cause: Cause, now: datetime
    ) -> m.Deal | None:
        """Match a meeting that had no deal again: the deal may have been handed over since."""
        match = match_meeting(mv, repo, self.party)
        deal = repo.deal(match.deal_id) if match.deal_id else None
        pipeline = self.pipelines.get(deal.pipeline) if deal else None
        if deal is None or pipeline is None:
            return None
        meeting.deal_id, meeting.match_reason = deal.id, match.reason
        meeting.type = pipeline.meeting_type(deal.stage, meeting.title)
        cause.trail(repo, now).on(deal)(
            "meeting_matched",
            f"'{meeting.title}' is a {meeting.type or 'meeting of no known type'}: {match.reason}",
        )
        if meeting.status == "scheduled":
            self.watch(repo, meeting)
        self._expand(repo, meeting, cause, now)
        return deal

    def _expand(self, repo: Repo, meeting: m.Meeting, cause: Cause, now: datetime) -> None:
        """A kept series was claimed: its other occurrences in the window are the deal's meetings now."""
        if not meeting.series:
            return
        text, meeting.series = meeting.series, ""
        versions = parse_calendar(
            text.encode(),
            window_start=now - timedelta(days=self.settings.lookbehind_days),
            window_end=now + timedelta(days=self.settings.lookahead_days),
            source=meeting.source or f"the series of meeting {meeting.id}",
            default_tz=self.default_tz,
            max_occurrences=self.settings.max_occurrences,
        )
        for mv in versions:
            if mv.uid == meeting.uid and repo.meeting(mv.uid, mv.recurrence_id) is None:
                self._new(repo, mv, cause, now, meeting.source, of_series=meeting)

    def claim_waiting(self, repo: Repo, deal: m.Deal, cause: Cause, now: datetime) -> None:
        """A deal handed over after its call was booked: the calls that match it now are its, and watched."""
        lookbehind = timedelta(days=self.settings.lookbehind_days)
        people = {c.email.lower() for c in deal.contacts}
        for meeting in repo.unclaimed_meetings(ends_after=now - lookbehind):
            attendees = {a["email"].lower() for a in meeting.attendees or []} | {meeting.organizer.lower()}
            if people & attendees:  # a cheap look first: matching asks the store several questions
                # claimed by the deal it matches now: this one, or another deal of the same people
                self._claim(repo, meeting, _version_of(meeting), cause, now)

    def watch(self, repo: Repo, meeting: m.Meeting) -> None:
        """The timer that finds the meeting held once its end and the grace have passed (once a time)."""
        grace = timedelta(minutes=self.settings.completion_grace_minutes)
        repo.add_timer(
            f"meeting-end:{meeting.id}:{meeting.end.isoformat()}",
            "meeting_end",
            meeting.end + grace,
            meeting.deal_id,
            {"meeting_id": meeting.id, "end": meeting.end.isoformat()},
        )

    def held(self, repo: Repo, meeting_id: int, end: str, cause: Cause, now: datetime) -> None:
        """The meeting's completion timer fired: it was held unless something changed since."""
        meeting = repo.meeting_by_id(meeting_id)
        if meeting is None or meeting.status != "scheduled" or meeting.end.isoformat() != end:
            return  # cancelled, moved (a newer timer exists) or marked a no-show meanwhile
        meeting.status = "completed"
        cause.meeting = meeting
        # The deal as it is now: a person may have told us since the timer was set.
        deal = repo.deal(meeting.deal_id) if meeting.deal_id else None
        if deal is None:  # booked before the deal was handed over: it may be claimable now
            deal = self._claim(repo, meeting, _version_of(meeting), cause, now)
        if deal is None:
            return
        cause.trail(repo, now).on(deal)(
            "meeting_completed", f"'{meeting.title}' ended at {meeting.end.isoformat()} and was not cancelled"
        )
        trigger = Trigger(
            "meeting_completed", meeting.type, f"{meeting.type or 'meeting'} '{meeting.title}' was held"
        )
        self.runner.dispatch(repo, deal, [trigger], cause, now)

    def assign(
        self, repo: Repo, meeting: m.Meeting, deal: m.Deal, cause: Cause, now: datetime, who: str
    ) -> None:
        """A person said which deal the meeting is about: scheduled, it is watched; over, it was held."""
        pipeline = self.pipelines.get(deal.pipeline)
        meeting.deal_id, meeting.candidates = deal.id, []
        meeting.type = pipeline.meeting_type(deal.stage, meeting.title) if pipeline else ""
        meeting.match_reason = f"assigned by {who}"
        cause.meeting = meeting
        cause.trail(repo, now).on(deal)(
            "meeting_assigned", f"'{meeting.title}' assigned to {deal.name} by {who}"
        )
        self._expand(repo, meeting, cause, now)
        grace = timedelta(minutes=self.settings.completion_grace_minutes)
        if meeting.status == "scheduled" and meeting.end + grace <= now:
            self.held(repo, meeting.id, meeting.end.isoformat(), cause, now)  # before anyone answered
        elif meeting.status == "scheduled":
            self.watch(repo, meeting)
            trigger = Trigger("meeting_scheduled", meeting.type, f"'{meeting.title}' was scheduled")
            self.runner.dispatch(repo, deal, [trigger], cause, now)
        elif meeting.status == "completed":  # held before anyone answered (a timer of an earlier version)
            trigger = Trigger("meeting_completed", meeting.type, f"'{meeting.title}' was held")
            self.runner.dispatch(repo, deal, [trigger], cause, now)

    def deleted(self, repo: Repo, source: str, cause: Cause, now: datetime) -> None:
        """The calendar object is gone from the server: its meetings that have not happened are cancelled."""
        for meeting in repo.meetings_from(source):
            if meeting.status != "scheduled":
                continue
            meeting.status = "cancelled"
            deal = repo.deal(meeting.deal_id) if meeting.deal_id else None
            if deal is None:
                continue
            trigger = Trigger(
                "meeting_cancelled", meeting.type, f"'{meeting.title}' was deleted from the calendar"
            )
            cause.trail(repo, now).on(deal)(trigger.kind, trigger.detail)
            self.runner.dispatch(repo, deal, [trigger], cause, now)

    def mark_no_show(self, repo: Repo, meeting: m.Meeting, cause: Cause, now: datetime, *, who: str) -> None:
        """Nothing is sent for a call that did not happen (a queued recap is withdrawn); R is told."""
        meeting.status = "no_show"
        trail = cause.trail(repo, now)
        trail.on(meeting.deal_id)("meeting_no_show", f"{who} marked '{meeting.title}' a no-show")
        for email in repo.unsent_about_meeting(meeting.id):  # a recap waiting for review or for its time
            status.withdraw(trail, email, f"'{meeting.title}' was a no-show")
        deal = repo.deal(meeting.deal_id) if meeting.deal_id else None
        if deal is not None:
            self.enqueuer.notify_responsible(
                repo,
                deal,
                cause,
                now,
                subject=f"{deal.name}: '{meeting.title}' was a no-show",
                message=f"{who} marked '{meeting.title}' ({meeting.start:%d %b %H:%M} UTC) a no-show. No recap "
                "goes out for it; please book the call again.",
            )


def _version(sequence: int, dtstamp: datetime | None) -> tuple[int, float]:
    return sequence, dtstamp.timestamp() if dtstamp else 0.0


def _version_of(meeting: m.Meeting) -> MeetingVersion:
    """The stored meeting as the matcher reads it."""
    return MeetingVersion(
        uid=meeting.uid,
        recurrence_id=meeting.recurrence_id,
        sequence=meeting.sequence,
        dtstamp=meeting.dtstamp,
        method="",
        cancelled=meeting.status == "cancelled",
        title=meeting.title,
        description=meeting.description,
        location="",
        start=meeting.start,
        end=meeting.end,
        all_day=False,
        organizer=Address(meeting.organizer) if meeting.organizer else None,
        attendees=tuple(Address(a["email"], a.get("name", "")) for a in meeting.attendees or []),
    )
