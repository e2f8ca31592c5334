"""The unmatched queue: messages no deal claimed, each with why it waits and a picker to file it on one.

The picker starts on no deal: a message filed on the wrong deal moves that deal and may send its
client a recap, so nothing is chosen until a person chooses (the action refuses an empty choice
too). It offers the matcher's candidates first, then the open deals, then the closed ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default
from typing import Any

from flask import Blueprint, render_template, request

from agent.dashboard.site import Site
from agent.dashboard.when import moment, viewer_zone
from agent.mime.addresses import address_list
from agent.pipeline.definition import Pipeline
from agent.store import models as m
from agent.store.repo import Repo

# The matcher's reasons (agent.matching.decide) begin with these words; said plainly for a person.
WHY = {
    "ambiguous": "More than one deal fits it.",
    "doubtful": "Its thread points to one deal and its people to another.",
    "only closed deals fit": "Only deals that are closed fit it: a new deal, or a word on an old one?",
    "no deal token": "Nothing ties it to a deal: the sender is no deal's contact and no deal is named.",
}


@dataclass(frozen=True)
class Choices:
    """The deals a picker offers, each group by name: the matcher's candidates, open, closed."""

    likely: list[tuple[int, str]]
    open: list[tuple[int, str]]
    closed: list[tuple[int, str]]


def blueprint(site: Site) -> Blueprint:
    page = Blueprint("unmatched", __name__)

    @page.get("/unmatched")
    def unmatched() -> str:
        zone = viewer_zone(site, request)
        with site.sessions.begin() as s:
            repo = Repo(s)
            deals = repo.deals()
            messages = [
                {
                    "id": msg.id,
                    "subject": msg.subject or "(no subject)",
                    "sender": msg.sender,
                    "sender_name": _sender_name(msg),
                    "received": moment(msg.received_at, zone),
                    "received_at": msg.received_at.isoformat(),
                    "why": _why(msg.match_reason),
                    "reason": msg.match_reason,
                    "excerpt": msg.excerpt[:300],
                    "choices": choices(deals, site.pipelines, msg.candidates or []),
                }
                for msg in repo.unmatched()
            ]
        return render_template(
            "unmatched.html", title="Unmatched mail", messages=messages, done=request.args.get("done", "")
        )

    return page


def choices(deals: Sequence[m.Deal], pipelines: dict[str, Pipeline], candidates: list[Any]) -> Choices:
    """What a message's picker offers: each deal once, its candidates first, then open, then closed."""
    likely = {int(c) for c in candidates if str(c).isdigit()}
    named = sorted(deals, key=lambda d: (d.name.lower(), d.id))

    def ended(d: m.Deal) -> bool:
        p = pipelines.get(d.pipeline)
        return p is not None and p.has_stage(d.stage) and p.stage(d.stage).end

    return Choices(
        likely=[(d.id, d.name) for d in named if d.id in likely],
        open=[(d.id, d.name) for d in named if d.id not in likely and not ended(d)],
        closed=[(d.id, d.name) for d in named if d.id not in likely and ended(d)],
    )


def _why(reason: str) -> str:
    return next((said for start, said in WHY.items() if reason.startswith(start)), reason)


def _sender_name(msg: m.Message) -> str:
    """The name the sender's From header gives ("" when none, or when the message was not kept)."""
    if not msg.raw:
        return ""
    header = str(BytesHeaderParser(policy=default).parsebytes(msg.raw).get("From", ""))
    return next((a.name for a in address_list(header) if a.name), "")
