"""The runner: one pass after another (mail, calendar, timers, digests, outbox), and the loop between them.

It only runs: what an item does is agent.handling, how an item is committed or quarantined is
agent.daemon.work, and how sources become items is agent.daemon.ingest. Each part of a pass is
supervised (a crash is logged and backed off, the others go on); signals only set a flag, and
the item in hand is finished before the loop stops.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import FrameType
from typing import TYPE_CHECKING

import schedule
from sqlalchemy.orm import Session, sessionmaker

from agent.calendars.base import CalendarSource
from agent.chat.queue import ChatOutbox
from agent.clock import Clock, SystemClock
from agent.config import Config
from agent.daemon.health_note import HealthNote, health_path
from agent.daemon.ingest import Ingest, PassReport
from agent.daemon.poison import PoisonMemory, note_path
from agent.daemon.sd_notify import Notifier
from agent.daemon.waiting import source_of, wait_for_mail
from agent.daemon.work import UnitOfWork
from agent.deferred import load_calendar, load_mailbox, load_transport  # built later if a server is away
from agent.handling.chat_failures import ChatFailures
from agent.handling.digests import Digests
from agent.handling.notices import DeliveryFailures
from agent.health_server import serve as serve_health
from agent.leases import Leases
from agent.mailboxes.base import Mailbox, MailboxUnavailable
from agent.mime.parse_ahead import ParseAhead
from agent.outbox.queue import Outbox
from agent.replies.reading import read_text
from agent.runtime import load_runtime, reload_runtime
from agent.store.cursors import DbCursors
from agent.store.db import STORE_FAILURES, StoreUnavailable, open_store
from agent.store.repo import Repo

if TYPE_CHECKING:  # Flask is imported only when the dashboard is on
    from agent.dashboard.serve import DashboardServer

log = logging.getLogger(__name__)
STARTUP_SIGNALS = {signal.SIGHUP, signal.SIGTERM}  # held back until the loop's handlers are in place
QUICK_PASS_SECONDS = 30.0  # the longest a due timer (a recap, a delayed email) waits between full passes
PART_BACKOFF_MAX = 300.0  # a part that keeps crashing is restarted at most this far apart
STORE_BACKOFF_MAX = 60.0  # while the database is locked or full, passes are retried at most this far apart


@dataclass
class Inbox:
    """One team's mailbox and calendar (the main team's name is "")."""

    team: str
    mailbox: Mailbox
    calendar: CalendarSource | None

    def part(self, kind: str) -> str:
        """Its name in `status` and in the logs: mailbox, calendar, mailbox:emea, ..."""
        return f"{kind}:{self.team}" if self.team else kind


class Runner:
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
        self.stop_requested = False
        self.clock = clock or SystemClock()
        self.runtime = load_runtime(config)
        self.sessions = sessions or open_store(config.store_url, config.store.busy_timeout_seconds)
        # Several workers may share a PostgreSQL store (SQLite has one writer, guarded by the
        # state folder's lock): each source is then watched by the worker holding its lease.
        self.shared = not config.store_url.startswith("sqlite")
        poison = PoisonMemory(note_path(config.state_dir, config.daemon.worker_id))
        self.note = HealthNote(health_path(config.state_dir, config.daemon.worker_id))
        self.work = UnitOfWork(
            self.sessions,
            self.clock,
            shared=self.shared,
            poison=poison,
            budget_seconds=config.daemon.item_budget_seconds,
            budget_mb=config.daemon.item_memory_mb,
        )
        cursors = DbCursors(self.sessions, self.clock)
        self.inboxes = [Inbox("", load_mailbox(config, cursors), load_calendar(config, cursors, self.clock))]
        for team in config.teams:
            own = config.for_team(team)
            self.inboxes.append(
                Inbox(team.name, load_mailbox(own, cursors), load_calendar(own, cursors, self.clock))
            )
        max_bytes = int(config.mailbox.max_message_mb * 1e6)
        self.parse_ahead = ParseAhead(
            config.addresses(), max_bytes, config.mailbox.parse_processes, read=read_text
        )
        self.ingest = Ingest(
            config,
            self.work,
            lambda: self.runtime.handlers,
            self.parse_ahead,
            self.clock,
            lambda: self.stop_requested,
        )
        self.digests = Digests(config, self.sessions, self.work, self.clock)
        self.outbox = Outbox(
            self.sessions,
            config,
            load_transport(config),
            self.clock,
            stage_order=self.runtime.stage_order(),
            dry_run=dry_run,
            on_failure=self._delivery_failed,
        )
        self.worker = config.daemon.worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.outbox.worker = self.worker
        self.outbox.claim_seconds = config.daemon.claim_seconds if self.shared else 0.0
        # chat notifications beside email (docs/chat.md): off without [[chat.channels]]
        self.chat = (
            ChatOutbox(
                self.sessions,
                config,
                self.clock,
                on_failure=self._chat_failed,
                dry_run=dry_run,
                hold_seconds=self.outbox.claim_seconds,
            )
            if config.chat.channels
            else None
        )
        self.last_mail_error = ""
        self.notify = Notifier()  # systemd's Type=notify and watchdog; nothing outside systemd
        self.on_backlog: Callable[[str, int], None] | None = None  # told how many messages wait, mid-pass
        self.store_failures = 0  # passes in a row that the database refused
        self.crashes: dict[str, tuple[int, float]] = {}  # part -> (crashes in a row, monotonic retry time)
        lease = config.daemon.lease_seconds
        self.leases = Leases(self.sessions, self.clock.now, self.worker, lease, len(self.sources()))
        self.watching = {i.part("mailbox") for i in self.inboxes}  # the mailboxes it watched last pass

    @property
    def mailbox(self) -> Mailbox:
        """The main team's mailbox."""
        return self.inboxes[0].mailbox

    @property
    def calendar(self) -> CalendarSource | None:
        return self.inboxes[0].calendar

    # --- one pass --------------------------------------------------------------------------------
    def run_once(self, *, calendar: bool = True) -> PassReport:
        report = PassReport()
        if self.shared:
            self._supervised("leases", self.leases.balance)
        for inbox in self.inboxes:
            self._supervised(inbox.part("mailbox"), partial(self.ingest_mail, report, inbox))
        if calendar:
            for inbox in self.inboxes:
                self._supervised(inbox.part("calendar"), partial(self.ingest_calendar, report, inbox))
        self._supervised("timers", lambda: self.ingest.timers(report))
        handlers = self.runtime.handlers
        self._supervised("digest", lambda: self.digests.unmatched(handlers.enqueuer))
        self._supervised(
            "digests",
            lambda: self.digests.people(handlers.enqueuer, self.runtime.pipelines, handlers.calendar),
        )
        if not self.stop_requested:
            self._supervised("outbox", lambda: self._flush(report))
        if not self.stop_requested and self.chat is not None:
            self._supervised("chat", self._flush_chat)
        return report

    def ingest_mail(self, report: PassReport, inbox: Inbox) -> None:
        part = inbox.part("mailbox")
        if not self.holds(part, source_of(inbox.mailbox)):
            return
        try:
            self.ingest.mail(report, inbox.mailbox, lambda n: self._backlog(part, n))
            self.health(part)
        except MailboxUnavailable as exc:
            # Logged by the backend with its backoff; timers, calendar and outbox go on meanwhile.
            self.last_mail_error = str(exc)
            self.health(part, str(exc))

    def _backlog(self, part: str, waiting: int) -> None:
        self.note.backlog(part, waiting)
        self.notify.busy(f"{part}: {waiting} messages to go")  # a long pass is no hang (WatchdogSec)
        if self.on_backlog is not None:  # a person watching a terminal (`run --once`)
            self.on_backlog(part, waiting)

    def ingest_calendar(self, report: PassReport, inbox: Inbox) -> None:
        part, calendar = inbox.part("calendar"), inbox.calendar
        if calendar is None or not self.holds(part, source_of(calendar)):
            return
        try:
            self.ingest.calendar(report, calendar)
            self.health(part)
        except StoreUnavailable:
            raise  # ours, not the calendar's: the pass stops and is tried again
        except Exception as exc:  # a calendar server answering 500 must not stop mail, timers or sending
            log.warning("calendar %s unavailable: %s", calendar.name, exc)
            self.health(part, f"{type(exc).__name__}: {exc}")

    def _flush(self, report: PassReport) -> None:
        result = report.outbox = self.outbox.flush(lambda: self.stop_requested)
        if result.postponed or result.failed:
            self.health("outbox", self.outbox.last_error)
        else:  # a pass with nothing to send proves nothing: an error stays until a send succeeds
            self.health("outbox", proven=bool(result.sent))

    def _delivery_failed(self, email_id: int, error: str) -> None:
        DeliveryFailures(self.runtime.handlers.enqueuer, self.work, self.clock)(email_id, error)

    def _flush_chat(self) -> None:
        assert self.chat is not None
        result = self.chat.flush(lambda: self.stop_requested)
        self.health("chat", result.error, proven=bool(result.sent))  # like the outbox's, above

    def _chat_failed(self, post_id: int, error: str) -> None:
        ChatFailures(self.runtime.handlers.enqueuer, self.work, self.clock, self.sessions)(post_id, error)

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
            raise StoreUnavailable.of(part, exc) from exc
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
            if part.split(":")[0] in ("mailbox", "calendar", "outbox", "chat"):
                self.health(part, f"crashed: {type(exc).__name__}: {exc}")
            return
        self.crashes.pop(part, None)

    def health(self, part: str, error: str = "", *, proven: bool = True) -> None:
        """Remember how a part last did, for `status`: the last success, and the last error if any.

        In the daemon's own note first (agent.daemon.health_note), which does not depend on the store.
        """
        self.note.record(part, error, self.clock.now(), proven=proven)
        with self.sessions.begin() as s:
            Repo(s).record_health(part, error, self.clock.now(), proven=proven)

    # --- sources and leases ------------------------------------------------------------------------
    def sources(self) -> list[tuple[str, str]]:
        """(part, source) of every mailbox and calendar the config watches, whichever worker watches them."""
        found = [(i.part("mailbox"), source_of(i.mailbox)) for i in self.inboxes]
        return found + [(i.part("calendar"), source_of(i.calendar)) for i in self.inboxes if i.calendar]

    def holds(self, part: str, source: str) -> bool:
        """Whether this worker watches the source now (always, on a store of its own)."""
        if not self.shared:
            return True
        held = self.leases.holds(part, source)
        (self.watching.add if held else self.watching.discard)(part)
        return held

    # --- the loop ------------------------------------------------------------------------------------
    def run_forever(self) -> None:
        self._install_signals()
        scheduler = schedule.Scheduler()
        scheduler.every(self.config.daemon.poll_seconds).seconds.do(self._safe_pass)
        for inbox in self.inboxes:
            log.info(
                "agent %s running: mailbox %s, calendar %s, transport %s",
                self.config.identity(inbox.team).address,
                source_of(inbox.mailbox),
                source_of(inbox.calendar) if inbox.calendar else "invites",
                self.outbox.transport.name,
            )
        dashboard = self.start_dashboard()
        health = None
        if self.config.daemon.health_port:
            health = serve_health(self.config, self.sessions, self.clock, self.note)
        notify = self.notify
        self._safe_pass()  # at once on start-up: what came due while we were down fires now
        notify.ready(f"running: {len(self.inboxes)} mailbox(es), transport {self.outbox.transport.name}")
        while not self.stop_requested:
            notify.watchdog()  # the loop turns: a hang stops the pings, and systemd restarts us
            if self.reload_requested:
                self.reload_requested = False
                self.reload()
            scheduler.run_pending()
            # Between full passes, wait on the mailboxes (IMAP IDLE pushes new mail at once), then
            # take in mail, fire due timers and send: a reply gets its answer within seconds.
            self.wait_for_mail(self._wait_seconds(scheduler))
            if not self.stop_requested:
                self._safe_pass(quick=True)
        notify.stopping("stopping: the item in hand is finished first")
        self.close()
        if health is not None:
            health.shutdown()
        if dashboard is not None:
            dashboard.shutdown()
        log.info("agent stopped")

    def wait_for_mail(self, timeout: float) -> None:
        """Wait on every mailbox this worker watches at once; return when one has news, or after `timeout`."""
        mine = [i.mailbox for i in self.inboxes if i.part("mailbox") in self.watching]
        wait_for_mail(mine, timeout, lambda: self.stop_requested)

    def close(self) -> None:
        """Log out of the mailboxes, stop the parsing helper, and give the sources up to other workers."""
        for inbox in self.inboxes:
            inbox.mailbox.close()
        self.parse_ahead.close()
        if self.work.poison is not None:
            self.work.poison.close()
        self.note.close()
        if self.shared:
            self.leases.release_all()

    def start_dashboard(self) -> DashboardServer | None:
        """The dashboard on [dashboard] bind:port (off unless port is set)."""
        from agent.dashboard.serve import DashboardServer
        from agent.dashboard.site import Site

        settings = self.config.dashboard
        if not settings.port:
            return None
        site = Site(
            self.sessions, lambda: self.runtime, self.clock, settings.password(), settings.user_header
        )
        return DashboardServer(site, settings, settings.port).start()

    def reload(self) -> bool:
        """SIGHUP: read config, rules and templates again; a new version with errors is refused, the old one kept.

        Mailbox, calendar and transport connections stay as they are: changing those needs a restart.
        """
        runtime, problems = reload_runtime(self.reload_config())
        if runtime is None:
            log.error("reload refused, the running version stays:\n%s", "\n".join(problems))
            return False
        self.runtime = runtime
        self.outbox.config = runtime.config
        self.outbox.stage_order = runtime.stage_order()
        if self.chat is not None:
            self.chat.config = runtime.config
        log.info(
            "reloaded: %d pipelines, %d templates", len(runtime.pipelines), len(runtime.templates.names())
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
            repo = Repo(s)
            due = repo.next_due(emails=not self.outbox.dry_run)
            if self.chat is not None and not self.chat.dry_run:  # a post's retry is as good as an email's
                due = min(filter(None, (due, repo.next_chat_due())), default=None)
        return QUICK_PASS_SECONDS if due is None else max(0.0, (due - self.clock.now()).total_seconds())

    def _safe_pass(self, quick: bool = False) -> None:
        # `schedule` does not catch exceptions: one failing pass must not end the daemon.
        try:
            report = self.run_once(calendar=not quick)
            self.store_failures = 0
            self.note.record("store", "", self.clock.now())
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
            self.note.record("store", str(getattr(exc, "orig", exc)), self.clock.now())
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
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STARTUP_SIGNALS)  # what came during start-up, now
