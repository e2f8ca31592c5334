"""What each dashboard page shows, read from the store (no HTML here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agent import deals
from agent.pipeline.definition import Pipeline
from agent.store import models as m
from agent.store.repo import Repo


def timeline(repo: Repo, deal: m.Deal, pipeline: Pipeline | None, now: datetime) -> dict[str, Any]:
    """The deal's summary, and everything that happened to it in time order, with the rule and reason."""
    show = deals.summary(repo, deal, pipeline, now)
    entries = [
        {"at": e["at"], "kind": e["kind"], "rule": e["rule"], "reason": e["reason"]} for e in show["events"]
    ]
    entries += [
        {
            "at": msg["received_at"],
            "kind": f"message {msg['direction']}",
            "rule": "",
            "reason": f"'{msg['subject']}' from {msg['from']}: {msg['match_reason']}",
        }
        for msg in show["messages"]
    ]
    show["timeline"] = sorted(entries, key=lambda e: e["at"])
    show["csat"] = _csat(repo, deal) or show["csat"]
    return show


def _csat(repo: Repo, deal: m.Deal) -> str | None:
    """The deal's CSAT as its contacts gave it: their mean, then each one's score on the survey's scale."""
    answers = repo.csat_answers_of(deal.id)
    if not answers:
        return None
    mean = sum(a.score for a in answers) / len(answers)
    each = ", ".join(f"{a.contact_email} {a.score}/{a.scale_max}" for a in answers)
    return f"{mean:.1f} ({each})" if len(answers) > 1 else f"{answers[0].score}/{answers[0].scale_max}"


def csat_points(repo: Repo, since: datetime, until: datetime | None = None) -> list[tuple[datetime, int]]:
    """(when, score) of each contact's survey answer since then (and before `until`), for the chart."""
    return [
        (a.answered_at, a.score) for a in repo.survey_answers(since) if until is None or a.answered_at < until
    ]
