"""A deal's history as a CSM reads it: one plain sentence per thing that happened, grouped by day.

The audit trail writes a line per decision (a deal taken to won has ~60); a person wants a line per
thing that happened. The lines one input caused (a message, a held call, a hand-over: one audit
event) become one sentence: what happened, then what the agent did about it ("Introduction call
held Tue 6 Oct, 15:00 — recap email sent to Jane Doe"). The rules behind it, how the input was
matched to the deal, the evidence and the agent's own record are its Why, shown on request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from agent.dashboard.deal_words import Words, task_title
from agent.dashboard.words import plural
from agent.pipeline.definition import Pipeline
from agent.store import models as m
from agent.store.queries.story import StoryQueries
from agent.store.repo import Repo

# The order in which a group's lines may headline its sentence: what a person did or said first,
# then what happened in the world; the rest tell what the agent did about it.
HEADLINES = (
    "command",
    "csat_recorded",
    "message_assigned",
    "meeting_completed",
    "meeting_no_show",
    "meeting_cancelled",
    "meeting_rescheduled",
    "meeting_scheduled",
    "meeting_assigned",
    "message_logged",
    "message_ignored",
    "deal_created",
    "task_completed",
    "stage_changed",
)
# Lines a person does not need: a rule's firing is its Why, retries and resends are the outbox's
QUIET = frozenset({"rule_fired", "email_retry", "email_resent", "email_postpone"})
MEETING_DONE = {
    "meeting_completed": "held",
    "meeting_no_show": "marked a no-show",
    "meeting_cancelled": "cancelled",
    "meeting_rescheduled": "moved to",
    "meeting_scheduled": "booked for",
    "meeting_assigned": "put on this deal",
}


@dataclass(frozen=True)
class Fired:
    """A rule behind a sentence: its name in words, its id, why it fired and what it did."""

    name: str
    id: str
    reason: str
    did: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Why:
    rules: list[Fired]
    matched: str  # how the message or meeting was matched to the deal ("" none)
    evidence: list[str]
    record: list[str]  # the audit lines behind the sentence, in words


@dataclass(frozen=True)
class Line:
    at: datetime
    time: str  # in the viewer's zone
    kind: str  # the audit kind of what headlines it
    text: str
    why: Why


@dataclass(frozen=True)
class Day:
    label: str  # "Tue 6 Oct"
    lines: list[Line]


@dataclass
class _World:
    """The deal's rows the sentences name, read once (a handful of queries for the whole story)."""

    deal: m.Deal
    pipeline: Pipeline | None
    words: Words
    keys: dict[int, str]
    messages: Sequence[m.Message]
    meetings: Sequence[m.Meeting]
    emails: dict[int, m.OutboxEmail]
    told_sent: set[int] = field(default_factory=set)  # emails whose sending a sentence already told


def story(repo: Repo, deal: m.Deal, pipeline: Pipeline | None, words: Words) -> list[Day]:
    """What happened to the deal, newest day first; within a day in the order it happened.

    Newest day first because a CSM opens the page to see what changed since they last looked;
    within a day, in time order, because the sentences of a day read as a story."""
    entries = list(repo.events_for(deal.id))
    world = _World(
        deal,
        pipeline,
        words,
        StoryQueries(repo.s).event_keys({e.event_id for e in entries if e.event_id}),
        repo.messages_for(deal.id),
        repo.meetings_for(deal.id),
        {e.id: e for e in repo.outbox_all(deal.id)},
    )
    lines = [line for group in _groups(entries) if (line := _line(group, world)) is not None]
    days: dict[str, list[Line]] = {}
    for line in lines:
        days.setdefault(words.day(line.at), []).append(line)
    return [Day(label, day) for label, day in reversed(days.items())]


def _groups(entries: Iterable[m.AuditEntry]) -> list[list[m.AuditEntry]]:
    """The lines of each input together, in the order the inputs came; the outbox's own lines alone."""
    groups: dict[object, list[m.AuditEntry]] = {}
    for e in entries:
        groups.setdefault(e.event_id if e.event_id is not None else ("alone", e.id), []).append(e)
    return list(groups.values())


def _line(group: list[m.AuditEntry], w: _World) -> Line | None:
    shown = [e for e in group if e.kind not in QUIET]
    if not shown:
        return None
    head = next((e for kind in HEADLINES for e in shown if e.kind == kind and _heads(e)), None)
    rest = [e for e in shown if e is not head]
    clauses = _clauses(rest, w, group[0].at)
    if head is None and not clauses:
        return None  # only an email whose sending an earlier sentence told
    text = _headline(head, w) if head else ""
    said = "; ".join(c for _, c in clauses)
    text = f"{text} — {said}" if text and said else (text or said)
    return Line(
        group[0].at,
        w.words.time(group[0].at),
        head.kind if head else shown[0].kind,
        text[:1].upper() + text[1:],
        _why(group, head, clauses, w),
    )


