"""The daemon: ingest mail and calendar, fire due timers, flush the outbox; again and again.

Each inbound item is one transaction (agent.processor); its source cursor
moves only after that commit. An item that fails is quarantined with its
error and bytes, and the loop goes on. Signals only set a flag: the item in
hand is finished before the loop stops.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dt_time
from functools import partial
from http.server import ThreadingHTTPServer
from types import FrameType
from zoneinfo import ZoneInfo

import schedule
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from agent import calendars, mailboxes
from agent.businesstime import BusinessCalendar
from agent.calendars.parse import CalendarParseError, parse_calendar
from agent.clock import Clock, SystemClock
from agent.config import Config
from agent.domain import Address, MeetingVersion
from agent.errors import InputError
from agent.health import serve as serve_health
from agent.health import status_data
from agent.leases import Leases
from agent.mailboxes import MailboxUnavailable
from agent.mailboxes.parse import MessageParseError
from agent.mailboxes.parse_ahead import ParseAhead, Parsed
from agent.outbox.context import sample_context
from agent.outbox.queue import FlushResult, Outbox
from agent.outbox.render import TemplateSet
from agent.outbox.transports import load as load_transport
from agent.pipeline.loader import LoadResult, Pipeline, load_pipelines
from agent.processor import Cause, Processor
from agent.store import models as m
from agent.store.db import STORE_FAILURES, StoreUnavailable, open_store
from agent.store.repo import Repo

log = logging.getLogger(__name__)
DIGEST_AT = dt_time(9, 0)  # the unmatched-mail digest goes out after this, local time
QUICK_PASS_SECONDS = 30.0  # the longest a due timer (a recap, a delayed email) waits between full passes
PART_BACKOFF_MAX = 300.0  # a part that keeps crashing is restarted at most this far apart
STORE_BACKOFF_MAX = 60.0  # while the database is locked or full, passes are retried at most this far apart

# A unit of work inside one transaction; it may return a label such as "unmatched".
Work = Callable[[Repo, Cause], str | None]


@dataclass
class Runtime:
    """What is read from files at start-up (and on reload): rules and templates."""

    config: Config
    rules: LoadResult
    templates: TemplateSet
    processor: Processor


def load_runtime(config: Config) -> Runtime:
    templates = TemplateSet(config.templates_dir)
    rules = load_pipelines(config.rules_dir, templates.names())
    for issue in rules.issues:
        # At run time a broken rule is disabled and named; the others keep running.
        (log.error if issue.severity == "error" else log.warning)("%s", issue)
    agent = config.agent
    calendar = BusinessCalendar.from_names(agent.business_days, agent.holidays)
    return Runtime(config, rules, templates, Processor(config, rules.pipelines, templates, calendar))


# the templates the agent itself sends, whatever the rules say
REQUIRED_TEMPLATES = (
    "intro",
    "recap",
    "completion",
    "survey",
    "notice",
    "approval-request",
    "question",
    "unmatched-digest",
    "review-request",
    "csm-digest",
    "weekly-scorecard",
)


def problems_of(runtime: Runtime) -> list[str]:
    """What `check` refuses: rule errors, missing templates, templates that do not render on a sample deal."""
    problems = [str(i) for i in runtime.rules.issues if i.severity == "error"]
    names = runtime.templates.names()
    problems += [
        f"{runtime.templates.folder}: missing template {t!r}" for t in REQUIRED_TEMPLATES if t not in names
    ]
    known = sorted(runtime.rules.pipelines)
    problems += [
        f"{runtime.config.source}: [[teams]] {t.name}: pipeline = {t.pipeline!r}: no such pipeline; "
        f"expected one of {known}"
        for t in runtime.config.teams
        if t.pipeline and t.pipeline not in runtime.rules.pipelines
    ]
    pipelines: list[Pipeline | None] = [*runtime.rules.pipelines.values()] or [None]
    for name in names:
        for pipeline in pipelines:
            try:
                runtime.templates.render(name, sample_context(runtime.config.agent, pipeline))
            except InputError as exc:
                problems.append(str(exc))
                break
    return problems


@dataclass
class Inbox:
    """One team's mailbox and calendar (the main team's name is "")."""

    team: str
    mailbox: mailboxes.Mailbox
    calendar: calendars.CalendarSource | None

    def part(self, kind: str) -> str:
        """Its name in `status` and in the logs: mailbox, calendar, mailbox:emea, ..."""
        return f"{kind}:{self.team}" if self.team else kind


@dataclass
class PassReport:
    messages: int = 0
    meetings: int = 0
    timers: int = 0
    quarantined: int = 0
    outbox: FlushResult = field(default_factory=FlushResult)


class Agent:
    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        dry_run: bool = False,
        sessions: sessionmaker[Session] | None = None,
        reload_config: Callable[[], Config] | None = None,
    ) -> None:
        self.config = config
        self.reload_config = reload_config or (lambda: self.config)
        self.reload_requested = False
        self.clock = clock or SystemClock()
        self.runtime = load_runtime(config)
        self.sessions = sessions or open_store(config.store_url, config.store.busy_timeout_seconds)
        cursors = DbCursors(self.sessions, self.clock)
        self.mailbox = mailboxes.load(config, cursors)
        self.calendar = calendars.load(config, cursors, self.clock)
        self.inboxes = [Inbox("", self.mailbox, self.calendar)]
        max_bytes = int(config.mailbox.max_message_mb * 1e6)
        self.parse_ahead = ParseAhead(config.addresses(), max_bytes, config.mailbox.parse_processes)
        for team in config.teams:
            own = config.for_team(team)
            self.inboxes.append(
                Inbox(team.name, mailboxes.load(own, cursors), calendars.load(own, cursors, self.clock))
            )
        order = {pid: [s.id for s in p.stages] for pid, p in self.runtime.rules.pipelines.items()}
        self.outbox = Outbox(
            self.sessions,
            config,
            load_transport(config),
            self.clock,
            stage_order=order,
            dry_run=dry_run,
            on_failure=self.report_delivery_failure,
        )
        self.stop_requested = False
        self.last_mail_error = ""
        # Several workers may share a PostgreSQL store (SQLite has one writer, guarded by the
        # state folder's lock): each source is then watched by the worker holding its lease.
        self.shared = not self.config.store_url.startswith("sqlite")
        self.worker = config.daemon.worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.outbox.worker = self.worker
        self.outbox.claim_seconds = config.daemon.claim_seconds if self.shared else 0.0
        self.store_failures = 0  # passes in a row that the database refused
        self.digests_done: set[str] = set()  # "daily:<date>", "weekly:<week>" sent (or found sent) already
        self.crashes: dict[str, tuple[int, float]] = {}  # part -> (crashes in a row, monotonic retry time)
        lease = config.daemon.lease_seconds
        self.leases = Leases(self.sessions, self.clock.now, self.worker, lease, len(self.sources()))
        self.watching = {i.part("mailbox") for i in self.inboxes}  # the mailboxes it watched last pass

    @property
    def processor(self) -> Processor:
        return self.runtime.processor

    # --- one pass ---------------------------------------------------------------------
    def run_once(self, *, calendar: bool = True) -> PassReport:
        report = PassReport()
        if self.shared:
            self._supervised("leases", self.leases.balance)
        for inbox in self.inboxes:
            self._supervised(inbox.part("mailbox"), partial(self.ingest_mail, report, inbox))
        if calendar:
            for inbox in self.inboxes:
                self._supervised(inbox.part("calendar"), partial(self.ingest_calendar, report, inbox))
        self._supervised("timers", lambda: self.fire_timers(report))
        self._supervised("digest", self.digest_unmatched)
        self._supervised("digests", self.send_digests)
        if not self.stop_requested:
            self._supervised("outbox", lambda: self._flush(report))
        return report

    def _flush(self, report: PassReport) -> None:
        report.outbox = self.outbox.flush(lambda: self.stop_requested)
        self.health(
            "outbox", self.outbox.last_error if report.outbox.postponed or report.outbox.failed else ""
        )

    def _supervised(self, part: str, work: Callable[[], None]) -> None:
        """Run one part of a pass; a crash in it (a bug) is logged and backed off, and the others go on.

        The store failing is not a part's crash: it stops the whole pass (StoreUnavailable).
        """
        failures, retry_at = self.crashes.get(part, (0, 0.0))
        if time.monotonic() < retry_at:
            return
        try:
            work()
        except StoreUnavailable:
            raise
        except STORE_FAILURES as exc:  # outside an item's transaction (a lease, a health record)
            raise StoreUnavailable(f"{part}: {getattr(exc, 'orig', exc)}") from exc
        except Exception as exc:
            failures += 1
            delay = min(PART_BACKOFF_MAX, 2.0**failures)
            self.crashes[part] = (failures, time.monotonic() + delay)
            log.exception(
                "%s crashed (%d in a row); the other parts go on, it restarts in %.0f s",
                part,
                failures,
                delay,
            )
            if part.split(":")[0] in ("mailbox", "calendar", "outbox"):
                self.health(part, f"crashed: {type(exc).__name__}: {exc}")
            return
        self.crashes.pop(part, None)

    def sources(self) -> list[tuple[str, str]]:
        """(part, source) of every mailbox and calendar the config watches, whichever worker watches them."""
        found = [(i.part("mailbox"), _source(i.mailbox)) for i in self.inboxes]
        return found + [(i.part("calendar"), _source(i.calendar)) for i in self.inboxes if i.calendar]

    def holds(self, part: str, source: str) -> bool:
        """Whether this worker watches the source now (always, on a store of its own)."""
        if not self.shared:
            return True
        held = self.leases.holds(part, source)
        (self.watching.add if held else self.watching.discard)(part)
        return held

    def ingest_mail(self, report: PassReport, inbox: Inbox) -> None:
        part, mailbox = inbox.part("mailbox"), inbox.mailbox
        if not self.holds(part, _source(mailbox)):
            return
        try:
            for raw, parsed in self.parse_ahead.iterate(mailbox.fetch()):
                if self.stop_requested:
                    return
                digest = hashlib.sha256(raw.data).hexdigest()
                outcome = self.process(
                    raw.key,
                    "mail",
                    raw.data,
                    self._mail_work(raw.data, parsed),
                    content_hash=digest,
                    arrived_at=raw.arrived_at,
                )
                report.messages += outcome in ("processed", "unmatched")
                report.quarantined += outcome == "quarantined"
                mailbox.ack(raw, outcome)
            self.health(part)
        except MailboxUnavailable as exc:
            # Logged by the backend with its backoff; timers, calendar and outbox go on meanwhile.
            self.last_mail_error = str(exc)
            self.health(part, str(exc))

    def _mail_work(self, data: bytes, parsed: Parsed | None = None) -> Work:
        def work(repo: Repo, cause: Cause) -> str | None:
            try:
                msg = (parsed or self.parse_ahead.parse(data)).get()
            except MessageParseError as exc:
                raise QuarantineError(f"cannot parse the message: {exc}") from exc
            return self.processor.messages.handle(repo, msg, cause, self.clock.now(), data)

        return work

    def ingest_calendar(self, report: PassReport, inbox: Inbox) -> None:
        part, calendar = inbox.part("calendar"), inbox.calendar
        if calendar is None or not self.holds(part, _source(calendar)):
            return
        try:
            self._ingest_calendar(report, calendar)
            self.health(part)
        except StoreUnavailable:
            raise  # ours, not the calendar's: the pass stops and is tried again
        except Exception as exc:  # a calendar server answering 500 must not stop mail, timers or sending
            log.warning("calendar %s unavailable: %s", calendar.name, exc)
            self.health(part, f"{type(exc).__name__}: {exc}")

    def _ingest_calendar(self, report: PassReport, calendar: calendars.CalendarSource) -> None:
        for obj in calendar.poll():
            if self.stop_requested:
                return
            if obj.deleted:

                def gone(repo: Repo, cause: Cause, source: str = obj.source) -> str | None:
                    self.processor.meetings.deleted(repo, source, cause, self.clock.now())
                    return None

                outcomes = [self.process(obj.key, "calendar", None, gone)]
            else:
                outcomes = self._calendar_object(obj.key, obj.source, obj.data)
            report.meetings += outcomes.count("processed")
            report.quarantined += outcomes.count("quarantined")

    def _calendar_object(self, key: str, source: str, data: bytes) -> list[str]:
        """Parse one iCalendar object and process each meeting version in its own transaction."""
        now = self.clock.now()
        cal = self.config.calendar
        try:
            versions = parse_calendar(
                data,
                window_start=now - timedelta(days=cal.lookbehind_days),
                window_end=now + timedelta(days=cal.lookahead_days),
                source=source,
                default_tz=self.config.agent.timezone,
            )
        except CalendarParseError as exc:
            return ["quarantined" if self.quarantine(key, "calendar", data, str(exc)) else "seen"]
        outcomes = []
        for mv in versions:

            def work(repo: Repo, cause: Cause, mv: MeetingVersion = mv) -> str | None:
                self.processor.meetings.handle(repo, mv, cause, self.clock.now(), source=source)
                return None

            outcomes.append(self.process(meeting_key(mv), "calendar", None, work))
        return outcomes

    def fire_timers(self, report: PassReport) -> None:
        while not self.stop_requested:
            with self.sessions.begin() as s:
                due = [(t.id, t.key, t.due_at) for t in Repo(s).due_timers(self.clock.now())]
            if not due:
                return
            for timer_id, key, due_at in due:
                # timer id + due time (DESIGN.md): a timer re-armed for later fires again, once.
                # The payload names the timer, so that a quarantined one can be retried after a fix.
                outcome = self.process(
                    f"timer:{key}@{due_at.isoformat()}",
                    "timer",
                    f"timer:{timer_id}".encode(),
                    self._timer_work(timer_id),
                    arrived_at=due_at,
                )
                if outcome != "processed":
                    self._disarm(timer_id)  # quarantined or seen before: never fire it again
                report.timers += outcome == "processed"
                report.quarantined += outcome == "quarantined"

    def _timer_work(self, timer_id: int) -> Work:
        def work(repo: Repo, cause: Cause) -> str | None:
            timer = repo.s.get(m.Timer, timer_id)
            assert timer is not None
            self.processor.fire_timer(repo, timer, cause, self.clock.now())
            return None

        return work

    def health(self, part: str, error: str = "") -> None:
        """Remember how a part last did, for `status`: the last success, and the last error if any."""
        now = self.clock.now().isoformat()
        key = f"health:{part}"
        with self.sessions.begin() as s:
            repo = Repo(s)
            old = json.loads(repo.cursor(key) or "{}")
            new = (
                {**old, "last_error": error, "error_at": now}
                if error
                else {**old, "last_ok": now, "last_error": ""}
            )
            repo.set_cursor(key, json.dumps(new), self.clock.now())

    def report_delivery_failure(self, email_id: int, error: str) -> None:
        """Tell the deal's Responsible person that an email could not go; once per email, whatever the retries."""

        def work(repo: Repo, cause: Cause) -> str | None:
            email = repo.outbox(email_id)
            deal = repo.deal(email.deal_id) if email and email.deal_id else None
            if email is None or deal is None or email.template == "notice":
                return None  # nobody to tell on a deal, or the notice itself failed: the log has it
            self.processor.notify_responsible(
                repo,
                deal,
                cause,
                self.clock.now(),
                subject=f"{deal.name}: the {email.template} email could not be delivered",
                message=f"The {email.template} email to {', '.join(a['email'] for a in email.to)} could not be "
                f"delivered: {error}. The agent keeps trying where that can help "
                f"(`python -m agent outbox show {email.id}`).",
            )
            return None

        self.process(f"delivery-failure:{email_id}", "timer", None, work)

    def digest_unmatched(self) -> None:
        """Once a day, from 09:00 in the agent's zone: tell `unmatched_notice_to` what no deal claimed."""
        to = self.config.agent.unmatched_notice_to
        local = self.clock.now().astimezone(ZoneInfo(self.config.agent.timezone))
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

        def work(repo: Repo, cause: Cause) -> str | None:
            digest = {
                "date": f"{day:%A} {day.day} {day:%B %Y}",
                "messages": [
                    {
                        "id": i,
                        "subject": subj,
                        "sender": sender,
                        "reason": reason,
                        "received_at": f"{at.astimezone(local.tzinfo):%Y-%m-%d %H:%M}",
                    }
                    for i, subj, sender, at, reason in waiting
                ],
            }
            recipients = tuple(Address(a) for a in to)
            self.processor.queue_standalone(
                repo,
                "unmatched-digest",
                recipients,
                {"digest": digest},
                cause=cause,
                now=self.clock.now(),
                reason=f"{len(waiting)} messages matched no deal",
            )
            return None

        self.process(key, "timer", None, work)  # the key makes it once a day

    def send_digests(self) -> None:
        from agent.reports.digests import send_due

        send_due(self)

    def _disarm(self, timer_id: int) -> None:
        with self.sessions.begin() as s:
            timer = s.get(m.Timer, timer_id)
            if timer is not None and timer.fired_at is None:
                timer.fired_at = self.clock.now()

    # --- transactions and quarantine -------------------------------------------------------
    def process(
        self,
        key: str,
        source: str,
        payload: bytes | None,
        work: Work,
        content_hash: str | None = None,
        retry_of: int | None = None,
        arrived_at: datetime | None = None,
    ) -> str:
        """Run `work` for one item in one transaction.

        Returns "processed" (or the work's own label, e.g. "unmatched"), "seen" when the item was
        handled before, or "quarantined". `retry_of` is the quarantined row being tried again: it
        goes in the same transaction, so a crash or a new failure leaves it where it was.
        Raises StoreUnavailable when the database itself failed: the item was not at fault, so it
        is not quarantined; nothing was committed or acknowledged, and the next pass tries again.
        """
        try:
            with self.sessions.begin() as s:
                repo = Repo(s)
                if retry_of is not None:
                    s.delete(s.get(m.InboundEvent, retry_of))
                    s.flush()
                cause = self.processor.begin(
                    repo, key, source, self.clock.now(), content_hash, arrived_at=arrived_at
                )
                if cause is None:
                    return "seen"
                label = work(repo, cause)
            return label or "processed"
        except STORE_FAILURES as exc:
            raise StoreUnavailable(f"{key}: {exc.orig if hasattr(exc, 'orig') else exc}") from exc
        except Exception as exc:  # one bad item must not stop the agent: keep it aside with its error
            if isinstance(exc, IntegrityError) and self.shared and self._committed(key):
                return "seen"  # another worker committed the same event first: it is done, once
            log.exception("quarantining %s", key)
            error = f"{type(exc).__name__}: {exc}"
            try:
                kept = self.quarantine(key, source, payload, error, content_hash)
            except STORE_FAILURES as store_exc:
                raise StoreUnavailable(f"{key}: {store_exc.orig}") from store_exc
            return "quarantined" if kept else "seen"

    def _committed(self, key: str) -> bool:
        with self.sessions.begin() as s:
            event = Repo(s).event(key)
            return event is not None and event.status != "quarantined"

    def quarantine(
        self, key: str, source: str, payload: bytes | None, error: str, content_hash: str | None = None
    ) -> bool:
        """Keep the item aside with its error; False when it was processed before (then nothing to keep)."""
        now = self.clock.now()
        with self.sessions.begin() as s:
            repo = Repo(s)
            existing = repo.event(key) or (repo.event_with_hash(content_hash) if content_hash else None)
            if existing is not None and existing.status != "quarantined":
                return False
            if existing is not None:  # failed again on a retry: one row, its latest error, how often
                existing.error, existing.attempts = error, existing.attempts + 1
            else:
                repo.add(
                    m.InboundEvent(
                        key=key,
                        source=source,
                        status="quarantined",
                        received_at=now,
                        error=error,
                        payload=payload,
                        content_hash=content_hash,
                    )
                )
            repo.audit(now, "quarantined", deal_id=None, event_id=None, reason=f"{key}: {error}")
        return True

    def retry_quarantined(self, event_id: int) -> str:
        """Process a quarantined item again (after a fix); it stays quarantined if it fails again."""
        with self.sessions.begin() as s:
            row = s.get(m.InboundEvent, event_id)
            if row is None or row.status != "quarantined":
                return "not quarantined"
            key, source, payload, digest = row.key, row.source, row.payload, row.content_hash
        if payload is None:
            return "cannot retry: nothing was kept for this item (see its error)"
        if source == "mail":
            return self.process(
                key, source, payload, self._mail_work(payload), content_hash=digest, retry_of=event_id
            )
        if source == "timer" and payload.startswith(b"timer:"):  # e.g. a recap whose template raised
            timer_id = int(payload.split(b":", 1)[1])
            return self.process(key, source, payload, self._timer_work(timer_id), retry_of=event_id)
        outcomes = self._calendar_object(key, key, payload)
        if "quarantined" in outcomes:
            return "quarantined"
        with self.sessions.begin() as s:  # its meetings are in: the file itself is done with
            row = s.get(m.InboundEvent, event_id)
            if row is not None:
                row.status, row.error = "processed", ""
        return "processed"

    # --- the loop ---------------------------------------------------------------------------
    def run_forever(self) -> None:
        self._install_signals()
        scheduler = schedule.Scheduler()
        scheduler.every(self.config.daemon.poll_seconds).seconds.do(self._safe_pass)
        for inbox in self.inboxes:
            log.info(
                "agent %s running: mailbox %s, calendar %s, transport %s",
                self.config.identity(inbox.team).address,
                _source(inbox.mailbox),
                _source(inbox.calendar) if inbox.calendar else "invites",
                self.outbox.transport.name,
            )
        dashboard = self.start_dashboard()
        health = None
        if self.config.daemon.health_port:
            health = serve_health(
                self.config.daemon.health_port,
                lambda: status_data(self.config, self.sessions, self.clock.now()),
            )
        self._safe_pass()  # at once on start-up: what came due while we were down fires now
        while not self.stop_requested:
            if self.reload_requested:
                self.reload_requested = False
                self.reload()
            scheduler.run_pending()
            # Between full passes, wait on the mailboxes (IMAP IDLE pushes new mail at once), then
            # take in mail, fire due timers and send: a reply gets its answer within seconds.
            self.wait_for_mail(self._wait_seconds(scheduler))
            if not self.stop_requested:
                self._safe_pass(quick=True)
        self.close()
        if health is not None:
            health.shutdown()
        if dashboard is not None:
            dashboard.shutdown()
        log.info("agent stopped")

    def wait_for_mail(self, timeout: float) -> None:
        """Wait on every mailbox this worker watches at once; return when one has news, or after `timeout`."""
        mine = [i.mailbox for i in self.inboxes if i.part("mailbox") in self.watching]
        if len(mine) == 1:
            mine[0].wait(timeout, lambda: self.stop_requested)
            return
        woke = threading.Event()

        def wait_on(mailbox: mailboxes.Mailbox) -> None:
            try:
                mailbox.wait(timeout, lambda: self.stop_requested or woke.is_set())
            except Exception:  # a thread's exception would vanish: log it, and let the pass find out
                log.exception("%s: waiting for mail failed", _source(mailbox))
            woke.set()

        # One thread a mailbox: each IDLEs on its own connection, and the first to hear of mail wakes the rest.
        threads = [threading.Thread(target=wait_on, args=(mb,), daemon=True) for mb in mine]
        for t in threads:
            t.start()
        deadline = time.monotonic() + timeout
        while not (woke.is_set() or self.stop_requested) and time.monotonic() < deadline:
            woke.wait(min(1.0, max(0.0, deadline - time.monotonic())))
        woke.set()
        for t in threads:
            t.join()

    def close(self) -> None:
        """Log out of the mailboxes, stop the parsing helper, and give the sources up to other workers."""
        for inbox in self.inboxes:
            inbox.mailbox.close()
        self.parse_ahead.close()
        if self.shared:
            self.leases.release_all()

    def start_dashboard(self, port: int | None = None) -> ThreadingHTTPServer | None:
        """The dashboard on 127.0.0.1 (off unless [dashboard] port or `port` is given)."""
        from agent.dashboard.server import Dashboard

        port = self.config.dashboard.port if port is None else port
        if not port:
            return None
        token = self.config.dashboard.password()
        return Dashboard(self.sessions, lambda: self.processor, self.clock, token).serve(port)

    def reload(self) -> bool:
        """SIGHUP: read config, rules and templates again; a new version with errors is refused, the old one kept.

        Mailbox, calendar and transport connections stay as they are: changing those needs a restart.
        """
        try:
            runtime = load_runtime(self.reload_config())
            problems = problems_of(runtime)
        except InputError as exc:
            problems = [str(exc)]
        if problems:
            log.error("reload refused, the running version stays:\n%s", "\n".join(problems))
            return False
        self.runtime = runtime
        self.outbox.config = runtime.config
        self.outbox.stage_order = {
            pid: [s.id for s in p.stages] for pid, p in runtime.rules.pipelines.items()
        }
        log.info(
            "reloaded: %d pipelines, %d templates",
            len(runtime.rules.pipelines),
            len(runtime.templates.names()),
        )
        return True

    def _wait_seconds(self, scheduler: schedule.Scheduler) -> float:
        if self.store_failures:  # the database refused the last pass: back off, 2, 4, ... 60 s
            return min(STORE_BACKOFF_MAX, 2.0**self.store_failures)
        idle = scheduler.idle_seconds
        try:
            until_due = self._until_next_due()
        except STORE_FAILURES:
            until_due = QUICK_PASS_SECONDS
        return min(QUICK_PASS_SECONDS, until_due, max(0.0, idle if idle is not None else 1.0))

    def _until_next_due(self) -> float:
        """Seconds until the next timer or email comes due: a recap goes out within a second of its time."""
        with self.sessions.begin() as s:
            # a dry run leaves emails queued: they must not make the loop spin
            due = Repo(s).next_due(emails=not self.outbox.dry_run)
        return QUICK_PASS_SECONDS if due is None else max(0.0, (due - self.clock.now()).total_seconds())

    def _safe_pass(self, quick: bool = False) -> None:
        # `schedule` does not catch exceptions: one failing pass must not end the daemon.
        try:
            report = self.run_once(calendar=not quick)
            self.store_failures = 0
            if report.messages or report.meetings or report.timers or report.outbox.sent:
                log.info(
                    "pass: %d messages, %d meetings, %d timers, %d emails sent, %d quarantined",
                    report.messages,
                    report.meetings,
                    report.timers,
                    report.outbox.sent,
                    report.quarantined,
                )
        except (StoreUnavailable, *STORE_FAILURES) as exc:
            # Locked by another program, disk full, server gone: every item's transaction rolled back
            # and nothing was acknowledged, so nothing is lost; the same items come again.
            self.store_failures += 1
            log.error(
                "the database refused a write (%s); nothing was lost, the pass is retried in %.0f s",
                exc,
                min(STORE_BACKOFF_MAX, 2.0**self.store_failures),
            )
        except Exception:
            log.exception("pass failed; retrying at the next interval")

    def request_stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        self.stop_requested = True

    def request_reload(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        self.reload_requested = True  # signals only set a flag; the loop reloads between items

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may take signals; an embedding caller uses request_stop()
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGHUP, self.request_reload)
        signal.signal(signal.SIGINT, self.request_stop)


def _source(watched: mailboxes.Mailbox | calendars.CalendarSource) -> str:
    """What a lease is taken on: the backend's own cursor name where it has one (server, account, folder)."""
    return str(getattr(watched, "source", watched.name))


class DbCursors:
    """Source cursors in the database, each write its own transaction (after the item's commit)."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    def get(self, source: str) -> str | None:
        with self.sessions.begin() as s:
            return Repo(s).cursor(source)

    def set(self, source: str, value: str) -> None:
        with self.sessions.begin() as s:
            Repo(s).set_cursor(source, value, self.clock.now())


class QuarantineError(Exception):
    """The item cannot be processed as it is; keep it aside with this message."""


def meeting_key(mv: MeetingVersion) -> str:
    stamp = mv.dtstamp.isoformat() if mv.dtstamp else ""
    state = "cancelled" if mv.cancelled else "active"
    when = f"{mv.start.isoformat()}:{mv.end.isoformat()}"
    key = f"meeting:{mv.uid}:{mv.recurrence_id}:{mv.sequence}:{stamp}:{state}:{when}"
    if len(key) > 400:  # Outlook UIDs can be long; the key column is bounded
        key = "meeting:" + hashlib.sha256(key.encode()).hexdigest()
    return key
