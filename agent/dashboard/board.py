"""The board: a column per stage of a pipeline, a card per deal with its people and next steps.

Filtered by CSM, it opens with that CSM's morning: their overdue tasks, what waits for their
approval and today's meetings, each a link to those deals. Filters are a GET form (no JavaScript):
`?pipeline=..&csm=..&team=..&q=..`, and `only=overdue|approval|today` from the morning's links.
Times are the viewer's: the agent's time zone, or `?tz=Area/City`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from agent.config import TeamSection
from agent.dashboard import when
from agent.dashboard.deal_words import names_on
from agent.dashboard.site import Site
from agent.dashboard.words import plural
from agent.handling.task_mail import people_in, role_title
from agent.pipeline.definition import Pipeline
from agent.store import models as m
from agent.store.queries.board import BoardQueries

MAIN_TEAM = "_main"  # the team filter's value for the main mailbox's deals ([[teams]] names cannot start so)
ONLY = {  # the morning's links: the deals behind one of its counts
    "overdue": "deals with overdue tasks",
    "approval": "deals with something waiting for approval",
    "today": "deals with a meeting today",
}


def blueprint(site: Site) -> Blueprint:
    page = Blueprint("board", __name__)

    @page.get("/")
    @page.get("/board")
    def board() -> str:
        pipelines = site.pipelines
        if not pipelines:
            return render_template("message.html", title="Board", text="No pipelines are loaded.")
        teams = site.runtime().config.teams
        f = Filters.read(request.args, when.viewer_zone(site, request))
        with site.sessions.begin() as s:
            return _page(BoardQueries(s), pipelines, teams, f, site.clock.now())

    return page


# --- what the viewer asked for ------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    pipeline: str = ""
    csm: str = ""  # an address, lower-cased
    team: str = ""  # a [[teams]] name, MAIN_TEAM, or "" for every team
    q: str = ""
    only: str = ""
    tz: str = ""  # the viewer's zone when the address names it (links keep it)
    zone: ZoneInfo = field(default=ZoneInfo("UTC"), compare=False)

    @classmethod
    def read(cls, args: MultiDict[str, str], zone: ZoneInfo) -> Filters:
        """The filters in the address; `zone`: the viewer's (agent.dashboard.when)."""
        only = args.get("only", "")
        return cls(
            pipeline=args.get("pipeline", ""),
            csm=args.get("csm", "").strip().lower(),
            team=args.get("team", ""),
            q=" ".join(args.get("q", "").split()),
            only=only if only in ONLY else "",
            tz=zone.key if args.get("tz") == zone.key else "",
            zone=zone,
        )

    def args(self, **changes: str) -> dict[str, Any]:
        """The address's query for these filters with `changes`, empty values left out (for url_for)."""
        values = {k: getattr(self, k) for k in ("pipeline", "csm", "team", "q", "only", "tz")} | changes
        return {k: v for k, v in values.items() if v}

    def keeps(self, card: Card) -> bool:
        if self.team and card.team != ("" if self.team == MAIN_TEAM else self.team):
            return False
        if self.q and self.q.lower() not in card.words:
            return False
        return not self.only or card.count(self.only, self.csm) > 0


# --- a card -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NextTask:
    title: str
    owner: str  # the Responsible person's name (people, for a client role)
    due: str  # "Tue 3 Dec 2026"; "" without a due date
    overdue: bool


@dataclass(frozen=True)
class Waiting:
    """Something on the deal that a person must approve: a task marked done, a held email, a stage move."""

    what: str
    who: tuple[tuple[str, str], ...]  # (address, name) of those who decide


