"""The unmatched queue: messages no deal claimed, each with a picker to file it on one."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from agent.dashboard import views
from agent.dashboard.site import Site
from agent.store.repo import Repo


def blueprint(site: Site) -> Blueprint:
    page = Blueprint("unmatched", __name__)

    @page.get("/unmatched")
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

    return page
