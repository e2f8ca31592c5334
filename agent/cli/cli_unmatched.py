"""`unmatched ...` and `quarantine ...`: the inputs the agent could not place, for a person to place."""

from __future__ import annotations

from typing import Any

from agent.cli.app import App, SubParsers, command, group, out, said
from agent.daemon.runner import Runner
from agent.errors import NotFound
from agent.handling.cause import Cause
from agent.store.repo import Repo


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
    def assign(repo: Repo, cause: Cause) -> tuple[str, dict[str, Any]]:
        msg = repo.message(app.args.message)
        if msg is None or msg.status not in ("unmatched", "held"):
            raise NotFound(f"no unmatched message {app.args.message} (see `unmatched list`)")
        deal = app.deal(repo, app.args.deal)
        app.runtime.handlers.assigner.message(repo, msg, deal, cause, app.clock.now(), "the command line")
        return f"message {msg.id} assigned to deal {deal.id} {deal.name}", {
            "message": msg.id,
            "deal": deal.id,
        }

    said(app, *app.change("assign", assign))
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
    outcome = Runner(app.config, clock=app.clock).ingest.retry_quarantined(app.args.id)
    said(app, f"item {app.args.id}: {outcome}", id=app.args.id, outcome=outcome)
    return 0 if outcome == "processed" else 1


def add_parser(sub: SubParsers) -> None:
    unmatched = group(sub, "unmatched", "messages no deal could be found for")
    p = command(unmatched, "list", cmd_unmatched_list, "list unmatched messages", reads_only=True)
    p.add_argument("--json", action="store_true")
    p = command(unmatched, "assign", cmd_unmatched_assign, "tie an unmatched message to a deal", reports=True)
    p.add_argument("message", type=int)
    p.add_argument("deal")

    quarantine = group(sub, "quarantine", "inputs that could not be processed")
    p = command(
        quarantine, "list", cmd_quarantine_list, "list quarantined items with their errors", reads_only=True
    )
    p.add_argument("--json", action="store_true")
    p = command(quarantine, "retry", cmd_quarantine_retry, "process a quarantined item again", reports=True)
    p.add_argument("id", type=int)