@dataclass(frozen=True)
class Card:
    id: int
    name: str
    pipeline: str
    stage: str
    team: str
    account: str
    csm: str  # the name
    csm_email: str
    contact: str
    next_meeting: str
    next_task: NextTask | None
    overdue: int
    waiting: tuple[Waiting, ...]
    meetings_today: int
    days: int  # whole days in the stage
    target: int | None
    end: bool
    words: str  # what the search box looks in, lower-cased

    @property
    def late(self) -> bool:
        return not self.end and self.target is not None and self.days > self.target

    @property
    def in_stage(self) -> str:
        if self.target is not None:
            return f"{self.days} of {plural(self.target, 'day')}"
        return f"{plural(self.days, 'day')} in stage"

    @property
    def approvers(self) -> str:
        names = dict.fromkeys(name for w in self.waiting for _, name in w.who)
        return ", ".join(names) or "nobody named"

    def count(self, kind: str, csm: str = "") -> int:
        """How many of `kind` (ONLY's keys) the deal has; approvals: those waiting for `csm` when given."""
        if kind == "overdue":
            return self.overdue
        if kind == "today":
            return self.meetings_today
        return sum(1 for w in self.waiting if not csm or any(a.lower() == csm for a, _ in w.who))


@dataclass(frozen=True)
class Column:
    id: str
    name: str
    end: bool
    target: int | None
    cards: list[Card]

    @property
    def tally(self) -> list[str]:
        """The header's second line, in pieces that do not break inside: "1 deal", "target 14 d"."""
        return [plural(len(self.cards), "deal")] + ([f"target {self.target} d"] if self.target else [])

    @property
    def overdue(self) -> int:
        return sum(c.overdue for c in self.cards)


