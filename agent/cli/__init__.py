"""The command line: python -m agent <command>. Exit codes: 0 ok, 1 failure, 2 bad input."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from agent import deals, logs
from agent.clock import Clock, SystemClock
from agent.config import Config, find_config, load_config
from agent.errors import InputError, NotFound
from agent.handover import parse_contact, read_csv
from agent.health import status_data
from agent.lock import AlreadyRunning, instance_lock
from agent.outbox.context import deal_context, person
from agent.processor import Cause
from agent.service import Agent, Runtime, load_runtime, problems_of
from agent.store import models as m
from agent.store.db import make_engine, migrate, open_store, schema_state
from agent.store.repo import Repo

log = logging.getLogger("agent")


class App:
    """What every command needs, opened lazily: config first (before any I/O), then the store."""

    def __init__(self, args: argparse.Namespace, clock: Clock | None = None) -> None:
        self.args = args
        self.clock = clock or SystemClock()
        self.config: Config = self.load()
        self._runtime: Runtime | None = None
        self._sessions: sessionmaker[Session] | None = None

    def load(self) -> Config:
        """The config as the command line names it (again on SIGHUP)."""
        state = Path(self.args.state) if self.args.state else None
        if self.args.command == "demo" and state is None:
            state = Path("state/demo")  # the demo never touches the real state folder
        return load_config(find_config(self.args.config), state_override=state)

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = load_runtime(self.config)
        return self._runtime

    @property
    def sessions(self) -> sessionmaker[Session]:
        if self._sessions is None:
            self._sessions = open_store(self.config.store_url, self.config.store.busy_timeout_seconds)
        return self._sessions

    @contextmanager
    def change(self, what: str) -> Iterator[tuple[Repo, Cause]]:
        """One transaction for one command that changes deals, recorded as an event."""
        with self.sessions.begin() as s:
            repo = Repo(s)
            cause = self.runtime.processor.begin(repo, f"cli:{what}:{uuid.uuid4()}", "cli", self.clock.now())
            assert cause is not None
            yield repo, cause

    def deal(self, repo: Repo, ref: str) -> m.Deal:
        found = repo.deal(int(ref)) if ref.isdigit() else repo.deal_by_name(ref)
        if found is None:
            raise NotFound(f"no deal {ref!r} (give its id or its exact name; see `deals list`)")
        return found


def out(data: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    print(json.dumps(data, indent=2, default=str) if as_json else text(data))


# --- commands ---------------------------------------------------------------------------------
def cmd_check(app: App) -> int:
    rt = app.runtime
    for issue in rt.rules.issues:
        if issue.severity != "error":
            print(issue)
    problems = problems_of(rt)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 2
    rules = sum(len(p.rules) for p in rt.rules.pipelines.values())
    print(
        f"ok: config {app.config.source}; {len(rt.rules.pipelines)} pipelines ({', '.join(rt.rules.pipelines)}), "
        f"{rules} rules; {len(rt.templates.names())} templates"
    )
    return connect_check(app.config) if app.args.connect else 0


def connect_check(config: Config) -> int:
    """`check --connect`: log in to the mailbox, calendar and transport; read nothing, send nothing."""
    from agent import mailboxes
    from agent.outbox.transports import load as load_transport

    cursors = MemoryCursors()
    parts: list[tuple[str, Callable[[], str]]] = [
        ("mailbox", lambda: mailboxes.load(config, cursors).probe()),
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
    from agent import calendars

    source = calendars.load(config, cursors)
    return source.probe() if source is not None else "invitations are read from the mailbox"


class MemoryCursors:
    """Cursors for a probe, which moves none."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, source: str) -> str | None:
        return self.values.get(source)

    def set(self, source: str, value: str) -> None:
        self.values[source] = value


def cmd_run(app: App) -> int:
    try:
        with instance_lock(app.config.state_dir):
            return _run(app)
    except AlreadyRunning as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _run(app: App) -> int:
    agent = Agent(app.config, clock=app.clock, dry_run=app.args.dry_run, reload_config=app.load)
    if app.args.once:
        r = agent.run_once()
        print(
            f"pass done: {r.messages} messages, {r.meetings} meeting updates, {r.timers} timers, "
            f"{r.outbox.sent} emails sent, {r.outbox.withdrawn} withdrawn, {r.outbox.held} held (dry run), "
            f"{r.quarantined} quarantined"
        )
        return 0
    agent.run_forever()
    return 0


