"""The variables every email template can use (documented in docs/templates.md).

Built from stored rows at queue time, so what the email says is fixed when the
decision is made; `sample_context` gives `check` a complete deal to render
every template against.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agent.businesstime import local_day, spoken_day
from agent.config import AgentSection
from agent.deal_data import entities
from agent.domain import Address
from agent.mime.classify import same_mailbox
from agent.outbox.action_items import ActionItem, read_note
from agent.outbox.meeting_text import clean
from agent.outbox.task_samples import task_samples
from agent.pipeline.definition import Pipeline
from agent.store import models as m
from agent.store.queries.deals import People


def person(name: str, email: str) -> dict[str, str]:
    return {"name": name or email.split("@")[0], "email": email}


def deal_context(
    agent: AgentSection,
    deal: m.Deal,
    pipeline: Pipeline | None,
    *,
    recipients: list[dict[str, str]],
    meeting: m.Meeting | None = None,
    notes: list[str] | None = None,
    extra: dict[str, Any] | None = None,
    stage_id: str | None = None,
    people: People | None = None,
) -> dict[str, Any]:
    """`stage_id`: the stage the email speaks of, when it is written again after the deal moved on;
    `people`: the deal's roles and contacts as the store read them (`Repo.people`), else its own."""
    people_of = people or People.of(deal)
    current = stage_id or deal.stage
    stage = pipeline.stage(current) if pipeline and pipeline.has_stage(current) else None
    nxt = pipeline.next_stage(current) if pipeline and stage else None
    titles = {r: d.title for r, d in pipeline.head.roles.items()} if pipeline else {}
    # an unnamed person of ours has no name: the part of an address before the @ signs no email
    ours = {
        r.role: {"name": r.name, "email": r.email, "title": titles.get(r.role, "")} for r in people_of.roles
    }
    for role in pipeline.internal_roles() if pipeline else []:
        ours.setdefault(role, {"name": "", "email": "", "title": titles.get(role, "")})
    ctx: dict[str, Any] = {
        "agent": {"name": agent.name, "address": agent.address},
        "deal": {
            "id": deal.id,
            "name": deal.name,
            "token": deal.token,
            "pipeline": deal.pipeline,
            "pipeline_name": pipeline.head.name if pipeline else deal.pipeline,
            "stage": current,
            "stage_name": stage.name if stage else current,
            "timezone": deal.timezone,
            "account": deal.account.name if deal.account else deal.name,
            "products": list(deal.products or []),
            "entities": entities(deal),  # the client's sites or stations licensing the product
            "contract": {
                "start": _fmt_date(deal.contract_start),
                "end": _fmt_date(deal.contract_end),
                "months": deal.contract_months or "",
                "payment_type": deal.payment_type or "",
            },
            "attributes": dict(deal.attributes or {}),
        },
        "contacts": [{"name": c.name, "email": c.email, "role": c.role} for c in people_of.contacts],
        "people": ours,
        "csm": ours.get("csm", {"name": "", "email": "", "title": ""}),
        "recipients": recipients,
        "stage": {
            "id": stage.id if stage else current,
            "name": stage.name if stage else current,
            "next_steps": list(stage.next_steps) if stage else [],
            "links": dict(stage.links) if stage else {},
        },
        "next_stage": {"id": nxt or "", "name": pipeline.stage(nxt).name if pipeline and nxt else ""},
        "meeting": meeting_context(meeting, deal, agent, notes) if meeting else None,
        "later": {},  # the emails the same rule sends later: {template: {date, day}} (the survey's day)
        "notice": {"message": "", "subject": ""},
    }
    ctx.update(extra or {})
    return ctx


def meeting_context(
    meeting: m.Meeting, deal: m.Deal, agent: AgentSection, notes: list[str] | None = None
) -> dict[str, Any]:
    """The call as its recap tells it: who was there, its agenda, our notes and what was agreed to do.

    Nothing a conferencing provider wrote (join link, meeting ID, passcode, dial-in) is kept,
    from the description or from a note that quotes the invitation.
    """
    tz = deal.timezone
    local = meeting.start.astimezone(ZoneInfo(tz))
    attendees = _attendees(meeting, deal, agent)
    texts, items = read_notes(meeting, deal, agent, notes)
    return {
        "title": meeting.title,
        "type": meeting.type,
        "start": meeting.start.isoformat(),
        "end": meeting.end.isoformat(),
        "date": local.strftime("%A %-d %B %Y"),
        "time": local.strftime("%H:%M"),
        "timezone": tz,
        "description": _agenda(meeting.description),
        "attendees": attendees,
        "notes": texts,
        "action_items": [
            {
                "text": i.text,
                "owner": i.owner,
                "date": i.due.isoformat() if i.due else "",
                "due": spoken_day(i.due, today=local.date()) if i.due else "",
            }
            for i in items
        ],
    }


