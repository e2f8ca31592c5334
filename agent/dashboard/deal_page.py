"""A deal's page: its facts, contract, tasks and timeline."""

from __future__ import annotations

from flask import Blueprint, render_template

from agent.dashboard import views
from agent.dashboard.site import Site
from agent.store.repo import Repo


def blueprint(site: Site) -> Blueprint:
    page = Blueprint("deal", __name__)

    @page.get("/deals/<int:deal_id>")
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

    return page
