"""The dashboard's pages: the board, a deal, the scorecard, the unmatched queue (read only)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, render_template, request

from agent.dashboard import charts, views
from agent.dashboard.site import Site
from agent.store.repo import Repo


def blueprint(site: Site) -> Blueprint:
    pages = Blueprint("pages", __name__)

    @pages.get("/")
    @pages.get("/board")
    def board() -> str:
        with site.sessions.begin() as s:
            return _board(site, Repo(s), request.args.get("pipeline", ""), site.clock.now())

    @pages.get("/deals/<int:deal_id>")
    def deal(deal_id: int) -> str | tuple[str, int]:
        with site.sessions.begin() as s:
            repo = Repo(s)
            found = repo.deal(deal_id)
            if found is None:
                return render_template(
                    "message.html", title="No such deal", text="That deal does not exist."
                ), 404
            show = views.timeline(repo, found, site.pipelines.get(found.pipeline), site.clock.now())
            return render_template("deal.html", title=found.name, deal=show)

    @pages.get("/scorecard")
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

    @pages.get("/unmatched")
    def unmatched() -> str:
        with site.sessions.begin() as s:
            repo = Repo(s)
            deals = sorted(((d.id, d.name) for d in repo.deals()), key=lambda d: d[1].lower())
            return render_template(
                "unmatched.html",
                title="Unmatched mail",
                messages=views.unmatched(repo),
                deals=deals,
                done=request.args.get("done", ""),
            )

    return pages


def _board(site: Site, repo: Repo, chosen: str, now: datetime) -> str:
    pipelines = site.pipelines
    if not pipelines:
        return render_template("message.html", title="Board", text="No pipelines are loaded.")
    counts = {p: 0 for p in pipelines}
    for d in repo.deals():
        if d.pipeline in counts:
            counts[d.pipeline] += 1
    pid = (
        chosen
        if chosen in pipelines
        else max(pipelines, key=lambda p: (counts[p], p == next(iter(pipelines))))
    )
    return render_template(
        "board.html",
        title="Board",
        pipeline=pipelines[pid],
        pipelines=[(p, counts[p]) for p in pipelines],
        columns=views.board(repo, pipelines[pid], now),
    )
