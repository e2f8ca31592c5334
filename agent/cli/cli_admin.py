"""The operator's commands: check, migrate, report, dashboard, status, run, demo and render."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from datetime import date, datetime, timedelta
from typing import Any

from agent.cli.app import App, SubParsers, command, out
from agent.cli.progress import Progress
from agent.config import Config
from agent.cursors import MemoryCursors
from agent.daemon.runner import STARTUP_SIGNALS, Runner
from agent.errors import InputError
from agent.health import daemon_data, health_words, status_data
from agent.lock import AlreadyRunning, instance_lock
from agent.outbox.context import deal_context, person
from agent.reports.scorecard import DEFAULT_DAYS
from agent.runtime import chat_notes, problems_of
from agent.store.db import STORE_FAILURES, make_engine, migrate, schema_state
from agent.store.repo import Repo


def cmd_check(app: App) -> int:
    rt = app.runtime
    warnings = [str(i) for i in rt.rules.issues if i.severity != "error"] + chat_notes(rt)
    problems = problems_of(rt)
    rules = sum(len(p.rules) for p in rt.rules.pipelines.values())
    if app.args.json:
        facts = {"config": app.config.source, "pipelines": list(rt.rules.pipelines), "rules": rules}
        out({"ok": not problems, "problems": problems, "warnings": warnings, **facts}, True, str)
        return 2 if problems else (connect_check(app.config) if app.args.connect else 0)
    for line in warnings:
        print(line)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 2
    print(
        f"ok: config {app.config.source}; {len(rt.rules.pipelines)} pipelines ({', '.join(rt.rules.pipelines)}), "
        f"{rules} rules; {len(rt.templates.names())} templates"
    )
    return connect_check(app.config) if app.args.connect else 0


def connect_check(config: Config) -> int:
    """`check --connect`: log in to the mailbox, calendar and transport; read nothing, send nothing."""
    from agent.backends import load_mailbox, load_transport

    cursors = MemoryCursors()
    parts: list[tuple[str, Callable[[], str]]] = [
        ("mailbox", lambda: load_mailbox(config, cursors).probe()),
        ("calendar", lambda: _probe_calendar(config, cursors)),
        ("transport", lambda: load_transport(config).probe()),
    ]
    failed = 0
    for part, probe in parts:
        try:
            print(f"ok: {part}: {probe()}")
        except Exception as exc:  # what went wrong, for a person to fix: the next part is still tried
            failed += 1
            print(f"error: {part}: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 1 if failed else 0


def _probe_calendar(config: Config, cursors: MemoryCursors) -> str:
    from agent.backends import load_calendar

    source = load_calendar(config, cursors)
    return source.probe() if source is not None else "invitations are read from the mailbox"


def cmd_run(app: App) -> int:
    if not app.args.once and threading.current_thread() is threading.main_thread():
        # a reload or stop asked while the agent starts (systemctl reload, a deploy) waits for its
        # handlers, which the loop installs and unblocks, instead of killing it half-started; held
        # back before the state folder's lock is taken, which tells others the agent has started
        signal.pthread_sigmask(signal.SIG_BLOCK, STARTUP_SIGNALS)
    try:
        with instance_lock(app.config.state_dir):
            return _run(app)
    except AlreadyRunning as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _run(app: App) -> int:
    agent = Runner(app.config, clock=app.clock, dry_run=app.args.dry_run, reload_config=app.load)
    if app.args.once:
        shown = Progress("mail")  # a backlog of months takes a while: a person at a terminal sees it go
        agent.on_backlog = lambda part, waiting: shown(f"{part}: {waiting} messages to go", last=not waiting)
        r = agent.run_once()
        shown.done()
        print(
            f"pass done: {r.messages} messages, {r.meetings} meeting updates, {r.timers} timers, "
            f"{r.outbox.sent} emails sent, {r.outbox.withdrawn} withdrawn, "
            + (f"{r.outbox.held} held (dry run), " if app.args.dry_run else "")
            + f"{r.quarantined} quarantined"
        )
        return 0
    agent.run_forever()
    return 0


def cmd_report(app: App) -> int:
    """The onboarding scorecard for a period: a table, --json or --csv (--kpis: the KPI cards alone)."""
    from agent.reports.format import csv_text, kpi_csv, kpi_table, table
    from agent.reports.scorecard import Period, scorecard

    now = app.clock.now()
    until = _day(app.args.until, now) if app.args.until else now
    since = _day(app.args.since, now) if app.args.since else until - timedelta(days=DEFAULT_DAYS)
    shown = Progress("report")
    with app.sessions.begin() as s:
        card = scorecard(
            Repo(s),
            app.runtime.rules.pipelines,
            Period(since, until),
            now,
            pipeline=app.args.pipeline,
            csm=app.args.csm,
            progress=lambda n, of: shown(f"{n} of {of} deals", last=n == of),
        )
    shown.done()
    if app.args.kpis:
        kpis = json.dumps(card["kpis"], indent=2) if app.args.json else None
        print(kpis or (kpi_csv(card) if app.args.csv else kpi_table(card)), end="\n")
        return 0
    print(
        json.dumps(card, indent=2) if app.args.json else csv_text(card) if app.args.csv else table(card),
        end="\n",
    )
    return 0


def _day(text: str, now: datetime) -> datetime:
    """A YYYY-MM-DD from the command line, as midnight in the agent's zone."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{text!r}: expected a date like 2026-11-01") from None
    return datetime.combine(day, datetime.min.time(), tzinfo=now.tzinfo)