def read_notes(
    meeting: m.Meeting, deal: m.Deal, agent: AgentSection, notes: list[str] | None
) -> tuple[list[str], list[ActionItem]]:
    """Our notes on the call (conferencing lines out) and their action items, owners among the call's people.

    A relative date ("by Friday") counts from the day of the call, in the client's zone.
    """
    people = [Address(c.email, c.name) for c in deal.contacts]
    people += [Address(r.email, r.name) for r in deal.roles]
    people += [Address(a["email"], a["name"]) for a in _attendees(meeting, deal, agent)]
    written = local_day(meeting.start, deal.timezone)
    texts: list[str] = []
    items: list[ActionItem] = []
    for raw in notes or []:
        note = read_note(clean(raw), people, written)
        texts += [note.text] if note.text else []
        items += note.items
    return texts, items


def later_email(due_at: datetime, tz: str) -> dict[str, str]:
    """An email a rule sends later, as an earlier one names it: its day in the client's zone."""
    day = local_day(due_at, tz)
    return {"date": day.isoformat(), "day": spoken_day(day)}


def _agenda(description: str) -> str:
    """The description as the recap's agenda: a leading "Agenda:" would say it twice under that heading."""
    text = re.sub(r"^agenda\s*:\s*", "", clean(description), flags=re.IGNORECASE)
    return text[:1].upper() + text[1:]


def _attendees(meeting: m.Meeting, deal: m.Deal, agent: AgentSection) -> list[dict[str, str]]:
    """Who was invited, the organiser (usually the CSM) first, by name; never the agent itself.

    The deal's own name for a person wins over the invitation's (Outlook writes "Doe, Jane",
    some servers write the address itself as the name); an unknown person keeps their address.
    """
    known = {c.email.lower(): c.name for c in deal.contacts} | {r.email.lower(): r.name for r in deal.roles}
    invited = [(meeting.organizer, "")] + [(a["email"], a.get("name", "")) for a in meeting.attendees or []]
    found: dict[str, dict[str, str]] = {}
    for email, said in invited:
        email = email.strip().lower()
        if not email or email in found or same_mailbox(email, agent.address):
            continue
        name = known.get(email) or (said.strip() if "@" not in said else "")
        found[email] = {"name": name or email, "email": email}
    return list(found.values())


def _fmt_date(d: date | None) -> str:
    return d.isoformat() if d else ""


