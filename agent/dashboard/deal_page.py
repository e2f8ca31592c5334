"""A deal's page: its facts, what happened (agent.dashboard.story), its people, tasks, emails, meetings
and contract, in the viewer's time zone and with every person, stage and role by name."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from agent import deal_data
from agent.dashboard.deal_words import Words, and_join
from agent.dashboard.site import Site
from agent.dashboard.story import story
from agent.dashboard.when import viewer_zone
from agent.deals import time_in_stage
from agent.handling.task_mail import people_in
from agent.outbox.compose import subject_tag
from agent.pipeline.definition import Pipeline
from agent.store import models as m
from agent.store.repo import Repo

RACI = (("R", "Responsible"), ("A", "Accountable"), ("C", "Consulted"), ("I", "Informed"))
TASK_ORDER = {"awaiting_approval": 0, "open": 1, "done": 2}  # what needs someone first
MEETING_DONE = {"completed": "held", "no_show": "no-show", "cancelled": "cancelled"}
PREVIEW_LINES = 3


def blueprint(site: Site) -> Blueprint:
    page = Blueprint("deal", __name__)

    @page.get("/deals/<int:deal_id>")
    def deal(deal_id: int) -> str | tuple[str, int]:
        zone = viewer_zone(site, request)
        now = site.clock.now()
        with site.sessions.begin() as s:
            repo = Repo(s)
            found = repo.deal(deal_id)
            if found is None:
                return render_template(
                    "message.html", title="No such deal", text="That deal does not exist."
                ), 404
            pipeline = site.pipelines.get(found.pipeline)
            words = Words.of(found, pipeline, zone, now, site.runtime().config.addresses())
            return render_template(
                "deal.html",
                title=found.name,
                deal=facts(repo, found, pipeline, words),
                people=people(repo, found, words),
                tasks=tasks(repo, found, pipeline, words),
                emails=emails(repo, found, words),
                meetings=meetings(repo, found, words),
                days=story(repo, found, pipeline, words),
                zone=zone,
            )

    return page


def facts(repo: Repo, deal: m.Deal, pipeline: Pipeline | None, words: Words) -> dict[str, Any]:
    """The header's facts, the contract, and what the actions need of the deal (id, status, stage)."""
    _, onboarding = time_in_stage(list(repo.visits(deal.id)), pipeline, words.now)
    visit = repo.open_visit(deal.id)
    in_stage = (words.now - visit.entered_at).total_seconds() / 86400 if visit else 0.0
    stage = pipeline.stage(deal.stage) if pipeline and pipeline.has_stage(deal.stage) else None
    target = stage.target_days if stage else None
    return {
        "id": deal.id,
        "name": deal.name,
        "pipeline": deal.pipeline,
        "pipeline_name": pipeline.head.name if pipeline else deal.pipeline,
        "stage": deal.stage,
        "stage_name": words.stage(deal.stage),
        "status": "closed" if stage and stage.end else "open",
        "days_in_stage": in_stage,
        "target_days": target,
        "late": bool(stage and not stage.end and target and in_stage > target),
        "onboarding_days": onboarding / 86400,
        "csm": and_join(r.name or r.email for r in deal.roles if r.role == "csm"),
        "csat": csat(repo, deal, words),
        "client_zone": deal.timezone,
        "missing": [name.replace("_", " ") for name in deal_data.missing(deal, pipeline)],
        "contract": {
            "start": deal.contract_start,
            "end": deal.contract_end,
            "months": deal.contract_months,
            "payment_type": deal.payment_type or "",
        },
        "products": list(deal.products or []),
        "entities": deal_data.entities(deal),
        "document": _document(deal, words),
    }


def csat(repo: Repo, deal: m.Deal, words: Words) -> dict[str, str]:
    """The contacts' survey answers: the figure ("5/5", or their mean) and who gave which."""
    answers = repo.csat_answers_of(deal.id)
    if not answers:
        return {"figure": "" if deal.csat is None else str(deal.csat), "who": ""}
    if len(answers) == 1:
        a = answers[0]
        return {"figure": f"{a.score}/{a.scale_max}", "who": f"from {words.person(a.contact_email)}"}
    mean = sum(a.score for a in answers) / len(answers)
    each = [f"{words.person(a.contact_email)} {a.score}/{a.scale_max}" for a in answers]
    return {"figure": f"{mean:.1f}", "who": ", ".join(each)}