def cmd_dashboard(app: App) -> int:
    """The dashboard alone, without the daemon (e.g. on the demo's state): until Ctrl-C."""

    from agent.dashboard.serve import DashboardServer
    from agent.dashboard.site import Site

    settings = app.config.dashboard
    port = app.args.port or settings.port or 8932
    site = Site(app.sessions, lambda: app.runtime, app.clock, settings.password(), settings.user_header)
    server = DashboardServer(site, settings, port).start()
    print(f"dashboard on {server.url} (Ctrl-C to stop)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with suppress(KeyboardInterrupt):
        stop.wait()
    server.shutdown()
    return 0


def cmd_status(app: App) -> int:
    """How each part is doing: last success and error, backlog, quarantine and outbox sizes."""
    try:
        data = status_data(app.config, app.sessions, app.clock.now())
    except STORE_FAILURES as exc:  # what the daemon's own note says is still worth showing
        data = {
            "ready": False,
            "store_error": str(getattr(exc, "orig", exc)),
            "daemon": daemon_data(app.config),
        }
        out(
            data,
            app.args.json,
            lambda d: (
                f"not ready: the store cannot be read ({d['store_error']})\n" + _daemon_line(d["daemon"])
            ),
        )
        return 1

    def text(d: dict[str, Any]) -> str:
        lines = [f"state {d['state']}: {d['deals']} deals; {health_words(d)}"]
        lines.append(_daemon_line(d["daemon"]))
        for part in ("mailbox", "calendar", "outbox"):
            p = d[part]
            line = f"  {part:<9} {p['backend']:<8} last ok {p.get('last_ok') or 'never'}"
            if "backlog" in p:
                line += f"; {p['backlog']} waiting"
            if p.get("oldest_due_seconds"):
                line += f"; the oldest due email has waited {p['oldest_due_seconds']} s"
            if p.get("last_error"):
                line += f"; last error at {p.get('error_at')}: {p['last_error']}"
            lines.append(line)
        if d.get("interrupted"):
            stopped = d["interrupted"]
            lines.append(
                f"  interrupted: the agent stopped while processing {stopped['key']} "
                f"({stopped['times_in_a_row']} times in a row)"
            )
        queued = ", ".join(f"{n} {s}" for s, n in sorted(d["emails"].items())) or "empty"
        lines.append(f"  emails: {queued}")
        lines.append(
            f"  quarantined: {d['quarantined']}; unmatched mail: {d['unmatched']}; "
            f"timers pending: {d['timers_pending']}"
        )
        lat = d["latency"]
        if lat["count"]:
            lines.append(
                f"  reaction time (arrival to email sent), last 24 h: median {lat['p50']} s, "
                f"95% within {lat['p95']} s, worst {lat['max']} s, over {lat['count']} emails"
            )
        return "\n".join(lines)

    out(data, app.args.json, text)
    return 0


def _daemon_line(daemon: dict[str, Any]) -> str:
    if not daemon["running"]:
        return "  daemon    not running" + (
            f" (last seen {daemon['updated_at']})" if daemon.get("updated_at") else ""
        )
    line = f"  daemon    running (pid {daemon['pid']}), last report {daemon['updated_at']}"
    for part in daemon["failing"]:
        record = daemon["parts"][part]
        line += f"; {part} failing since {record.get('error_at')}: {record['last_error']}"
    return line


def cmd_migrate(app: App) -> int:
    engine = make_engine(app.config.store_url)
    before, head = schema_state(engine)
    migrate(engine)
    print(
        f"database schema {before or 'empty'} → {head}"
        if before != head
        else f"database schema {head}: current"
    )
    return 0


def cmd_render(app: App) -> int:
    rt = app.runtime
    with app.sessions.begin() as s:
        repo = Repo(s)
        deal = app.deal(repo, app.args.deal)
        meetings = repo.meetings_for(deal.id)
        recipients = [person(c.name, c.email) for c in deal.contacts]
        ctx = deal_context(
            app.config.identity(deal.team),
            deal,
            rt.rules.pipelines.get(deal.pipeline),
            recipients=recipients,
            meeting=meetings[-1] if meetings else None,
        )
    r = rt.templates.render(app.args.template, ctx)
    data = {"template": app.args.template, "subject": r.subject, "text": r.text, "html": r.html}
    out(data, app.args.json, lambda d: f"Subject: {d['subject']}\n\n{d['html' if app.args.html else 'text']}")
    return 0


def cmd_demo(app: App) -> int:
    logging.getLogger().setLevel(logging.WARNING)  # the demo narrates; the log would only repeat it
    if app.args.pipeline:
        from agent.demo_walk import run_walk

        return run_walk(app.config, app.args.pipeline)
    from agent.demo import run_demo

    return run_demo(app.config)


def add_parser(sub: SubParsers) -> None:
    p = command(
        sub, "check", cmd_check, "validate the config, every rules file and every template", reports=True
    )
    p.add_argument(
        "--connect",
        action="store_true",
        help="also log in to the mailbox, calendar and transport (sends nothing)",
    )
    command(sub, "migrate", cmd_migrate, "upgrade the database schema to this version's (back it up first)")
    p = command(
        sub,
        "report",
        cmd_report,
        f"the onboarding scorecard: per pipeline and CSM, for a period (default {DEFAULT_DAYS} days)",
    )
    p.add_argument("--since", help=f"first day, YYYY-MM-DD (default: {DEFAULT_DAYS} days before --until)")
    p.add_argument("--until", help="the day after the last, YYYY-MM-DD (default: now)")
    p.add_argument("--pipeline", help="only this pipeline's deals")
    p.add_argument("--csm", help="only the deals of this CSM (their email)")
    p.add_argument(
        "--kpis", action="store_true", help="only the pipelines' KPI cards (--csv: a row per card)"
    )
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    p = command(
        sub,
        "dashboard",
        cmd_dashboard,
        "serve the dashboard on [dashboard] bind without the daemon (Ctrl-C stops it)",
    )
    p.add_argument("--port", type=int, help="default: [dashboard] port, else 8932")
    p = command(
        sub,
        "status",
        cmd_status,
        "how each part is doing: last contact, errors, backlog, outbox, quarantine",
        reads_only=True,
    )
    p.add_argument("--json", action="store_true")
    p = command(sub, "run", cmd_run, "run the agent (forever, or one pass with --once)")
    p.add_argument("--once", action="store_true", help="one full pass, then exit")
    p.add_argument("--dry-run", action="store_true", help="queue and render, send nothing")
    p = command(
        sub,
        "demo",
        cmd_demo,
        "walk through a whole onboarding on the embedded defaults (state in state/demo)",
    )
    p.add_argument(
        "--pipeline",
        help="walk this shipped pipeline from hand-over to its end stage (default: the standard story)",
    )


def add_render_parser(sub: SubParsers) -> None:
    """`render` apart: it has always come last in `--help`, after the groups."""
    p = command(sub, "render", cmd_render, "preview a template for a deal", reads_only=True, reports=True)
    p.add_argument("template")
    p.add_argument("--deal", required=True)
    p.add_argument("--html", action="store_true", help="print the HTML body instead of the text body")
