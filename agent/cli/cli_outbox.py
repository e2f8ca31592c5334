"""`outbox ...`: the emails queued and sent; a person may send one again or cancel it."""

from __future__ import annotations

from typing import Any

from agent.cli.app import App, SubParsers, command, group, out, said
from agent.errors import InputError, NotFound
from agent.outbox import status
from agent.store import models as m
from agent.store.audit import Trail
from agent.store.repo import Repo

WHO = "the command line"  # who a person's change is put down to in the email's history


def cmd_list(app: App) -> int:
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


def cmd_show(app: App) -> int:
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


def cmd_retry(app: App) -> int:
    def requeue(repo: Repo) -> str:
        e = _email(repo, app.args.id)
        try:
            status.requeue(Trail(repo, app.clock.now()), e, WHO)
        except status.TransitionError as exc:  # e.g. a queued or sent email: a person's mistake, exit 2
            raise InputError(str(exc)) from None
        return f"email {e.id} queued again; the next pass sends it"

    said(app, app.write(requeue), id=app.args.id)
    return 0


def cmd_cancel(app: App) -> int:
    def cancel(repo: Repo) -> str:
        e = _email(repo, app.args.id)
        try:
            status.cancel(Trail(repo, app.clock.now()), e, WHO)
        except status.TransitionError as exc:  # e.g. one already sent: it cannot be taken back
            raise InputError(str(exc)) from None
        return f"email {e.id} cancelled"

    said(app, app.write(cancel), id=app.args.id)
    return 0


def add_parser(sub: SubParsers) -> None:
    actions = group(sub, "outbox", "emails queued and sent")
    p = command(actions, "list", cmd_list, "list emails with their status", reads_only=True)
    p.add_argument("--json", action="store_true")
    p = command(
        actions,
        "show",
        cmd_show,
        "one email: recipients, delivery per recipient, errors, history",
        reads_only=True,
    )
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p = command(actions, "retry", cmd_retry, "queue a failed or withdrawn email again", reports=True)
    p.add_argument("id", type=int)
    p = command(actions, "cancel", cmd_cancel, "withdraw a queued email (it is never sent)", reports=True)
    p.add_argument("id", type=int)