def _heads(e: m.AuditEntry) -> bool:
    """A rule's task or stage move is something the agent did; a person's is what happened."""
    return not (e.kind in ("task_completed", "stage_changed") and e.rule)


# --- what happened ---------------------------------------------------------------------------------
def _headline(e: m.AuditEntry, w: _World) -> str:
    words = w.words
    if e.kind == "command" and (found := re.match(r"'(.*)' from (\S+)$", e.reason, re.S)):
        return f"{words.person(found.group(2))} asked by email: ‘{found.group(1)}’"
    if e.kind == "csat_recorded":
        d = e.details
        scale = str(d.get("scale", "")).partition("-")[2]
        said = f": “{d['comment']}”" if d.get("comment") else ""
        return f"{words.person(str(d.get('contact', '')))} rated the onboarding {d.get('score')} out of {scale}{said}"
    if e.kind in MEETING_DONE and (mt := _meeting(e, w)) is not None:
        kind = words.meeting_type(mt.type)
        if e.kind == "meeting_no_show":
            return f"{kind} of {words.when(mt.start)} marked a no-show"
        if e.kind == "meeting_cancelled":
            return f"{kind} of {words.when(mt.start)} cancelled"
        return f"{kind} {MEETING_DONE[e.kind]} {words.when(mt.start)}"
    if e.kind in ("message_logged", "message_ignored", "message_assigned") and (msg := _message(e, w)):
        who = words.person(msg.sender)
        if e.kind == "message_ignored":
            what = "automatic reply" if msg.kind == "auto_reply" else "message"
            return f"{who}'s {what} ‘{msg.subject}’ set aside"
        if e.kind == "message_assigned":
            return f"‘{msg.subject}’ from {who} put on this deal {_by(e.reason, words)}".rstrip()
        if msg.direction == "bcc":
            to = words.people(str(r) for r in msg.recipients)
            return f"{who} wrote to {to or 'the client'}: ‘{msg.subject}’ (the agent was copied)"
        return f"{who} wrote: ‘{msg.subject}’"
    if e.kind == "deal_created":
        into = w.pipeline.head.name if w.pipeline else w.deal.pipeline
        return f"{w.deal.name} handed over for onboarding ({into})"
    if e.kind == "task_completed" and (
        found := re.match(r"task '(.*)': marked done by (.+)$", e.reason, re.S)
    ):
        return f"{words.person(found.group(2))} marked ‘{found.group(1)}’ done"
    if e.kind == "stage_changed":
        d = e.details
        moved = (
            f"from {words.stage(str(d.get('from_stage', '')))} to {words.stage(str(d.get('to_stage', '')))}"
        )
        return f"Moved {moved} {_by(e.reason, words)}".rstrip()
    return _generic(e, words)


def _by(reason: str, words: Words) -> str:
    found = re.search(r"\bby (.+)$", reason)
    return f"by {words.person(found.group(1))}" if found else ""


def _generic(e: m.AuditEntry, words: Words) -> str:
    what = e.kind.replace("_", " ")
    return f"{what[:1].upper()}{what[1:]}: {words.humane(e.reason)}" if e.reason else what.capitalize()


# --- what the agent did about it -------------------------------------------------------------------
def _clauses(rest: list[m.AuditEntry], w: _World, at: datetime) -> list[tuple[m.AuditEntry, str]]:
    """(line, clause) for each thing done; tasks done and due dates counted rather than listed."""
    out: list[tuple[m.AuditEntry, str]] = []
    done = [e for e in rest if e.kind == "task_completed"]
    due = [e for e in rest if e.kind == "task_due"]
    held = {e.details.get("outbox_id") for e in rest if e.kind == "email_review"}
    for e in rest:
        if e.kind == "task_completed" and e is done[0]:
            title = task_title(e.reason) if len(done) == 1 else ""
            out.append((e, f"task ‘{title}’ done" if title else f"{plural(len(done), 'task')} done"))
        elif e.kind == "task_due" and e is due[0]:
            out.append((e, f"due {'date' if len(due) == 1 else 'dates'} set for {plural(len(due), 'task')}"))
        elif e.kind == "stage_changed":
            out.append((e, f"moved to {w.words.stage(str(e.details.get('to_stage', '')))}"))
        elif e.kind.startswith("email_") and (email := w.emails.get(int(e.details.get("outbox_id", 0)))):
            if (said := _email(e, email, w, at, email.id in held)) is not None:
                out.append((e, said))
        elif e.kind in ("message_logged", "message_ignored"):
            continue  # the message is the evidence of what headlines the sentence
        elif e.kind not in ("task_completed", "task_due"):
            said = _generic(e, w.words)
            out.append((e, said[:1].lower() + said[1:]))
    return out