def sample_context(agent: AgentSection, pipeline: Pipeline | None) -> dict[str, Any]:
    """A complete deal, meeting and notice, so that `check` renders every branch a template may use."""
    now = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    deal = m.Deal(
        id=1,
        name="Acme Radio",
        pipeline=pipeline.id if pipeline else "standard-onboarding",
        stage=pipeline.stages[1].id if pipeline and len(pipeline.stages) > 1 else "introduction-call",
        token="SAMPLE01",
        timezone="Europe/London",
        contract_start=date(2026, 3, 1),
        contract_end=date(2027, 2, 28),
        contract_months=12,
        payment_type="annual",
        products=["Scheduling", "Analytics"],
        attributes={"region": "EMEA", "entities": ["Acme Radio North", "Acme Radio South"]},
        created_at=now,
    )
    deal.account = m.Account(name="Acme Radio Ltd")
    deal.contacts = [m.Contact(name="Jane Client", email="jane@acme-radio.example", role="client_admin")]
    deal.roles = [m.RoleAssignment(role="csm", name="Sam CSM", email="sam@example.com")]
    meeting = m.Meeting(
        uid="sample",
        title="Acme Radio introduction call",
        type="introduction-call",
        description="Agenda: goals, timeline, who does what.\nJoin Zoom Meeting\nhttps://zoom.us/j/123?pwd=x",
        start=now,
        end=now + timedelta(hours=1),
        status="completed",
        organizer="sam@example.com",
        attendees=[
            {"email": "jane@acme-radio.example", "name": "Jane Client"},
            {"email": agent.address, "name": agent.name},
        ],
    )
    recipients = [person("Jane Client", "jane@acme-radio.example")]
    ctx = deal_context(
        agent,
        deal,
        pipeline,
        recipients=recipients,
        meeting=meeting,
        notes=["We agreed on weekly check-ins.\nAction: Jane to send the user list by Friday."],
        extra={"later": {"survey": later_email(now + timedelta(days=1), "Europe/London")}},
    )
    ctx["notice"] = {"subject": "A sample notice", "message": "Something needs your attention."}
    ctx["question"] = {
        "what": "message",
        "subject": "Quick question",
        "sender": "jane@acme-radio.example",
        "excerpt": "Can we move the training?",
        "options": [
            {"number": 1, "name": "Acme Radio", "ref": "SAMPLE01", "stage": "set-up"},
            {"number": 2, "name": "Acme TV", "ref": "SAMPLE02", "stage": "training"},
        ],
    }
    ctx["draft"] = {
        "subject": "Recap: Acme Radio introduction call [ref:SAMPLE01]",
        "text": "Hello Jane,\n\nThank you for your time.",
        "to": "jane@acme-radio.example",
        "cc": "sam@example.com",
        "deadline": "Tuesday 3 March 14:00 UTC",
        "on_timeout": "send",
        "approval": "",
    }
    # an issue's severity to confirm, and the sync meeting it led to (agent.handling.coordination)
    ctx["issue"] = {
        "kind": "integration",
        "summary": "Users duplicated: ADP users appear twice in the Employee Center",
        "severity": "critical",
        "confirmed": "",
        "evidence": "urgent",
        "reported_by": "jane@acme-radio.example",
        "ticket": "48213",
    }
    ctx["asked_back"] = {"said": "", "reason": ""}
    ctx["sync"] = {
        "title": "Hybrid account sync: Acme Radio",
        "when": "Tuesday 3 March 2026, 10:00 (Europe/London)",
        "minutes": 15,
        "free": True,
        "about": "integration issue (critical): Users duplicated",
        "days": 14,
    }
    # a task's approval request, and a Consulted person's question (agent.handling.tasks)
    consulted = {"name": "Alex AM", "email": "alex@example.com", "role": "Account Manager"}
    ctx["approval_task"] = {
        "id": "import-data",
        "title": "Import the client's data",
        "responsible": "Customer Success Manager",
        "accountable": "Onboarding Manager",
        "done_by": "sam@example.com",
        "answered": [{**consulted, "answer": "The old system's export drops inactive users.\nCheck them."}],
        "unanswered": [{"name": "Jane Client", "email": "jane@acme-radio.example", "role": "Client admin"}],
        "asked_back": {"said": "maybe", "reason": 'not one of the answers understood: "maybe"'},
        "news": "alex@example.com answered",
    }
    ctx["consult"] = {"task": "Import the client's data", "question": "Which system holds your user list?"}
    ctx["digest"] = {
        "date": "Monday 2 March 2026",
        "messages": [
            {
                "id": 7,
                "subject": "Hello",
                "sender": "someone@unknown.example",
                "received_at": "2026-03-01 10:00",
                "reason": "no deal token, thread, contact, client domain or deal name matched",
            },
        ],
    }
    ctx["digest"]["overdue"] = [
        {"deal": "Acme Radio", "task": "Import the client's data", "due": "2026-02-27"}
    ]
    ctx["digest"]["unanswered"] = [{"deal": "Acme TV", "sent": "2026-02-26"}]
    ctx["digest"]["waiting"] = [
        {"subject": "Training dates", "sender": "jo@acme.example", "deals": "Acme Radio, Acme TV"}
    ]
    ctx["digest"]["approvals"] = [{"deal": "Acme Radio", "to": "won", "approver": "olivia@example.com"}]
    ctx["digest"]["late"] = [{"deal": "Acme TV", "stage": "set-up", "days": 20, "target": 14}]
    row = {
        "in_onboarding": 12,
        "went_live": 2,
        "time_to_live_days": {"median": 31.5, "p90": 44.0},
        "stuck": [{"deal": "Acme TV", "id": 2, "stage": "set-up", "days": 20.0, "target_days": 14}],
        "overdue_tasks_by_responsible": {"sam@example.com": 2},
        "emails_sent": 40,
        "replies_received": 17,
        "meetings_held": 9,
        "no_shows": 1,
        "csat": {"average": 4.5, "answers": 2, "distribution": {"4": 1, "5": 1}},
    }
    ctx["scorecard"] = {"since": "2026-02-23", "until": "2026-03-02", "all": row}
    ctx.update(task_samples())  # task, escalation, informed, plan
    return ctx
