"""What a person can do from the dashboard (POST, behind the CSRF value): each goes through the same
code as the command line and the email commands, and is recorded with who did it.

Every action answers at one address: GET is its confirmation page (what it will do, what it will
send, to whom by name, with the text; nothing changes), POST does it. A POST that would send
something to a client and was not confirmed on that page changes nothing and leads there. Done,
it leads back to the deal's page with `?done=` saying what happened. Who acts is the person the
signing-in proxy names, else the one the form names ("Your email"); nobody named, nothing done.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from agent.dashboard import access
from agent.dashboard.actions_deal import GRANT, MOVE, REFUSE, TASK_APPROVE, TASK_DONE, TASK_REJECT
from agent.dashboard.actions_email import CANCEL, SEND
from agent.dashboard.actions_flow import Action, Outcome, Refused, attempt
from agent.dashboard.site import Site
from agent.errors import InputError
from agent.handling.cause import begin
from agent.store.repo import Repo

ACTIONS = (MOVE, GRANT, REFUSE, TASK_DONE, TASK_APPROVE, TASK_REJECT, SEND, CANCEL)


def blueprint(site: Site) -> Blueprint:
    actions = Blueprint("actions", __name__)
    for action in ACTIONS:
        actions.add_url_rule(action.rule, action.name, _view(site, action), methods=["GET", "POST"])

    @actions.post("/unmatched/<int:message_id>/assign")
    def assign(message_id: int) -> Response:
        """One click in the unmatched queue: the message goes to the deal, and its rules run."""
        chosen, actor = request.form.get("deal", ""), access.acting(site, request)
        try:
            if not chosen:
                raise InputError("choose a deal for it first")
            if not actor:  # the audit trail says who filed a client's message on a deal
                raise InputError("say who you are (Your email) first")
            done = _assign(site, message_id, int(chosen), actor)
        except (InputError, ValueError) as exc:
            done = f"Not assigned: {exc}"
        return access.remember(site, request, redirect(url_for("unmatched.unmatched", done=done), 303), actor)

    @actions.app_template_global()
    def stage_moves(deal: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The stage forms of a deal's page: on to the next stage, back to the previous one."""
        pipeline = site.pipelines.get(deal["pipeline"])
        if pipeline is None or not pipeline.has_stage(deal["stage"]):
            return []
        order, here = pipeline.stages, pipeline.stage_index(deal["stage"])
        moves = []
        if here + 1 < len(order):
            later = order[here + 1]
            approval = order[here].requires_approval
            moves.append(
                {"to": later.id, "name": later.name or later.id, "back": False, "approval": approval}
            )
        if here > 0:
            earlier = order[here - 1]
            moves.append(
                {"to": earlier.id, "name": earlier.name or earlier.id, "back": True, "approval": False}
            )
        return moves

    @actions.app_template_global()
    def waiting_approval(deal: Mapping[str, Any]) -> dict[str, str] | None:
        """The deal's request to leave its stage, waiting for its approver: for its answer's buttons."""
        pipeline = site.pipelines.get(deal["pipeline"])
        with site.sessions.begin() as s:
            repo = Repo(s)
            approval, found = repo.pending_approval(deal["id"]), repo.deal(deal["id"])
            if (
                approval is None
                or found is None
                or pipeline is None
                or not pipeline.has_stage(approval.target_stage)
            ):
                return None
            name = next((r.name for r in found.roles if r.email == approval.approver and r.name), "")
            target = pipeline.stage(approval.target_stage)
            return {"approver": name or approval.approver, "to": target.name or target.id}

    @actions.app_template_global()
    def acting_as() -> dict[str, Any]:
        """Whom the forms act for: the proxy's person (fixed), else the address this browser gave last."""
        return {"fixed": bool(site.user_header), "email": access.remembered(site, request)}

    return actions


def _view(site: Site, action: Action) -> Callable[..., ResponseReturnValue]:
    def view(deal_id: int, **path: Any) -> ResponseReturnValue:
        fields = {k: str(v) for k, v in path.items()}
        fields.update({k: request.values.get(k, "") for k in (*action.carried, "reason")})
        if request.method == "GET":
            return _confirmation(site, action, deal_id, fields, access.remembered(site, request))
        return _do(site, action, deal_id, fields)

    return view


def _do(site: Site, action: Action, deal_id: int, fields: dict[str, str]) -> ResponseReturnValue:
    actor = access.acting(site, request)
    if not actor:
        problem = (
            "The signing-in proxy did not say who you are, so nothing was done: ask whoever runs it."
            if site.user_header
            else "Give your email address (for the deal's history, which records who did what): "
            "nothing was done yet."
        )
        return _confirmation(site, action, deal_id, fields, "", problem=problem, status=400)
    confirmed = request.form.get("confirmed") == "1"
    try:
        outcome = attempt(site, action, deal_id, fields, actor, keep=lambda o: confirmed or not o.to_client)
    except Refused as exc:
        return _confirmation(site, action, deal_id, fields, actor, problem=str(exc), refused=exc)
    if outcome.to_client and not confirmed:  # rolled back: the person sees what goes, then decides
        ask = url_for(f"actions.{action.name}", deal_id=deal_id, **_query(fields))
        return access.remember(site, request, redirect(ask, 303), actor)
    back = url_for("deal.deal", deal_id=deal_id, done=outcome.done)
    return access.remember(site, request, redirect(back, 303), actor)


def _query(fields: Mapping[str, str]) -> dict[str, Any]:
    """What the confirmation's address carries: the path's parts and the form's fields, filled ones only."""
    return {k: v for k, v in fields.items() if v}


def _confirmation(
    site: Site,
    action: Action,
    deal_id: int,
    fields: dict[str, str],
    actor: str,
    *,
    problem: str = "",
    refused: Refused | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """The page that shows what the action will do and send, with the form that does it (or why not)."""
    outcome: Outcome | None = None
    try:  # the look also shows what a form sent back for a missing reason would do once completed
        outcome = attempt(site, action, deal_id, fields, actor, looking=True)
    except Refused as exc:
        refused = refused or exc
    if refused is not None:
        problem = str(refused)
        status = status if status != 200 else refused.status
    page = render_template(
        "confirm.html",
        title=outcome.title if outcome else "Not done",
        action=action,
        deal_id=deal_id,
        fields=fields,
        outcome=outcome,
        problem=problem,
        form=outcome is not None and (refused is None or refused.fixable),
        typed=request.form.get("actor", "") or actor,
        post_to=url_for(str(request.endpoint), **(request.view_args or {})),
        proxy=bool(site.user_header),
        signed_in=access.signed_in(site, request),
    )
    return page, status


def _assign(site: Site, message_id: int, deal_id: int, actor: str) -> str:
    now = site.clock.now()
    with site.sessions.begin() as s:
        repo = Repo(s)
        msg, deal = repo.message(message_id), repo.deal(deal_id)
        if msg is None or msg.status not in ("unmatched", "held") or deal is None:
            raise InputError("that message is no longer waiting, or the deal does not exist")
        cause = begin(repo, f"dashboard:assign:{uuid.uuid4()}", "cli", now)
        assert cause is not None
        site.runtime().handlers.assigner.message(repo, msg, deal, cause, now, f"{actor} on the dashboard")
        return f"'{msg.subject}' is now on {deal.name}"
