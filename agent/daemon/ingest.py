"""Mail, calendar objects and due timers, each turned into items of work for the unit of work.

A mailbox's message is acknowledged (its cursor moves) only after its item committed; a
calendar object is parsed first and each meeting version is its own item; a timer is keyed
by its id and due time, so a timer re-armed for later fires again, once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta

from agent.calendars.base import CalendarSource
from agent.calendars.parse import CalendarParseError, parse_calendar
from agent.clock import Clock
from agent.config import Config
from agent.daemon.budget import BudgetExceeded
from agent.daemon.group import Coming, Group
from agent.daemon.work import QuarantineError, UnitOfWork
from agent.domain import MeetingVersion
from agent.handling.cause import Cause, Work
from agent.handling.mail.pipeline import MailItem
from agent.handling.series import recurring, series_text, to_store
from agent.handling.wiring import Handlers
from agent.mailboxes.base import Mailbox, MailboxUnavailable, RawMail
from agent.mime.addresses import header_addresses, header_message_id
from agent.mime.parse import MessageParseError
from agent.mime.parse_ahead import ParseAhead, Parsed
from agent.outbox.queue import FlushResult
from agent.store.db import STORE_FAILURES, StoreUnavailable
from agent.store.repo import Repo


@dataclass
class PassReport:
    messages: int = 0
    meetings: int = 0
    timers: int = 0
    quarantined: int = 0
    outbox: FlushResult = field(default_factory=FlushResult)


class Ingest:
    def __init__(
        self,
        config: Config,
        work: UnitOfWork,
        handlers: Callable[[], Handlers],
        parse_ahead: ParseAhead,
        clock: Clock,
        should_stop: Callable[[], bool],
    ) -> None:
        self.config = config
        self.work = work
        self.handlers = handlers  # the current ones: rules and templates may be reloaded between items
        self.parse_ahead = parse_ahead
        self.clock = clock
        self.should_stop = should_stop

    # --- mail ------------------------------------------------------------------------------------
    def mail(
        self, report: PassReport, mailbox: Mailbox, progress: Callable[[int], None] | None = None
    ) -> None:
        """Every new message of the mailbox, parsed ahead in a helper process, committed in order, a
        backlog in groups (agent.daemon.group); each acknowledged once its group committed. `progress`
        hears how many wait still (where the mailbox counts them: IMAP) after each group."""
        group = Group(self.work, self.config.daemon.group_items, self.config.daemon.group_seconds)
        done: list[RawMail] = []  # run in the open group, acknowledged when it commits
        coming: dict[str, Coming] = {}  # key -> the messages read ahead, not yet run

        def noted(raws: Iterable[RawMail]) -> Iterator[RawMail]:
            for (
                raw
            ) in raws:  # as the parsing helper reads them ahead: what a look-ahead asks, not their bytes
                coming[raw.key] = Coming(
                    hashlib.sha256(raw.data).hexdigest(),
                    header_message_id(raw.data),
                    header_addresses(raw.data),
                )
                yield raw

        try:
            for raw, parsed in self.parse_ahead.iterate(noted(mailbox.fetch())):
                if self.should_stop():
                    break
                # A backlog taken in groups: which of the next messages are new, in a statement or two. (A
                # mailbox that does not count what waits commits each message: nothing to share.)
                if raw.key not in group.looked and len(coming) > 1 and getattr(mailbox, "waiting", None):
                    group.look_ahead(coming)
                group(  # its outcome is told when the group commits
                    raw.key,
                    "mail",
                    raw.data,
                    self.mail_work(raw.data, parsed, history=raw.history),
                    content_hash=coming.pop(raw.key).content_hash,
                    arrived_at=raw.arrived_at,
                )
                done.append(replace(raw, data=b""))  # its bytes are let go of below
                # A mailbox that does not count what waits (Maildir, Graph, EWS) commits each message.
                waiting = getattr(mailbox, "waiting", None) or 0
                if waiting <= len(done) or group.due:
                    self._commit(group, done, report, mailbox, progress)
                # Let go of this message before the next is read: a 25 MB message must not be held
                # while the next one arrives (34 MB of the peak of bench/hostile.py).
                del raw, parsed
        except MailboxUnavailable:  # the fetch failed between two messages: what ran went through
            self._commit(group, done, report, mailbox, progress)
            raise
        except BaseException:
            # The store failed, or the process is dying in the middle of an item (SystemExit, an
            # interrupt): nothing of the group happened; it is fetched again.
            group.abandon()
            raise
        self._commit(group, done, report, mailbox, progress)  # the backlog is done, or the agent stops

    def _commit(
        self,
        group: Group,
        done: list[RawMail],
        report: PassReport,
        mailbox: Mailbox,
        progress: Callable[[int], None] | None,
    ) -> None:
        outcomes = group.commit()
        if not done:
            return
        for raw in done:
            # as it stands at the commit: run again after another item failed, it may end otherwise
            outcome = outcomes[raw.key]
            report.messages += outcome in ("processed", "unmatched")
            report.quarantined += outcome == "quarantined"
            mailbox.ack(raw, outcome)
        done.clear()
        waiting = getattr(mailbox, "waiting", None)
        if progress is not None and waiting is not None:
            progress(waiting)

    def mail_work(self, data: bytes, parsed: Parsed | None = None, *, history: bool = False) -> Work:
        """The item of one message: parse it (unless parsed ahead), then the mail steps (`history`:
        the mailbox held it before the agent first watched it, RawMail.history)."""

        def work(repo: Repo, cause: Cause) -> str | None:
            try:
                msg = (parsed or self.parse_ahead.parse(data)).get()
            except MessageParseError as exc:
                raise QuarantineError(f"cannot parse the message: {exc}") from exc
            read = parsed.reading if parsed else None  # by the parsing helper: `read_text`
            item = MailItem(repo, msg, cause, self.clock.now(), data, history=history, read=read)
            return self.handlers().mail.process(item)

        return work

    # --- calendar --------------------------------------------------------------------------------
    def calendar(self, report: PassReport, calendar: CalendarSource) -> None:
        for obj in calendar.poll():
            if self.should_stop():
                return
            if obj.deleted:

                def gone(repo: Repo, cause: Cause, source: str = obj.source) -> str | None:
                    self.handlers().meetings.deleted(repo, source, cause, self.clock.now())
                    return None

                outcomes = [self.work(obj.key, "calendar", None, gone)]
            else:
                outcomes = self.calendar_object(obj.key, obj.source, obj.data)
            report.meetings += outcomes.count("processed")
            report.quarantined += outcomes.count("quarantined")

    def calendar_object(self, key: str, source: str, data: bytes) -> list[str]:
        """Parse one iCalendar object and process each meeting version as its own item."""
        now = self.clock.now()
        cal = self.config.calendar
        try:
            with self.work.budget():  # a stranger's invitation lands in a calendar too
                versions = parse_calendar(
                    data,
                    window_start=now - timedelta(days=cal.lookbehind_days),
                    window_end=now + timedelta(days=cal.lookahead_days),
                    source=source,
                    default_tz=self.config.agent.timezone,
                    max_occurrences=cal.max_occurrences,
                )
        except (CalendarParseError, BudgetExceeded) as exc:
            return ["quarantined" if self.work.quarantine(key, "calendar", data, str(exc)) else "seen"]
        plan = [(mv, False) for mv in versions]
        if recurring(versions):  # a stranger's series is stored once (handling/series.py)
            try:
                with self.work.sessions.begin() as s:
                    plan = to_store(versions, Repo(s), self.handlers().party)
            except STORE_FAILURES as exc:  # ours, not the calendar's
                raise StoreUnavailable.of(f"the series of {key}", exc) from exc
        series = series_text([data]) if any(kept for _, kept in plan) else ""
        outcomes = []
        for mv, kept in plan:

            def work(repo: Repo, cause: Cause, mv: MeetingVersion = mv, kept: bool = kept) -> str | None:
                handle = self.handlers().meetings.handle
                handle(repo, mv, cause, self.clock.now(), source=source, series=series if kept else "")
                return None

            outcomes.append(self.work(meeting_key(mv), "calendar", None, work))
        return outcomes

    # --- timers ----------------------------------------------------------------------------------
    def timers(self, report: PassReport) -> None:
        while not self.should_stop():
            with self.work.sessions.begin() as s:
                due = [(t.id, t.key, t.due_at) for t in Repo(s).due_timers(self.clock.now())]
            if not due:
                return
            for timer_id, key, due_at in due:
                # timer id + due time (DESIGN.md): a timer re-armed for later fires again, once.
                # The payload names the timer, so that a quarantined one can be retried after a fix.
                outcome = self.work(
                    f"timer:{key}@{due_at.isoformat()}",
                    "timer",
                    f"timer:{timer_id}".encode(),
                    self.timer_work(timer_id),
                    arrived_at=due_at,
                )
                if outcome != "processed":
                    self._disarm(timer_id)  # quarantined or seen before: never fire it again
                report.timers += outcome == "processed"
                report.quarantined += outcome == "quarantined"

    def timer_work(self, timer_id: int) -> Work:
        def work(repo: Repo, cause: Cause) -> str | None:
            timer = repo.timer(timer_id)
            assert timer is not None
            self.handlers().timers.fire(repo, timer, cause, self.clock.now())
            return None

        return work

    def _disarm(self, timer_id: int) -> None:
        with self.work.sessions.begin() as s:
            timer = Repo(s).timer(timer_id)
            if timer is not None and timer.fired_at is None:
                timer.fired_at = self.clock.now()

    # --- quarantine --------------------------------------------------------------------------------
    def retry_quarantined(self, event_id: int) -> str:
        """Process a quarantined item again (after a fix); it stays quarantined if it fails again."""
        found = self.work.quarantined(event_id)
        if found is None:
            return "not quarantined"
        key, source, payload, digest = found
        if payload is None:
            return "cannot retry: nothing was kept for this item (see its error)"
        if source == "mail":
            return self.work(
                key, source, payload, self.mail_work(payload), content_hash=digest, retry_of=event_id
            )
        if source == "timer" and payload.startswith(b"timer:"):  # e.g. a recap whose template raised
            timer_id = int(payload.split(b":", 1)[1])
            return self.work(key, source, payload, self.timer_work(timer_id), retry_of=event_id)
        if "quarantined" in self.calendar_object(key, key, payload):
            return "quarantined"
        self.work.release(event_id)
        return "processed"


def meeting_key(mv: MeetingVersion) -> str:
    stamp = mv.dtstamp.isoformat() if mv.dtstamp else ""
    state = "cancelled" if mv.cancelled else "active"
    when = f"{mv.start.isoformat()}:{mv.end.isoformat()}"
    key = f"meeting:{mv.uid}:{mv.recurrence_id}:{mv.sequence}:{stamp}:{state}:{when}"
    if len(key) > 400:  # Outlook UIDs can be long; the key column is bounded
        key = "meeting:" + hashlib.sha256(key.encode()).hexdigest()
    return key
