"""`deals ...`: list, show, add, import and move deals; the attributes a pipeline's hand-over needs."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

from agent import deal_data, deals
from agent.cli.app import App, SubParsers, command, group, out, said
from agent.cli.cli_attributes import add_command as add_attributes_command
from agent.cli.cli_hybrid import add_commands as add_hybrid_commands
from agent.cli.progress import Progress
from agent.config.values import parse_person
from agent.errors import InputError
from agent.handling.cause import Cause
from agent.handover import parse_contact, read_csv
from agent.store import models as m
from agent.store.repo import Repo


def cmd_list(app: App) -> int:
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


def cmd_show(app: App) -> int:
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
    lines += _data_lines(d)
    lines.append("  tasks:")
    for t in d["tasks"]:
        lines += _task_lines(t)
    if d.get("move_waiting"):
        w = d["move_waiting"]
        lines.append(
            f"  waiting to move to {w['target']} (rule {w['rule']}) until the stage's tasks are done"
        )
    lines.append("  emails:")
    lines += [f"    {e['status']:<9} {e['template']:<12} to {', '.join(e['to'])}" for e in d["emails"]]
    lines.append("  timeline:")
    lines += [
        f"    {e['at'][:16]} {e['kind']:<18} {e['rule'] + ': ' if e['rule'] else ''}{e['reason']}"
        for e in d["events"]
    ]
    return "\n".join(lines)


def _data_lines(d: dict[str, Any]) -> list[str]:
    """What the deal carries: contract terms, products, entities, the signed contract, and what is missing."""
    c = d["contract"]
    terms = [f"{c['start'] or '?'} to {c['end'] or '?'}"] if c["start"] or c["end"] else []
    terms += [f"{c['months']} months"] if c["months"] else []
    terms += [f"paid {c['payment_type']}"] if c["payment_type"] else []
    lines = [f"  contract: {', '.join(terms)}"] if terms else []
    lines += [f"  products: {', '.join(d['products'])}"] if d["products"] else []
    lines += [f"  entities: {', '.join(d['entities'])}"] if d["entities"] else []
    doc = d["contract_document"]
    if doc:
        lines.append(
            f"  signed contract: {doc['filename']} ({doc['content_type']}, {doc['size'] // 1024 + 1} KB), "
            f"from {doc['from']} on {doc['received_at'][:10]}, message {doc['message_id']}"
        )
    if d["missing_attributes"]:
        lines.append(f"  missing: {', '.join(d['missing_attributes'])} (the pipeline requires them)")
    return lines


def _task_lines(t: dict[str, Any]) -> list[str]:
    """A task: done or not, its R and A, and what its RACI recorded (approval, Consulted answers)."""
    mark = {"done": "x", "awaiting_approval": "?"}.get(t["status"], " ")
    waits = " — awaiting approval" if t["status"] == "awaiting_approval" else ""
    lines = [f"    [{mark}] {t['title']} (R {t['R']}, A {t['A']}){waits}"]
    if t.get("approved_by"):
        lines.append(f"        approved by {t['approved_by']}")
    if t.get("rejection") and t["status"] != "done":
        lines.append(f"        not approved: {t['rejection']}")
    for c in t.get("consulted_answers", []):
        said = " ".join(str(c.get("answer", "")).split())
        lines.append(f"        C {c['role']} {c['email']}: {said if said else '(asked, no answer yet)'}")
    return lines


def cmd_add(app: App) -> int:
    a = app.args
    roles = {"csm": _person(a.csm, "--csm")}
    for item in a.role or []:
        role, _, who = item.partition("=")
        if not who:
            raise InputError(f"--role {item!r}: expected role=email or role='Name <email>'")
        roles[role.strip()] = _person(who.strip(), f"--role {role.strip()}")
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
        contract_start=_date(a.contract_start, "--contract-start"),
        contract_end=_date(a.contract_end, "--contract-end"),
        contract_months=a.contract_months,
        payment_type=a.payment_type,
        entities=list(dict.fromkeys(e.strip() for e in a.entity or [] if e.strip())),
        attributes=attrs,
        team=a.team or "",
    )
    problems = deals.validate_spec(spec, app.runtime.rules.pipelines, [t.name for t in app.config.teams])
    if problems:
        raise InputError("\n".join(problems))

    def add(repo: Repo, cause: Cause) -> tuple[str, dict[str, Any], str]:
        if repo.deal_by_name(spec.name) is not None:
            raise InputError(f"a deal named {spec.name!r} exists already")
        deal = app.runtime.handlers.handover(repo, spec, cause, app.clock.now())
        facts = {"id": deal.id, "name": deal.name, "pipeline": deal.pipeline, "stage": deal.stage}
        return (
            f"deal {deal.id} {deal.name}: {deal.pipeline}, stage {deal.stage}",
            facts,
            _missing(app, repo, cause, deal),
        )

    done, facts, warning = app.change("deals-add", add)
    said(app, done, **facts, warning=warning)
    if warning:  # once committed: a write tried again would have said it twice
        print(warning, file=sys.stderr)
    return 0


def _missing(app: App, repo: Repo, cause: Cause, deal: m.Deal) -> str:
    """What the pipeline requires and the hand-over did not give: recorded on the deal; the warning to print."""
    pipeline = app.runtime.rules.pipelines.get(deal.pipeline)
    lacking = deal_data.note_missing(cause.trail(repo, app.clock.now()), deal, pipeline)
    if not lacking:
        return ""
    return (
        f"warning: deal {deal.id} {deal.name}: missing {', '.join(lacking)} "
        f"(required by {deal.pipeline}; see `deals attributes --pipeline {deal.pipeline}`)"
    )


def _date(text: str | None, option: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise InputError(f"{option} {text!r}: expected a date like 2026-12-01") from None


def _person(text: str, option: str) -> tuple[str, str]:
    """(name, email) of one of ours: the emails are signed with the name given here."""
    try:
        return parse_person(text, option)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def cmd_import(app: App) -> int:
    result = read_csv(Path(app.args.file), app.runtime.rules.pipelines, app.config)
    created, shown = 0, Progress("import")
    for n, (line, spec) in enumerate(result.specs, start=1):
        shown(f"{n} of {len(result.specs)} deals", last=n == len(result.specs))

        def hand_over(repo: Repo, cause: Cause, spec: deals.DealSpec = spec) -> str | None:
            if repo.deal_by_name(spec.name) is not None:
                return None
            deal = app.runtime.handlers.handover(repo, spec, cause, app.clock.now())
            return _missing(app, repo, cause, deal)  # the deal is created all the same

        warning = app.change("deals-import", hand_over)  # one deal a transaction: each is waited for alone
        if warning is not None:
            created += 1
            if warning:
                shown.done()  # the warning on a line of its own
                print(f"{app.args.file}:{line}: {warning}", file=sys.stderr)
        else:
            result.problems.append(f"{app.args.file}:{line}: deal {spec.name!r} exists already; skipped")
    shown.done()
    if created:
        app.write(lambda repo: repo.deals_loaded())
    for p in result.problems:
        print(p, file=sys.stderr)
    said(
        app,
        f"imported {created} deals; {len(result.problems)} problems",
        imported=created,
        problems=result.problems,
    )
    return 2 if result.problems else 0


def cmd_advance(app: App) -> int:
    a = app.args
    reason = " ".join((a.reason or "").split())
    if a.force and not reason:
        # an override is recorded with its why: "forced" alone tells the next reader nothing
        raise InputError('--force needs --reason "why the deal moves on anyway"')
    if a.stage and a.stage_option and a.stage != a.stage_option:
        raise InputError(f"two stages given: {a.stage!r} and --stage {a.stage_option!r}")

    def advance(repo: Repo, cause: Cause) -> tuple[str, dict[str, Any]]:
        deal = app.deal(repo, a.deal)
        pipeline = app.runtime.rules.pipelines[deal.pipeline]
        target = a.stage or a.stage_option or pipeline.next_stage(deal.stage)
        if not target or not pipeline.has_stage(target):
            raise InputError(f"stage {target!r}: expected one of {[s.id for s in pipeline.stages]}")
        problem = app.runtime.handlers.runner.advance(
            repo, deal, target, cause, app.clock.now(), who="the command line", force=a.force, reason=reason
        )
        if problem:
            raise InputError(f'deal {deal.id} {deal.name}: {problem} (--force --reason "...")')
        return f"deal {deal.id} {deal.name}: stage {deal.stage}", {"id": deal.id, "stage": deal.stage}

    said(app, *app.change("deals-advance", advance))
    return 0


def cmd_task_done(app: App) -> int:
    def done(repo: Repo, cause: Cause) -> tuple[str, dict[str, Any]]:
        deal = app.deal(repo, app.args.deal)
        if repo.task(deal.id, app.args.task) is None:
            keys = [t.key for t in repo.tasks(deal.id)]
            raise InputError(f"task {app.args.task!r}: not on deal {deal.id}; expected one of {keys}")
        app.runtime.handlers.runner.complete_task(
            repo, deal, app.args.task, cause, app.clock.now(), who="the command line"
        )
        task = repo.task(deal.id, app.args.task)
        state = "waits for its Accountable person's approval" if task and task.status != "done" else "done"
        facts = {
            "id": deal.id,
            "task": app.args.task,
            "status": task.status if task else "",
            "stage": deal.stage,
        }
        return f"deal {deal.id} {deal.name}: task {app.args.task} {state}; stage {deal.stage}", facts

    said(app, *app.change("task-done", done))
    return 0


def cmd_approve(app: App) -> int:
    if app.args.task:
        return _approve_task(app)

    def decide(repo: Repo, cause: Cause) -> tuple[str, dict[str, Any]]:
        deal = app.deal(repo, app.args.deal)
        if not app.runtime.handlers.runner.decide_approval(
            repo, deal, not app.args.reject, cause, app.clock.now(), who="the command line"
        ):
            raise InputError(f"deal {deal.id} has no pending approval")
        return f"deal {deal.id} {deal.name}: stage {deal.stage}", {"id": deal.id, "stage": deal.stage}

    said(app, *app.change("approve", decide))
    return 0


def _approve_task(app: App) -> int:
    """`deals approve DEAL --task KEY [--reject --reason ...]`: a task waiting for its approval."""
    a = app.args

    def decide(repo: Repo, cause: Cause) -> tuple[str, dict[str, Any]]:
        deal = app.deal(repo, a.deal)
        task = repo.task(deal.id, a.task)
        if task is None or task.status != "awaiting_approval":
            waiting = [t.key for t in repo.tasks(deal.id) if t.status == "awaiting_approval"]
            raise InputError(
                f"task {a.task!r}: not waiting for approval on deal {deal.id}; waiting: {waiting}"
            )
        runner = app.runtime.handlers.runner
        now = app.clock.now()
        why = " ".join((a.reason or "").split())
        triggers = runner.tasks.decide(
            repo, deal, task, not a.reject, why, cause, now, who="the command line"
        )
        runner.dispatch(repo, deal, triggers, cause, now)
        facts = {"id": deal.id, "task": task.key, "status": task.status, "stage": deal.stage}
        return (
            f"deal {deal.id} {deal.name}: task {task.key} {task.status.replace('_', ' ')}; stage {deal.stage}"
        ), facts

    said(app, *app.change("approve-task", decide))
    return 0


def cmd_no_show(app: App) -> int:
    def no_show(repo: Repo, cause: Cause) -> tuple[str, dict[str, Any]]:
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
        app.runtime.handlers.meetings.mark_no_show(
            repo, meetings[-1], cause, app.clock.now(), who="the command line"
        )
        return f"'{meetings[-1].title}' marked a no-show", {"id": deal.id, "meeting": meetings[-1].uid}

    said(app, *app.change("no-show", no_show))
    return 0


def add_parser(sub: SubParsers) -> None:
    actions = group(sub, "deals", "list, show, add, import and move deals")
    p = command(actions, "list", cmd_list, "list deals", reads_only=True)
    p.add_argument("--json", action="store_true")
    p = command(
        actions,
        "show",
        cmd_show,
        "a deal with its stages, tasks, messages, meetings, emails and events",
        reads_only=True,
    )
    p.add_argument("deal", help="deal id or exact name")
    p.add_argument("--json", action="store_true")
    p = command(actions, "add", cmd_add, "hand a deal over: the pipeline starts", reports=True)
    p.add_argument("--name", required=True)
    p.add_argument("--pipeline", default="", help="default: the team's pipeline, else standard-onboarding")
    p.add_argument("--team", help="the [[teams]] mailbox it belongs to (default: the main one)")
    p.add_argument("--contact", action="append", help="'Name,email[,role]' (repeat for more)")
    p.add_argument(
        "--csm", required=True, help="the CSM: 'email' or 'Full Name <email>' (emails are signed so)"
    )
    p.add_argument(
        "--role",
        action="append",
        help="role=email or role='Full Name <email>' for other internal roles (repeat)",
    )
    p.add_argument("--stage", help="start in this stage instead of the first")
    p.add_argument("--timezone", help="the client's IANA time zone")
    p.add_argument("--account", help="the client organisation, if not the deal name")
    p.add_argument("--domain", action="append", help="a client mail domain (default: the contacts' domains)")
    p.add_argument("--product", action="append", help="a product bought (repeat)")
    p.add_argument("--entity", action="append", help="a site or station of the client licensing it (repeat)")
    p.add_argument("--contract-start", help="the contract's first day, YYYY-MM-DD")
    p.add_argument("--contract-end", help="the contract's last day, YYYY-MM-DD")
    p.add_argument("--contract-months", type=int, help="the contract's length in months")
    p.add_argument("--payment-type", help="how the client pays (annual, monthly, ...)")
    p.add_argument("--attr", action="append", help="key=value custom attribute (repeat)")
    p = command(
        actions,
        "import",
        cmd_import,
        "import deals from a CSV file (one row per client contact)",
        reports=True,
    )
    p.add_argument("file")
    add_attributes_command(actions)
    p = command(actions, "advance", cmd_advance, "move a deal to the next (or a named) stage", reports=True)
    p.add_argument("deal")
    p.add_argument("stage", nargs="?")
    p.add_argument("--stage", dest="stage_option", help="the stage to move to (default: the next)")
    p.add_argument(
        "--force",
        action="store_true",
        help="move on past the stage's open tasks and its approval (needs --reason)",
    )
    p.add_argument(
        "--reason", help="why: recorded in the deal's events; with it, open tasks do not hold the move"
    )
    p = command(actions, "task-done", cmd_task_done, "mark a task of a deal done", reports=True)
    p.add_argument("deal")
    p.add_argument("task")
    p = command(
        actions,
        "no-show",
        cmd_no_show,
        "the deal's last call did not happen: no recap, R is told",
        reports=True,
    )
    p.add_argument("deal")
    p.add_argument("--meeting", help="the meeting's UID (default: the latest that has started)")
    p = command(
        actions,
        "approve",
        cmd_approve,
        "answer a pending approval to leave a stage (or of a --task)",
        reports=True,
    )
    p.add_argument("deal")
    p.add_argument("--reject", action="store_true")
    p.add_argument("--task", help="a task waiting for its Accountable person's approval")
    p.add_argument("--reason", help="with --task --reject: why, told to the Responsible person")
    add_hybrid_commands(actions)  # hybrid, escalate: in their own module (this one is full)