def cards(
    queries: BoardQueries,
    deals: Iterable[m.Deal],
    pipelines: dict[str, Pipeline],
    now: datetime,
    zone: ZoneInfo,
) -> list[Card]:
    """A card for each deal in a stage of a loaded pipeline; each fact read for all of them at once."""
    shown = [d for d in deals if d.pipeline in pipelines and pipelines[d.pipeline].has_stage(d.stage)]
    ids = [d.id for d in shown]
    today = now.astimezone(zone).date()
    day_starts = datetime.combine(today, time(0), tzinfo=zone)
    entered = queries.stage_entries(ids)
    tasks = queries.unfinished_tasks(ids)
    meetings = queries.meetings_since(ids, min(now, day_starts))
    held = queries.held_emails(ids)
    approvals = queries.pending_approvals(ids)
    out = []
    for deal in shown:
        pipeline = pipelines[deal.pipeline]
        stage = pipeline.stage(deal.stage)
        open_tasks = [t for t in tasks.get(deal.id, []) if t.status == "open"]
        waiting = [
            Waiting(f"task '{t.title}'", _people(deal, pipeline, t.accountable))
            for t in tasks.get(deal.id, [])
            if t.status == "awaiting_approval"
        ]
        waiting += [
            Waiting(
                f"{email.template} email",
                tuple((a["email"], a.get("name") or a["email"]) for a in asked if a.get("email"))
                or _people(deal, pipeline, email.approver_role or "csm"),
            )
            for email, asked in held.get(deal.id, [])
        ]
        waiting += [
            Waiting(f"leaving {stage.name}", ((a.approver, _name_of(deal, a.approver)),))
            for a in approvals.get(deal.id, [])
        ]
        calls = meetings.get(deal.id, [])
        upcoming = next((c for c in calls if c.start >= now), None)
        csm = next((r for r in deal.roles if r.role == "csm"), None)
        contact = next((c for c in deal.contacts if c.role == "client_admin"), None) or next(
            iter(deal.contacts), None
        )
        account = deal.account.name if deal.account else ""
        out.append(
            Card(
                id=deal.id,
                name=deal.name,
                pipeline=deal.pipeline,
                stage=deal.stage,
                team=deal.team,
                account=account if account != deal.name else "",
                csm=(csm.name or csm.email) if csm else "",
                csm_email=csm.email.lower() if csm else "",
                contact=(contact.name or contact.email) if contact else "",
                next_meeting=when.moment(upcoming.start, zone) if upcoming else "",
                next_task=_next_task(deal, pipeline, open_tasks, now, zone),
                overdue=sum(1 for t in open_tasks if t.due_at is not None and t.due_at < now),
                waiting=tuple(waiting),
                meetings_today=sum(1 for c in calls if c.start.astimezone(zone).date() == today),
                days=int((now - entered.get(deal.id, deal.created_at)).total_seconds() // 86400),
                target=stage.target_days,
                end=stage.end,
                words=" ".join([deal.name, account, *(f"{c.name} {c.email}" for c in deal.contacts)]).lower(),
            )
        )
    return out


def _next_task(
    deal: m.Deal, pipeline: Pipeline, open_tasks: list[m.Task], now: datetime, zone: ZoneInfo
) -> NextTask | None:
    """The open task due first (those without a due date after the others, in the order they came)."""
    task = min(open_tasks, key=lambda t: (t.due_at is None, t.due_at or now, t.id), default=None)
    if task is None:
        return None
    owners = _people(deal, pipeline, task.responsible)
    return NextTask(
        title=task.title,
        owner=", ".join(name for _, name in owners)
        or f"{role_title(pipeline, task.responsible)} (unassigned)",
        due=when.day(task.due_at, zone) if task.due_at else "",
        overdue=task.due_at is not None and task.due_at < now,
    )


def _people(deal: m.Deal, pipeline: Pipeline, role: str) -> tuple[tuple[str, str], ...]:
    return tuple((a.email, a.name or a.email) for a in people_in(deal, pipeline, role))


def _name_of(deal: m.Deal, email: str) -> str:
    return names_on(deal).get(email.lower(), email)


# --- the page -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MorningItem:
    words: str
    href: str  # "" when there is nothing to open


def morning(mine: list[Card], f: Filters) -> list[MorningItem]:
    """A CSM's day in three counts, each linking to its deal, or to the board of those deals."""
    items = []
    for kind in ONLY:
        deals = [c for c in mine if c.count(kind, f.csm)]
        n = sum(c.count(kind, f.csm) for c in deals)
        say = {
            "overdue": plural(n, "overdue task"),
            "approval": f"{n} waiting for your approval",
            "today": f"{plural(n, 'meeting')} today",
        }[kind]
        if len(deals) == 1:
            href = url_for(
                "deal.deal", deal_id=deals[0].id, **f.args(pipeline="", csm="", team="", q="", only="")
            )
        elif deals:
            most = Counter(c.pipeline for c in deals).most_common(1)[0][0]
            href = url_for("board.board", **f.args(only=kind, pipeline=most, q=""))
        else:
            href = ""
        items.append(MorningItem(say, href))
    return items


def _page(
    queries: BoardQueries,
    pipelines: dict[str, Pipeline],
    teams: tuple[TeamSection, ...],
    f: Filters,
    now: datetime,
) -> str:
    csms = queries.csms()
    if f.csm not in csms:
        f = replace(f, csm="")  # nobody's: the whole board
    counts = queries.deals_per_pipeline(f.csm)
    first = next(iter(pipelines))
    pid = (
        f.pipeline
        if f.pipeline in pipelines
        else max(pipelines, key=lambda p: (counts.get(p, 0), p == first))
    )
    f = replace(f, pipeline=pid)
    pipeline = pipelines[pid]
    everyone = cards(queries, queries.board_deals(pid, f.csm), pipelines, now, f.zone)
    in_team = [c for c in everyone if replace(f, q="", only="").keeps(c)]
    in_pipeline = [c for c in in_team if c.pipeline == pid]
    shown = [c for c in in_pipeline if f.keeps(c)]
    by_stage: dict[str, list[Card]] = {s.id: [] for s in pipeline.stages}
    for card in sorted(shown, key=lambda c: (-c.overdue, -c.days, c.name)):
        by_stage[card.stage].append(card)
    return render_template(
        "board.html",
        title="Board",
        pipeline=pipeline,
        f=f,
        pipelines=[(p, pipelines[p].head.name, counts.get(p, 0)) for p in pipelines],
        csms=sorted(csms.items(), key=lambda kv: kv[1].lower()),
        teams=[(MAIN_TEAM, "Main team"), *((t.name, t.display_name or t.name) for t in teams)]
        if teams
        else [],
        columns=[Column(s.id, s.name, s.end, s.target_days, by_stage[s.id]) for s in pipeline.stages],
        morning=morning(in_team, f) if f.csm else [],
        csm_name=csms.get(f.csm, ""),
        shown=len(shown),
        total=len(in_pipeline),
        only=ONLY.get(f.only, ""),
    )
