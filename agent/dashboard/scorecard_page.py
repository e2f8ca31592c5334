"""The scorecard: the pipelines' KPI cards, the figures per pipeline and CSM, and their charts."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, render_template

from agent.dashboard import charts, views
from agent.dashboard.site import Site
from agent.store.repo import Repo


def blueprint(site: Site) -> Blueprint:
    page = Blueprint("scorecard", __name__)

    @page.get("/scorecard")
    def scorecard() -> str:
        now = site.clock.now()
        with site.sessions.begin() as s:
            repo = Repo(s)
            card = views.card_for(repo, site.pipelines, now)
            everything = card["rows"][0]
            stages = [
                (k, v["median"])
                for k, v in everything["time_in_stage_days"].items()
                if v["median"] is not None
            ]
            return render_template(
                "scorecard.html",
                title="Scorecard",
                card=card,
                time_in_stage=charts.bars(stages),
                csat=charts.scores(views.csat_points(repo, now - timedelta(days=365))),
            )

    return page