def cmd_report(app: App) -> int:
    """The onboarding scorecard for a period: a table, --json or --csv."""
    from agent.reports.format import csv_text, table
    from agent.reports.scorecard import Period, scorecard

    now = app.clock.now()
    until = _day(app.args.until, now) if app.args.until else now
    since = _day(app.args.since, now) if app.args.since else until - timedelta(days=30)
    with app.sessions.begin() as s:
        card = scorecard(
            Repo(s),
            app.runtime.rules.pipelines,
            Period(since, until),
            now,
            pipeline=app.args.pipeline,
            csm=app.args.csm,
        )
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
    import signal
    import threading

    from agent.dashboard.server import Dashboard

    port = app.args.port or app.config.dashboard.port or 8932
    server = Dashboard(
        app.sessions, lambda: app.runtime.processor, app.clock, app.config.dashboard.password()
    ).serve(port)
    print(f"dashboard on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C to stop)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with suppress(KeyboardInterrupt):
        stop.wait()
    server.shutdown()
    return 0


def cmd_status(app: App) -> int:
    """How each part is doing: last success and error, backlog, quarantine and outbox sizes."""
    data = status_data(app.config, app.sessions, app.clock.now())

    def text(d: dict[str, Any]) -> str:
        lines = [f"state {d['state']}: {d['deals']} deals"]
        for part in ("mailbox", "calendar", "outbox"):
            p = d[part]
            line = f"  {part:<9} {p['backend']:<8} last ok {p.get('last_ok') or 'never'}"
            if "backlog" in p:
                line += f"; {p['backlog']} waiting"
            if p.get("last_error"):
                line += f"; last error at {p.get('error_at')}: {p['last_error']}"
            lines.append(line)
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


def cmd_deals_list(app: App) -> int:
    with app.sessions.begin() as s:
        rows = [
            {"id": d.id, "name": d.name, "pipeline": d.pipeline, "stage": d.stage, "team": d.team}
            for d in Repo(s).deals()
        ]
    out(
        rows,
        app.args.json,
        lambda rs: (
            "\n".join(f"{r['id']:>4}  {r['name']:<30} {r['pipeline']:<22} {r['stage']}" for r in rs)
            or "no deals"
        ),
    )
    return 0


def cmd_deals_show(app: App) -> int:
    with app.sessions.begin() as s:
        repo = Repo(s)
        deal = app.deal(repo, app.args.deal)
        data = deals.summary(repo, deal, app.runtime.rules.pipelines.get(deal.pipeline), app.clock.now())
    out(data, app.args.json, _show_text)
    return 0


def _show_text(d: dict[str, Any]) -> str:
    lines = [
        f"{d['name']} (#{d['id']}, ref {d['token']}) — {d['pipeline']}, stage {d['stage']}",
        f"  in this stage {d['current_stage_seconds'] / 86400:.1f} days"
        f"{' (late)' if d['current_stage_late'] else ''}; onboarding so far "
        f"{d['total_onboarding_seconds'] / 86400:.1f} days",
        "  stages:",
    ]
    lines += [
        f"    {h['stage']:<22} {h['entered_at']} → {h['exited_at'] or 'now'}" for h in d["stage_history"]
    ]
    lines.append("  tasks:")
    lines += [
        f"    [{'x' if t['status'] == 'done' else ' '}] {t['title']} (R {t['R']}, A {t['A']})"
        for t in d["tasks"]
    ]
    lines.append("  emails:")
    lines += [f"    {e['status']:<9} {e['template']:<12} to {', '.join(e['to'])}" for e in d["emails"]]
    lines.append("  timeline:")
    lines += [
        f"    {e['at'][:16]} {e['kind']:<18} {e['rule'] + ': ' if e['rule'] else ''}{e['reason']}"
        for e in d["events"]
    ]
    return "\n".join(lines)


def cmd_deals_add(app: App) -> int:
    a = app.args
    roles = {"csm": ("", a.csm)}
    for item in a.role or []:
        role, _, email = item.partition("=")
        if not email:
            raise InputError(f"--role {item!r}: expected role=email")
        roles[role.strip()] = ("", email.strip())
    attrs = {}
    for item in a.attr or []:
        key, _, value = item.partition("=")
        attrs[key.strip()] = value.strip()
    spec = deals.DealSpec(
        name=a.name,
        pipeline=a.pipeline or deals.default_pipeline(app.config, a.team or ""),
        contacts=[parse_contact(c) for c in a.contact or []],
        roles=roles,
        stage=a.stage,
        timezone=a.timezone,
        account=a.account,
        client_domains=a.domain or [],
        products=a.product or [],
        attributes=attrs,
        team=a.team or "",
    )
    problems = deals.validate_spec(spec, app.runtime.rules.pipelines, [t.name for t in app.config.teams])
    if problems:
        raise InputError("\n".join(problems))
    with app.change("deals-add") as (repo, cause):
        if repo.deal_by_name(spec.name) is not None:
            raise InputError(f"a deal named {spec.name!r} exists already")
        deal = app.runtime.processor.hand_over(repo, spec, cause, app.clock.now())
        print(f"deal {deal.id} {deal.name}: {deal.pipeline}, stage {deal.stage}")
    return 0


def cmd_deals_import(app: App) -> int:
    result = read_csv(Path(app.args.file), app.runtime.rules.pipelines, app.config)
    created = 0
    for line, spec in result.specs:
        with app.change("deals-import") as (repo, cause):
            if repo.deal_by_name(spec.name) is not None:
                result.problems.append(f"{app.args.file}:{line}: deal {spec.name!r} exists already; skipped")
                continue
            app.runtime.processor.hand_over(repo, spec, cause, app.clock.now())
            created += 1
    for p in result.problems:
        print(p, file=sys.stderr)
    print(f"imported {created} deals; {len(result.problems)} problems")
    return 2 if result.problems else 0


def cmd_deals_advance(app: App) -> int:
    with app.change("deals-advance") as (repo, cause):
        deal = app.deal(repo, app.args.deal)
        pipeline = app.runtime.rules.pipelines[deal.pipeline]
        target = app.args.stage or pipeline.next_stage(deal.stage)
        if not target or not pipeline.has_stage(target):
            raise InputError(f"stage {target!r}: expected one of {[s.id for s in pipeline.stages]}")
        app.runtime.processor.advance(
            repo, deal, target, cause, app.clock.now(), who="the command line", force=app.args.force
        )
        print(f"deal {deal.id} {deal.name}: stage {deal.stage}")
    return 0


def cmd_deals_task_done(app: App) -> int:
    with app.change("task-done") as (repo, cause):
        deal = app.deal(repo, app.args.deal)
        if repo.task(deal.id, app.args.task) is None:
            keys = [t.key for t in repo.tasks(deal.id)]
            raise InputError(f"task {app.args.task!r}: not on deal {deal.id}; expected one of {keys}")
        app.runtime.processor.complete_task(
            repo, deal, app.args.task, cause, app.clock.now(), who="the command line"
        )
        print(f"deal {deal.id} {deal.name}: task {app.args.task} done; stage {deal.stage}")
    return 0


def cmd_deals_approve(app: App) -> int:
    with app.change("approve") as (repo, cause):
        deal = app.deal(repo, app.args.deal)
        if not app.runtime.processor.decide_approval(
            repo, deal, not app.args.reject, cause, app.clock.now(), who="the command line"
        ):
            raise InputError(f"deal {deal.id} has no pending approval")
        print(f"deal {deal.id} {deal.name}: stage {deal.stage}")
    return 0


def cmd_deals_no_show(app: App) -> int:
    with app.change("no-show") as (repo, cause):
        deal = app.deal(repo, app.args.deal)
        meetings = [
            mt
            for mt in repo.meetings_for(deal.id)
            if mt.status in ("scheduled", "completed") and mt.start <= app.clock.now()
        ]
        if app.args.meeting:
            meetings = [mt for mt in meetings if mt.uid == app.args.meeting]
        if not meetings:
            raise InputError(
                f"deal {deal.id} has no meeting that has started{' with that UID' if app.args.meeting else ''}"
            )
        app.runtime.processor.meetings.mark_no_show(
            repo, meetings[-1], cause, app.clock.now(), who="the command line"
        )
        print(f"'{meetings[-1].title}' marked a no-show")
    return 0


def cmd_outbox_list(app: App) -> int:
    with app.sessions.begin() as s:
        rows = [
            {
                "id": e.id,
                "deal": e.deal_id,
                "template": e.template,
                "to": [a["email"] for a in e.to],
                "cc": [a["email"] for a in e.cc],
                "status": e.status,
                "message_id": e.message_id,
                "due_at": e.due_at.isoformat(),
                "subject": e.subject,
            }
            for e in Repo(s).outbox_all()
        ]
    out(
        rows,
        app.args.json,
        lambda rs: (
            "\n".join(
                f"{r['id']:>4}  deal {r['deal']!s:<4} {r['template']:<12} {r['status']:<9} {', '.join(r['to'])}"
                for r in rs
            )
            or "outbox empty"
        ),
    )
    return 0


def _email(repo: Repo, email_id: int) -> m.OutboxEmail:
    email = repo.outbox(email_id)
    if email is None:
        raise NotFound(f"no email {email_id} in the outbox (see `outbox list`)")
    return email


def cmd_outbox_show(app: App) -> int:
    with app.sessions.begin() as s:
        repo = Repo(s)
        e = _email(repo, app.args.id)
        data = {
            "id": e.id,
            "deal": e.deal_id,
            "template": e.template,
            "status": e.status,
            "message_id": e.message_id,
            "to": [a["email"] for a in e.to],
            "cc": [a["email"] for a in e.cc],
            "subject": e.subject,
            "due_at": e.due_at.isoformat(),
            "created_at": e.created_at.isoformat(),
            "sent_at": e.sent_at.isoformat() if e.sent_at else None,
            "attempts": e.attempts,
            "last_error": e.last_error,
            "delivery": dict(e.delivery or {}),
            "rule": e.rule,
            "in_reply_to": e.in_reply_to,
            "references": list(e.references),
            "body_text": e.body_text,
            "history": [
                {"at": a.at.isoformat(), "kind": a.kind, "reason": a.reason} for a in repo.email_history(e)
            ],
        }

    def text(d: dict[str, Any]) -> str:
        lines = [
            f"email {d['id']} ({d['template']}, deal {d['deal']}): {d['status']}, {d['attempts']} attempts",
            f"  to {', '.join(d['to'])}" + (f"; cc {', '.join(d['cc'])}" if d["cc"] else ""),
            f"  subject {d['subject']}",
            f"  due {d['due_at']}; sent {d['sent_at'] or '-'}",
        ]
        lines += [f"  {who}: {state}" for who, state in d["delivery"].items()]
        lines += [f"  last error: {d['last_error']}"] if d["last_error"] else []
        lines += ["  history:"] + [f"    {h['at'][:19]} {h['kind']:<16} {h['reason']}" for h in d["history"]]
        return "\n".join(lines)

    out(data, app.args.json, text)
    return 0


def cmd_outbox_retry(app: App) -> int:
    with app.sessions.begin() as s:
        repo = Repo(s)
        e = _email(repo, app.args.id)
        if e.status not in ("failed", "withdrawn"):
            raise InputError(f"email {e.id} is {e.status}; only failed or withdrawn emails can be retried")
        e.status, e.due_at, e.attempts, e.last_error = "queued", app.clock.now(), 0, ""
        repo.audit(
            app.clock.now(),
            "email_requeued",
            deal_id=e.deal_id,
            event_id=None,
            rule=e.rule,
            reason=f"{e.template}: queued again by the command line",
            outbox_id=e.id,
        )
        print(f"email {e.id} queued again; the next pass sends it")
    return 0


def cmd_outbox_cancel(app: App) -> int:
    with app.sessions.begin() as s:
        repo = Repo(s)
        e = _email(repo, app.args.id)
        if e.status not in ("queued", "failed"):
            raise InputError(f"email {e.id} is {e.status}; only queued or failed emails can be cancelled")
        e.status, e.last_error = "withdrawn", "cancelled by the command line"
        repo.audit(
            app.clock.now(),
            "email_withdraw",
            deal_id=e.deal_id,
            event_id=None,
            rule=e.rule,
            reason=f"{e.template}: cancelled by the command line",
            outbox_id=e.id,
        )
        print(f"email {e.id} cancelled")
    return 0


def cmd_unmatched_list(app: App) -> int:
    with app.sessions.begin() as s:
        rows = [
            {
                "id": x.id,
                "message_id": x.message_id,
                "subject": x.subject,
                "from": x.sender,
                "received_at": x.received_at.isoformat(),
                "reason": x.match_reason,
                "candidates": x.candidates,
            }
            for x in Repo(s).unmatched()
        ]
    out(
        rows,
        app.args.json,
        lambda rs: (
            "\n".join(f"{r['id']:>4}  {r['from']:<30} {r['subject'][:50]:<50} {r['reason']}" for r in rs)
            or "nothing unmatched"
        ),
    )
    return 0


def cmd_unmatched_assign(app: App) -> int:
    with app.change("assign") as (repo, cause):
        msg = repo.message(app.args.message)
        if msg is None or msg.status not in ("unmatched", "held"):
            raise NotFound(f"no unmatched message {app.args.message} (see `unmatched list`)")
        deal = app.deal(repo, app.args.deal)
        app.runtime.processor.messages.assign(repo, msg, deal, cause, app.clock.now(), "the command line")
        print(f"message {msg.id} assigned to deal {deal.id} {deal.name}")
    return 0


def cmd_quarantine_list(app: App) -> int:
    with app.sessions.begin() as s:
        rows = [
            {"id": q.id, "key": q.key, "source": q.source, "at": q.received_at.isoformat(), "error": q.error}
            for q in Repo(s).quarantined()
        ]
    out(
        rows,
        app.args.json,
        lambda rs: (
            "\n".join(f"{r['id']:>4}  {r['key'][:50]:<50} {r['error']}" for r in rs) or "quarantine empty"
        ),
    )
    return 0


def cmd_quarantine_retry(app: App) -> int:
    outcome = Agent(app.config, clock=app.clock).retry_quarantined(app.args.id)
    print(f"item {app.args.id}: {outcome}")
    return 0 if outcome == "processed" else 1


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
    rendered = rt.templates.render(app.args.template, ctx)
    print(f"Subject: {rendered.subject}\n\n{rendered.html if app.args.html else rendered.text}")
    return 0


def cmd_demo(app: App) -> int:
    from agent.demo import run_demo

    logging.getLogger().setLevel(logging.WARNING)  # the demo narrates; the log would only repeat it
    return run_demo(app.config)


# --- the parser ---------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agent", description=__doc__)
    parser.add_argument(
        "--config", help="config file (default: agent.toml, else $AGENT_CONFIG, else defaults)"
    )
    parser.add_argument("--state", help="runtime data folder (overrides [paths] state)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[App], int], help_: str, parent: Any = sub) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_, description=help_)
        p.set_defaults(fn=fn)
        return p

    p = add("check", cmd_check, "validate the config, every rules file and every template")
    p.add_argument(
        "--connect",
        action="store_true",
        help="also log in to the mailbox, calendar and transport (sends nothing)",
    )
    add("migrate", cmd_migrate, "upgrade the database schema to this version's (back it up first)")
    p = add(
        "report", cmd_report, "the onboarding scorecard: per pipeline and CSM, for a period (default 30 days)"
    )
    p.add_argument("--since", help="first day, YYYY-MM-DD (default: 30 days before --until)")
    p.add_argument("--until", help="the day after the last, YYYY-MM-DD (default: now)")
    p.add_argument("--pipeline", help="only this pipeline's deals")
    p.add_argument("--csm", help="only the deals of this CSM (their email)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    p = add(
        "dashboard", cmd_dashboard, "serve the dashboard on 127.0.0.1 without the daemon (Ctrl-C stops it)"
    )
    p.add_argument("--port", type=int, help="default: [dashboard] port, else 8932")
    p = add("status", cmd_status, "how each part is doing: last contact, errors, backlog, outbox, quarantine")
    p.add_argument("--json", action="store_true")
    p = add("run", cmd_run, "run the agent (forever, or one pass with --once)")
    p.add_argument("--once", action="store_true", help="one full pass, then exit")
    p.add_argument("--dry-run", action="store_true", help="queue and render, send nothing")
    add("demo", cmd_demo, "walk through a whole onboarding on the embedded defaults (state in state/demo)")

    deals_p = sub.add_parser("deals", help="list, show, add, import and move deals").add_subparsers(
        dest="deals_command", required=True, metavar="ACTION"
    )
    p = add("list", cmd_deals_list, "list deals", deals_p)
    p.add_argument("--json", action="store_true")
    p = add(
        "show",
        cmd_deals_show,
        "a deal with its stages, tasks, messages, meetings, emails and events",
        deals_p,
    )
    p.add_argument("deal", help="deal id or exact name")
    p.add_argument("--json", action="store_true")
    p = add("add", cmd_deals_add, "hand a deal over: the pipeline starts", deals_p)
    p.add_argument("--name", required=True)
    p.add_argument("--pipeline", default="", help="default: the team's pipeline, else standard-onboarding")
    p.add_argument("--team", help="the [[teams]] mailbox it belongs to (default: the main one)")
    p.add_argument("--contact", action="append", help="'Name,email[,role]' (repeat for more)")
    p.add_argument("--csm", required=True, help="the CSM's email")
    p.add_argument("--role", action="append", help="role=email for other internal roles (repeat)")
    p.add_argument("--stage", help="start in this stage instead of the first")
    p.add_argument("--timezone", help="the client's IANA time zone")
    p.add_argument("--account", help="the client organisation, if not the deal name")
    p.add_argument("--domain", action="append", help="a client mail domain (default: the contacts' domains)")
    p.add_argument("--product", action="append", help="a product bought (repeat)")
    p.add_argument("--attr", action="append", help="key=value custom attribute (repeat)")
    p = add("import", cmd_deals_import, "import deals from a CSV file (one row per client contact)", deals_p)
    p.add_argument("file")
    p = add("advance", cmd_deals_advance, "move a deal to the next (or a named) stage", deals_p)
    p.add_argument("deal")
    p.add_argument("stage", nargs="?")
    p.add_argument("--force", action="store_true", help="skip the stage's approval")
    p = add("task-done", cmd_deals_task_done, "mark a task of a deal done", deals_p)
    p.add_argument("deal")
    p.add_argument("task")
    p = add("no-show", cmd_deals_no_show, "the deal's last call did not happen: no recap, R is told", deals_p)
    p.add_argument("deal")
    p.add_argument("--meeting", help="the meeting's UID (default: the latest that has started)")
    p = add("approve", cmd_deals_approve, "answer a pending approval to leave a stage", deals_p)
    p.add_argument("deal")
    p.add_argument("--reject", action="store_true")

    outbox_p = sub.add_parser("outbox", help="emails queued and sent").add_subparsers(
        dest="outbox_command", required=True, metavar="ACTION"
    )
    p = add("list", cmd_outbox_list, "list emails with their status", outbox_p)
    p.add_argument("--json", action="store_true")
    p = add(
        "show", cmd_outbox_show, "one email: recipients, delivery per recipient, errors, history", outbox_p
    )
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p = add("retry", cmd_outbox_retry, "queue a failed or withdrawn email again", outbox_p)
    p.add_argument("id", type=int)
    p = add("cancel", cmd_outbox_cancel, "withdraw a queued email (it is never sent)", outbox_p)
    p.add_argument("id", type=int)

    unmatched_p = sub.add_parser("unmatched", help="messages no deal could be found for").add_subparsers(
        dest="unmatched_command", required=True, metavar="ACTION"
    )
    p = add("list", cmd_unmatched_list, "list unmatched messages", unmatched_p)
    p.add_argument("--json", action="store_true")
    p = add("assign", cmd_unmatched_assign, "tie an unmatched message to a deal", unmatched_p)
    p.add_argument("message", type=int)
    p.add_argument("deal")

    q_p = sub.add_parser("quarantine", help="inputs that could not be processed").add_subparsers(
        dest="quarantine_command", required=True, metavar="ACTION"
    )
    p = add("list", cmd_quarantine_list, "list quarantined items with their errors", q_p)
    p.add_argument("--json", action="store_true")
    p = add("retry", cmd_quarantine_retry, "process a quarantined item again", q_p)
    p.add_argument("id", type=int)

    p = add("render", cmd_render, "preview a template for a deal", sub)
    p.add_argument("template")
    p.add_argument("--deal", required=True)
    p.add_argument("--html", action="store_true", help="print the HTML body instead of the text body")
    return parser


def main(argv: Sequence[str] | None = None, clock: Clock | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.setup("DEBUG" if args.verbose else "INFO", "plain")
    try:
        app = App(args, clock)
        daemon = app.config.daemon
        logs.setup(
            "DEBUG" if args.verbose else daemon.log_level, daemon.log_format, logs.secrets_of(app.config)
        )
        code: int = args.fn(app)
        return code
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
