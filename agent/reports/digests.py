"""What goes in the digests: each CSM's to-do list for the day, and each Accountable person's week.

Pure reads; agent.handling.digests decides when to send them and sends each at most once per person
and day (or week), keyed like every other event.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from agent.pipeline.definition import Pipeline
from agent.reports.scorecard import Period, scorecard
from agent.store import models as m
from agent.store.repo import Repo

INTRO_WAIT = timedelta(days=2)  # an intro with no answer for this long is worth a nudge by the CSM


def csm_emails(repo: Repo, pipelines: dict[str, Pipeline]) -> dict[str, str]:
    """The CSMs of deals still being onboarded: email -> name."""
    return {
        r.email.lower(): r.name
        for d in repo.deals()
        if not _ended(d, pipelines)
        for r in d.roles
        if r.role == "csm" and r.email
    }


def accountable_emails(repo: Repo, pipelines: dict[str, Pipeline]) -> dict[tuple[str, str], set[int]]:
    """Each person (email, name) Accountable for a task of a deal still being onboarded, and those deals."""
    deals = {d.id: d for d in repo.deals() if not _ended(d, pipelines)}
    people: dict[tuple[str, str], set[int]] = defaultdict(set)
    for t in repo.all_tasks():
        deal = deals.get(t.deal_id)
        if deal is None:
            continue
        who = next(
            ((r.email.lower(), r.name) for r in deal.roles if r.role == t.accountable and r.email), None
        )
        if who:
            people[who].add(deal.id)
    return dict(people)


def csm_day(
    repo: Repo, pipelines: dict[str, Pipeline], csm: str, now: datetime
) -> dict[str, list[dict[str, Any]]]:
    """The CSM's deals that need them today; empty lists when nothing does."""
    mine = [d for d in repo.deals() if not _ended(d, pipelines) and _email(d, "csm") == csm]
    ids = {d.id: d for d in mine}
    overdue = []
    for t in repo.open_tasks_due():
        deal = ids.get(t.deal_id)
        if (
            deal is not None
            and t.due_at is not None
            and t.due_at < now
            and _email(deal, t.responsible) == csm
        ):
            overdue.append({"deal": deal.name, "task": t.title, "due": f"{t.due_at:%Y-%m-%d}"})
    unanswered = []
    for d in mine:
        intro = next((e for e in repo.outbox_all(d.id) if e.template == "intro" and e.status == "sent"), None)
        if (
            intro is not None
            and intro.sent_at is not None
            and now - intro.sent_at >= INTRO_WAIT
            and d.stage == intro.stage
            and not repo.client_message_since(d.id, intro.sent_at)
        ):
            unanswered.append({"deal": d.name, "sent": f"{intro.sent_at:%Y-%m-%d}"})
    waiting = [
        {"subject": msg.subject, "sender": msg.sender, "deals": ", ".join(ids[int(c)].name for c in found)}
        for msg in repo.unmatched()
        if msg.status == "held"
        for found in [[c for c in (msg.candidates or []) if str(c).isdigit() and int(c) in ids]]
        if found
    ]
    approvals = []
    for d in mine:
        pending = repo.pending_approval(d.id)
        if pending is not None:
            approvals.append({"deal": d.name, "to": pending.target_stage, "approver": pending.approver})
    late = []
    for d in mine:
        p = pipelines.get(d.pipeline)
        visit = repo.open_visit(d.id)
        target = p.stage(d.stage).target_days if p and p.has_stage(d.stage) else None
        if visit and target and (now - visit.entered_at).days > target:
            late.append(
                {"deal": d.name, "stage": d.stage, "days": (now - visit.entered_at).days, "target": target}
            )
    return {
        "overdue": overdue,
        "unanswered": unanswered,
        "waiting": waiting,
        "approvals": approvals,
        "late": late,
    }


def week(repo: Repo, pipelines: dict[str, Pipeline], deal_ids: set[int], now: datetime) -> dict[str, Any]:
    """The scorecard of the last seven days over these deals (the Accountable person's)."""
    card = scorecard(repo, pipelines, Period(now - timedelta(days=7), now), now, only=deal_ids)
    return {
        "since": card["period"]["since"][:10],
        "until": card["period"]["until"][:10],
        "all": card["rows"][0],
    }


def _ended(deal: m.Deal, pipelines: dict[str, Pipeline]) -> bool:
    p = pipelines.get(deal.pipeline)
    return bool(p and p.has_stage(deal.stage) and p.stage(deal.stage).end)


def _email(deal: m.Deal, role: str) -> str:
    return next((r.email.lower() for r in deal.roles if r.role == role), "")