def _email(e: m.AuditEntry, email: m.OutboxEmail, w: _World, at: datetime, held: bool) -> str | None:
    """What became of an email as of this line; `held`: its draft was held for a person's review here."""
    words = w.words
    what = f"{email.template.replace('-', ' ')} email"
    to = words.recipients(email.to, w.deal)
    if e.kind == "email_queued":
        if held:  # what it was then, whatever became of it since (the later lines tell that)
            return f"{what} to {to} {words.held(email)}"
        if email.sent_at is not None and words.day(email.sent_at) == words.day(at):
            w.told_sent.add(email.id)
            return f"{what} sent to {to}"
        later = email.due_at > at + timedelta(minutes=1)
        return f"{what} to {to} planned for {words.when(email.due_at)}" if later else f"{what} to {to} queued"
    if e.kind == "email_sent":
        return None if email.id in w.told_sent else f"{what} sent to {to}"
    if e.kind == "email_review":
        return None  # its queuing said so
    if e.kind == "email_withdraw":
        return f"{what} to {to} cancelled: {words.humane(e.reason.partition(': ')[2] or e.reason)}"
    if e.kind == "email_released":  # "approved by Sam Carter: ...", "edited by ...", "nobody answered ..."
        why = words.humane(e.reason.partition(": ")[2] or e.reason)
        return f"{what} to {to} {why.partition(':')[0]}" if " by " in why else f"{what} to {to} goes: {why}"
    if e.kind == "email_failed":
        return f"{what} to {to} could not be sent"
    return f"{what} to {to}: {e.kind.removeprefix('email_').replace('_', ' ')}"


# --- why -------------------------------------------------------------------------------------------
def _why(
    group: list[m.AuditEntry], head: m.AuditEntry | None, clauses: list[tuple[m.AuditEntry, str]], w: _World
) -> Why:
    words = w.words
    rules: dict[str, Fired] = {}
    for e in group:
        if e.rule and e.rule not in rules:
            reason = e.reason.removeprefix(f"rule {e.rule}: ") if e.kind == "rule_fired" else ""
            rules[e.rule] = Fired(words.rule_name(e.rule), e.rule, words.humane(reason))
    for e, said in clauses:
        if e.rule in rules:
            rules[e.rule].did.append(said)
    msg = next((x for e in group if (x := _message(e, w)) is not None), None)
    meeting = _meeting(head, w) if head is not None else None
    evidence = []
    if meeting is not None:
        with_whom = words.people(a.get("email", "") for a in meeting.attendees if isinstance(a, dict))
        evidence.append(
            f"The calendar's ‘{meeting.title}’, {words.when(meeting.start)}–{words.time(meeting.end)}"
            + (f", with {with_whom}" if with_whom else "")
        )
    if msg is not None:
        first = " ".join(msg.excerpt.split())[:280]
        evidence.append(
            f"‘{msg.subject}’ from {words.person(msg.sender)}, {words.when(msg.received_at)}: {first}"
        )
    if head is not None and head.kind == "csat_recorded" and head.details.get("original"):
        evidence.append(f"The answer as given: “{head.details['original']}”")
    matched = (meeting.match_reason if meeting else "") or (msg.match_reason if msg else "")
    return Why(
        list(rules.values()),
        words.humane(matched),
        evidence,
        [f"{e.kind.replace('_', ' ')}: {words.humane(e.reason)}" for e in group],
    )


def _message(e: m.AuditEntry, w: _World) -> m.Message | None:
    """The message an audit line is about: the input it came as, else the one its reason quotes."""
    if not e.kind.startswith("message_"):
        return None
    key = w.keys.get(e.event_id or 0, "")
    found = next((msg for msg in w.messages if msg.source_key == key), None)
    return found or next((msg for msg in w.messages if f"'{msg.subject}'" in e.reason), None)


def _meeting(e: m.AuditEntry, w: _World) -> m.Meeting | None:
    """The meeting an audit line names (by its title), the one nearest the line's time."""
    if not e.kind.startswith("meeting_"):
        return None
    named = [mt for mt in w.meetings if f"'{mt.title}'" in e.reason]
    return min(named, key=lambda mt: abs((mt.start - e.at).total_seconds()), default=None)
