"""`chat ...`: the chat posts queued and sent; a person may post a failed or unknown one again, or cancel it."""

from __future__ import annotations

import re
from typing import Any

from agent.chat import status
from agent.cli.app import App, SubParsers, command, group, out, said
from agent.errors import InputError, NotFound
from agent.store import models as m
from agent.store.audit import Trail
from agent.store.repo import Repo

WHO = "the command line"  # who a person's change is put down to in the post's history


def _row(p: m.ChatPost) -> dict[str, Any]:
    return {
        "id": p.id,
        "deal": p.deal_id,
        "channel": p.channel,
        "title": p.title,
        "status": p.status,
        "attempts": p.attempts,
        "due_at": p.due_at.isoformat(),
        "sent_at": p.sent_at.isoformat() if p.sent_at else None,
        "remote_id": p.remote_id,
        "last_error": p.last_error,
        "rule": p.rule,
    }


def cmd_list(app: App) -> int:
    with app.sessions.begin() as s:
        rows = [_row(p) for p in Repo(s).chat_posts(status=app.args.status)]
    out(
        rows,
        app.args.json,
        lambda rs: (
            "\n".join(
                f"{r['id']:>4}  deal {r['deal']!s:<4} {r['channel']:<20} {r['status']:<9} {r['title']}"
                for r in rs
            )
            or "no chat posts"
        ),
    )
    return 0


def _post(repo: Repo, post_id: int) -> m.ChatPost:
    post = repo.chat_post(post_id)
    if post is None:
        raise NotFound(f"no chat post {post_id} (see `chat list`)")
    return post


def cmd_show(app: App) -> int:
    with app.sessions.begin() as s:
        repo = Repo(s)
        p = _post(repo, app.args.id)
        data = {
            **_row(p),
            "text": p.text,
            "facts": [list(f) for f in p.facts or ()],
            "link": p.link,
            "created_at": p.created_at.isoformat(),
            "first_attempt_at": p.first_attempt_at.isoformat() if p.first_attempt_at else None,
            "history": [
                {"at": a.at.isoformat(), "kind": a.kind, "reason": a.reason} for a in repo.chat_history(p)
            ],
        }

    def text(d: dict[str, Any]) -> str:
        lines = [
            f"chat post {d['id']} (deal {d['deal']}, {d['channel']}): {d['status']}, {d['attempts']} attempts",
            f"  {d['title']}",
            f"  due {d['due_at']}; sent {d['sent_at'] or '-'}",
        ]
        lines += [f"  last error: {d['last_error']}"] if d["last_error"] else []
        lines += ["  history:"] + [f"    {h['at'][:19]} {h['kind']:<16} {h['reason']}" for h in d["history"]]
        return "\n".join(lines)

    out(data, app.args.json, text)
    return 0


def cmd_retry(app: App) -> int:
    def requeue(repo: Repo) -> str:
        p = _post(repo, app.args.id)
        try:
            status.requeue(Trail(repo, app.clock.now()), p, WHO)
        except status.TransitionError as exc:  # e.g. a sent post: posting it again would double it
            raise InputError(str(exc)) from None
        return f"chat post {p.id} queued again; the next pass posts it"

    said(app, app.write(requeue), id=app.args.id)
    return 0


def cmd_cancel(app: App) -> int:
    def cancel(repo: Repo) -> str:
        p = _post(repo, app.args.id)
        try:
            status.withdraw(Trail(repo, app.clock.now()), p, f"cancelled by {WHO}")
        except status.TransitionError as exc:
            raise InputError(str(exc)) from None
        return f"chat post {p.id} cancelled"

    said(app, app.write(cancel), id=app.args.id)
    return 0


def cmd_channel(app: App) -> int:
    """A deal's own channel that exists already (the team made it): its posts go there, none is created."""
    bot = app.config.chat.deal_channels
    if not bot:
        raise InputError(
            "[chat] deal_channels names no Slack bot: only a bot can post to a deal's own channel"
        )
    purpose, channel_id = app.args.purpose, app.args.id.strip()
    if not re.fullmatch(r"[CG][A-Z0-9]{6,}", channel_id):
        raise InputError(
            f"--id {channel_id!r}: expected a Slack channel id like C0123ABCDEF (channel details)"
        )

    def record(repo: Repo) -> str:
        deal = repo.deal(app.args.deal)
        if deal is None:
            raise NotFound(f"no deal {app.args.deal} (see `deals list`)")
        info = {**(deal.chat_channels or {}).get(purpose, {}), "id": channel_id, "service": bot}
        info["name"] = app.args.name or info.get("name", "")
        deal.chat_channels = {**(deal.chat_channels or {}), purpose: info}  # a new dict: the ORM sees it
        Trail(repo, app.clock.now()).on(deal)(
            "chat_channel_set", f"{purpose} channel is {channel_id}, set by {WHO}", purpose=purpose
        )
        return f"deal {deal.id}: its {purpose} channel is {channel_id}"

    said(app, app.write(record), id=app.args.deal)
    return 0


def add_parser(sub: SubParsers) -> None:
    actions = group(sub, "chat", "chat posts (Slack, Teams) queued and sent")
    p = command(actions, "list", cmd_list, "list chat posts with their status", reads_only=True)
    p.add_argument("--json", action="store_true")
    p.add_argument("--status", choices=[s.value for s in status.Status], help="only posts with this status")
    p = command(actions, "show", cmd_show, "one chat post: its text, errors and history", reads_only=True)
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p = command(
        actions,
        "retry",
        cmd_retry,
        "queue a failed or unknown post again (it is posted once more)",
        reports=True,
    )
    p.add_argument("id", type=int)
    p = command(
        actions,
        "cancel",
        cmd_cancel,
        "withdraw a queued, failed or unknown post (it never goes)",
        reports=True,
    )
    p.add_argument("id", type=int)
    p = command(
        actions, "channel", cmd_channel, "record a deal's own channel that exists already", reports=True
    )
    p.add_argument("deal", type=int)
    p.add_argument("--id", required=True, help="the Slack channel's id (C0123...)")
    p.add_argument("--purpose", default="deal", help="deal (default), escalation, expansion, ...")
    p.add_argument("--name", default="", help="its name, for people reading the deal's history")
