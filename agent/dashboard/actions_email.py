"""A held email let go or cancelled from the dashboard, as its reviewer's reply "send" or "cancel" does.

Who may decide a held email is who its reply would be taken from (agent.handling.mail.replies):
one held for a role's approval (`approved_by`) only by that role's people on the deal, one to
contacts who opted out only by the deal's CSMs; one held for a plain review by any of us. Let go,
it goes as the reply's "send" sends it: released, and `email_approved` runs the deal's rules.
"""

from __future__ import annotations

from agent.dashboard.actions_flow import Act, Action, Refused
from agent.dashboard.deal_words import and_join
from agent.domain import Address
from agent.handling.our_people import csm_of, responsible
from agent.outbox import status
from agent.pipeline.engine import Trigger
from agent.store import models as m
from agent.store.queries.addresses import OPT_OUT_CONFIRM

EMAILS = "/deals/<int:deal_id>/emails/<int:email>/"


def _email(act: Act, *, held: bool) -> m.OutboxEmail:
    email = act.repo.outbox(int(act.field("email") or 0))
    if email is None or email.deal_id != act.deal.id:
        raise Refused(f"{act.deal.name} has no such email: nothing was changed.")
    allowed = (status.Status.REVIEW,) if held else (status.Status.REVIEW, status.Status.QUEUED)
    if email.status not in allowed:
        state = {
            "queued": "on its way already",
            "sending": "being sent",
            "sent": "sent already",
            "withdrawn": "cancelled already",
            "failed": "failed (the outbox can send it again)",
        }.get(email.status, email.status)
        raise Refused(f"The {email.template} email is {state}: nothing was changed.")
    return email


def _deciders(act: Act, email: m.OutboxEmail) -> tuple[str, tuple[Address, ...]]:
    """Who alone may decide a held email, in words and by address; () when any of us may."""
    if email.status != status.Status.REVIEW:
        return "", ()
    if email.approver_role:
        pipeline = act.runtime.pipelines.get(act.deal.pipeline)
        words = pipeline.role_words(email.approver_role) if pipeline else email.approver_role
        # nobody filling the role: nobody here may let it go either
        return words, responsible(act.repo, act.deal, email.approver_role) or (
            Address("", f"nobody fills {email.approver_role}"),
        )
    if any(r.template == OPT_OUT_CONFIRM for r in act.repo.requests_about(email.id)):
        return "the deal's CSM (it goes to contacts who opted out)", csm_of(act.repo, act.deal)
    return "", ()


def _may_decide(act: Act, email: m.OutboxEmail) -> None:
    words, people = _deciders(act, email)
    if people and act.actor and act.actor.lower() not in {a.email.lower() for a in people}:
        them = ", ".join(a.name or a.email for a in people)
        raise Refused(
            f"Only {words} may decide the {email.template} email ({them}); you are {act.actor}: "
            "nothing was changed.",
            403,
        )


def _called(act: Act) -> str:
    """ "intro email to Jane Doe": the email the form names, by its template and its people."""
    email = act.repo.outbox(int(act.field("email") or 0))
    if email is None:
        return "email"
    people = [{"name": a.get("name") or a["email"]} for a in email.to]
    return f"{email.template} email to {and_join(p['name'] for p in people)}"


def send(act: Act) -> str:
    email = _email(act, held=True)
    _may_decide(act, email)
    trail = act.cause.trail(act.repo, act.now)
    status.release(trail, email, f"approved by {act.who}", arrived_at=act.cause.arrived_at)
    # as a reviewer's "send": the rules waiting for this approval run (`when: {email_approved: ...}`)
    detail = f"{act.who} approved the {email.template} email"
    runner = act.runtime.handlers.runner
    runner.dispatch(
        act.repo, act.deal, [Trigger("email_approved", email.template, detail)], act.cause, act.now
    )
    going = "now" if email.due_at <= act.now else "at its time"
    return f"The {_called(act)} is approved: it goes {going}."


def cancel(act: Act) -> str:
    email = _email(act, held=False)
    _may_decide(act, email)
    trail = act.cause.trail(act.repo, act.now)
    if email.status == status.Status.REVIEW:
        status.withdraw(trail, email, f"cancelled by {act.who}")
    else:
        status.cancel(trail, email, act.who)
    return f"The {_called(act)} is cancelled: it will not be sent."


SEND = Action(
    "email-send",
    EMAILS + "send",
    lambda act: f"Send the {_called(act)}?",
    "Send it",
    send,
)
CANCEL = Action(
    "email-cancel",
    EMAILS + "cancel",
    lambda act: f"Cancel the {_called(act)}?",
    "Cancel the email",
    cancel,
)
