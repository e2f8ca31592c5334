"""How a dashboard action runs: one transaction, kept or only looked at, and the emails it lets go.

An action runs as the command line's do, through the same handlers, in a transaction of its own
with an inbound event of its own (`dashboard:ACTION:UUID`). What it would send is read from the
deal's outbox before and after, inside that transaction: the confirmation page shows it (the
transaction is then rolled back), and an action that would write to a client is kept only once
the person confirmed it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import request

from agent.dashboard.site import Site
from agent.dashboard.when import moment, viewer_zone
from agent.handling.cause import Cause, begin
from agent.outbox.status import Status
from agent.runtime import Runtime
from agent.store import models as m
from agent.store.repo import Repo

GOING = (Status.QUEUED, Status.REVIEW)  # an email the action wrote or let go (a held one waits)


class Refused(Exception):
    """The action cannot be done as asked: nothing changed. `status`: 409 for a form the store has
    moved past (stale, a second click), 403 for someone not allowed, 422 for a form that, completed
    (a reason), would do: its confirmation page is shown again."""

    def __init__(self, text: str, status: int = 409) -> None:
        super().__init__(text)
        self.status = status

    @property
    def fixable(self) -> bool:
        return self.status == 422


@dataclass
class Act:
    """One action being done: the deal, who acts, what the form says, and the handlers to do it with."""

    repo: Repo
    deal: m.Deal
    runtime: Runtime
    cause: Cause
    now: datetime
    actor: str  # an address; "" while the confirmation page is shown to someone not named yet
    fields: Mapping[str, str]
    looking: bool  # only the confirmation page's look: a reason not given yet is not refused

    @property
    def who(self) -> str:
        """The actor in the audit trail's words, as the command line is "the command line"."""
        return f"{self.actor or 'someone'} on the dashboard"

    def field(self, name: str) -> str:
        return " ".join(self.fields.get(name, "").split())


@dataclass(frozen=True)
class Action:
    name: str  # the endpoint, and the inbound event's key
    rule: str  # its address, under the deal's
    title: Callable[[Act], str]  # the confirmation page's question
    button: str
    run: Callable[[Act], str]  # does it, or raises Refused; what was done, in words
    carried: tuple[str, ...] = ()  # the first form's fields the confirmation carries on
    reason: str = ""  # "required" or "optional": the confirmation asks for a reason


@dataclass
class Outcome:
    done: str
    title: str
    deal: str  # its name
    going: list[dict[str, Any]] = field(default_factory=list)  # the emails it queues or lets go
    stopped: list[dict[str, Any]] = field(default_factory=list)  # the emails it withdraws

    @property
    def to_client(self) -> bool:
        """Whether something leaves for a client now (not held for someone's review first)."""
        return any(e["client"] and not e["held"] for e in self.going)


def attempt(
    site: Site,
    action: Action,
    deal_id: int,
    fields: Mapping[str, str],
    actor: str,
    *,
    looking: bool = False,
    keep: Callable[[Outcome], bool] = lambda outcome: False,
) -> Outcome:
    """Run the action in one transaction; commit it when `keep(outcome)` says so, else roll it back
    (`looking`: for the confirmation page, which never keeps it)."""
    runtime, now = site.runtime(), site.clock.now()
    with site.sessions() as s:
        repo = Repo(s)
        deal = repo.deal(deal_id)
        if deal is None:
            raise Refused("That deal does not exist (any more).")
        before = {e.id: e.status for e in repo.outbox_all(deal.id)}
        cause = begin(repo, f"dashboard:{action.name}:{uuid.uuid4()}", "cli", now)
        assert cause is not None  # a new UUID: never seen before
        act = Act(repo, deal, runtime, cause, now, actor, fields, looking)
        try:
            done = action.run(act)
            s.flush()
            outcome = Outcome(done, action.title(act), deal.name)
            zone = viewer_zone(site, request)
            for e in repo.outbox_all(deal.id):
                if before.get(e.id) == e.status:
                    continue
                if e.status in GOING:
                    outcome.going.append(_shown(e, runtime, now, zone))
                elif e.status == Status.WITHDRAWN and e.id in before:
                    outcome.stopped.append(_shown(e, runtime, now, zone))
        except BaseException:
            s.rollback()
            raise
        if not looking and keep(outcome):
            s.commit()
        else:
            s.rollback()
    return outcome


def _shown(e: m.OutboxEmail, runtime: Runtime, now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    """An email as the confirmation page shows it: who gets it by name, when, and its text."""
    party = runtime.handlers.party
    people = [*e.to, *e.cc]
    return {
        "template": e.template,
        "subject": e.subject,
        "to": [_person(a) for a in e.to],
        "cc": [_person(a) for a in e.cc],
        "body": e.body_text,
        "when": "now" if e.due_at <= now else moment(e.due_at, zone),
        "held": e.status == Status.REVIEW,
        "client": any(not party.is_internal(a["email"]) for a in people),
    }


def _person(a: Mapping[str, str]) -> dict[str, str]:
    return {"name": a.get("name") or a["email"], "email": a["email"]}