def _document(deal: m.Deal, words: Words) -> dict[str, Any] | None:
    doc = deal_data.contract_document(deal)
    if doc is None:
        return None
    received = doc.get("received_at")  # an ISO time: said in the viewer's zone
    return {
        **doc,
        "from": words.person(str(doc.get("from", ""))),
        "kb": -(-int(doc.get("size") or 0) // 1024),
        "received": words.humane(str(received)) if received else "",
    }


def people(repo: Repo, deal: m.Deal, words: Words) -> dict[str, list[dict[str, Any]]]:
    """The client's contacts and our people on the deal, each with their role's title."""
    out = repo.opted_out(c.email for c in deal.contacts)
    return {
        "contacts": [
            {
                "name": c.name or c.email,
                "email": c.email,
                "role": words.role(c.role),
                "opted_out": c.email.lower() in out,
            }
            for c in deal.contacts
        ],
        "ours": [
            {"name": r.name or r.email, "email": r.email, "role": words.role(r.role)} for r in deal.roles
        ],
    }


def tasks(repo: Repo, deal: m.Deal, pipeline: Pipeline | None, words: Words) -> list[dict[str, Any]]:
    """Each task with the people who do it, answer for it, are asked and are told; overdue ones marked."""
    shown = []
    for t in repo.tasks(deal.id):
        definition = pipeline.task_def(t.key) if pipeline else None
        roles = {"R": [t.responsible], "A": [t.accountable], "C": list(t.consulted), "I": list(t.informed)}
        shown.append(
            {
                "key": t.key,
                "id": t.key,
                "title": t.title,
                "description": definition.description if definition else "",
                "stage": words.stage(t.stage) if t.stage else "",
                "status": t.status,
                "status_words": {"awaiting_approval": "waiting for approval"}.get(t.status, t.status),
                "due": words.when(t.due_at) if t.due_at else "",
                "overdue": t.status != "done" and t.due_at is not None and t.due_at < words.now,
                "done": _done(t, words),
                "raci": [
                    {
                        "word": word,
                        "role": words.role(str(role)),
                        "people": _filling(deal, pipeline, str(role), words),
                    }
                    for letter, word in RACI
                    for role in roles[letter]
                ],
                "order": (TASK_ORDER.get(t.status, 1), t.due_at is None, t.due_at or words.now, t.id),
            }
        )
    return sorted(shown, key=lambda t: t["order"])


def _done(t: m.Task, words: Words) -> str:
    if t.status != "done" or t.completed_at is None:
        return ""
    # a rule that ticked it is the agent ("rule intro-scheduled"): the story says which and why
    who = "the agent" if t.done_by.startswith("rule ") else words.person(t.done_by)
    by = f" by {who}" if t.done_by else ""
    return f"done {words.when(t.completed_at)}{by}"


def _filling(deal: m.Deal, pipeline: Pipeline | None, role: str, words: Words) -> str:
    """Who fills the role on the deal, by name ("" nobody)."""
    found = people_in(deal, pipeline, role) if pipeline else ()
    return and_join(a.name or a.email for a in found)


def emails(repo: Repo, deal: m.Deal, words: Words) -> list[dict[str, Any]]:
    """The deal's emails, those still to go first, then the newest; each with a preview of its body."""
    shown = []
    for e in repo.outbox_all(deal.id):
        lines = [line for line in e.body_text.strip().splitlines()]
        preview = [line for line in lines if line.strip()][:PREVIEW_LINES]
        shown.append(
            {
                "id": e.id,
                "status": e.status,
                "status_words": words.email_status(e),
                "subject": e.subject.replace(f" {subject_tag(deal.token)}", ""),
                "template": e.template.replace("-", " "),
                "to": words.recipients(e.to, deal),
                "cc": words.people(str(a.get("email", "")) for a in e.cc if isinstance(a, dict)),
                "preview": "\n".join(preview),
                "body": "\n".join(lines),
                "more": len(preview) < len([line for line in lines if line.strip()]),
                "order": (e.status == "sent", -(e.sent_at or e.due_at).timestamp()),
            }
        )
    return sorted(shown, key=lambda e: e["order"])


def meetings(repo: Repo, deal: m.Deal, words: Words) -> list[dict[str, Any]]:
    """Calls to come (soonest first), then those past (newest first), with what became of them."""
    shown = []
    for mt in repo.meetings_for(deal.id):
        upcoming = mt.status == "scheduled" and mt.end > words.now
        status = MEETING_DONE.get(mt.status) or ("booked" if upcoming else "ended; counted soon")
        shown.append(
            {
                "title": mt.title,
                "type": words.meeting_type(mt.type),
                "when": f"{words.when(mt.start)}–{words.time(mt.end)}",
                "status": mt.status,
                "status_words": status,
                "upcoming": upcoming,
                "with": words.people(str(a.get("email", "")) for a in mt.attendees if isinstance(a, dict)),
                "order": (not upcoming, mt.start.timestamp() * (1 if upcoming else -1)),
            }
        )
    return sorted(shown, key=lambda mt: mt["order"])
