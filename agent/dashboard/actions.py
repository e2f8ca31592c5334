"""What a person can do from the dashboard (POST, behind the CSRF value): each goes through the same
code as the command line and the email commands, and is recorded with who did it."""

from __future__ import annotations

import uuid

from flask import Blueprint, redirect, request, url_for
from werkzeug.wrappers import Response

from agent.dashboard.site import Site
from agent.errors import InputError
from agent.handling.cause import begin
from agent.store.repo import Repo


def blueprint(site: Site) -> Blueprint:
    actions = Blueprint("actions", __name__)

    @actions.post("/unmatched/<int:message_id>/assign")
    def assign(message_id: int) -> Response:
        """One click in the unmatched queue: the message goes to the deal, and its rules run."""
        try:
            done = _assign(site, message_id, int(request.form.get("deal", "0") or 0))
        except (InputError, ValueError) as exc:
            done = f"Not assigned: {exc}"
        return redirect(url_for("unmatched.unmatched", done=done), 303)

    return actions


def _assign(site: Site, message_id: int, deal_id: int) -> str:
    now = site.clock.now()
    with site.sessions.begin() as s:
        repo = Repo(s)
        msg, deal = repo.message(message_id), repo.deal(deal_id)
        if msg is None or msg.status not in ("unmatched", "held") or deal is None:
            raise InputError("that message is no longer waiting, or the deal does not exist")
        cause = begin(repo, f"dashboard:assign:{uuid.uuid4()}", "cli", now)
        assert cause is not None
        site.runtime().handlers.assigner.message(repo, msg, deal, cause, now, "the dashboard")
        return f"'{msg.subject}' is now on {deal.name}"
