"""The board: a column per stage of a pipeline, a card per deal."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, render_template, request

from agent.dashboard import views
from agent.dashboard.site import Site
from agent.store.repo import Repo


def blueprint(site: Site) -> Blueprint:
    page = Blueprint("board", __name__)

    @page.get("/")
    @page.get("/board")
    def board() -> str:
        with site.sessions.begin() as s:
            return _board(site, Repo(s), request.args.get("pipeline", ""), site.clock.now())

    return page


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
