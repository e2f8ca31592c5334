"""What each dashboard page shows, read from the store (no HTML here)."""

from __future__ import annotations

from datetime import datetime

from agent.store.repo import Repo


def csat_points(repo: Repo, since: datetime, until: datetime | None = None) -> list[tuple[datetime, int]]:
    """(when, score) of each contact's survey answer since then (and before `until`), for the chart."""
    return [
        (a.answered_at, a.score) for a in repo.survey_answers(since) if until is None or a.answered_at < until
    ]
