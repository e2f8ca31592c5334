"""How a deal's page says things: times in the viewer's zone, people by name, stages and rules by theirs.

One place for the words, so that the story, the tasks and the emails of a deal say a person, a
stage or a time alike ("Tue 6 Oct, 15:00", "Jane Doe", "Set-Up").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from agent.dashboard import when
from agent.handling.task_mail import role_title
from agent.pipeline.definition import Pipeline
from agent.store import models as m

ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:\d{2}|Z)?")
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
MOVE = re.compile(r"([\w-]+) → ([\w-]+)")
STAGE_AFTER = re.compile(r"\b(of|stage|into|to|from|in) ([\w-]+)")
TYPED = re.compile(r"(?<![\w'-])([\w-]+) '")
NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
# a rule without a description is told by its trigger: "When all tasks of Set-Up are done"
TRIGGERS = {
    "deal_created": "When a deal is handed over",
    "stage_entered": "When the deal enters {stage}",
    "message_received": "When a message comes in",
    "command": "When someone emails the command ‘{value}’",
    "meeting_scheduled": "When {meeting} is booked",
    "meeting_rescheduled": "When {meeting} is moved",
    "meeting_cancelled": "When {meeting} is cancelled",
    "meeting_completed": "When {meeting} is held",
    "task_completed": "When the task {value} is done",
    "stage_tasks_done": "When all tasks of {stage} are done",
    "no_reply_to": "When the {value} email gets no reply",
    "in_stage_for": "When the deal stays in a stage for {value}",
    "csat_received": "When a survey answer comes in",
}


def and_join(items: Iterable[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    listed = list(dict.fromkeys(i for i in items if i))
    return " and ".join(listed) if len(listed) < 3 else f"{', '.join(listed[:-1])} and {listed[-1]}"


def task_title(reason: str) -> str:
    """The task's title in its audit line ("task 'Get the users' answers': ..."); "" none."""
    found = re.match(r"task '(.+?)'(?=: | is due |$)", reason, re.S)
    return found.group(1) if found else ""


def a_or_an(words: str) -> str:
    return f"{'an' if words[:1].lower() in 'aeiou' else 'a'} {words}"


def names_on(deal: m.Deal) -> dict[str, str]:
    """Address (lower-cased) -> name, of the deal's contacts and role holders who have one (a role wins)."""
    names = {c.email.lower(): c.name for c in deal.contacts if c.name}
    names.update({r.email.lower(): r.name for r in deal.roles if r.name and r.email})
    return names


@dataclass(frozen=True)
class Words:
    zone: ZoneInfo
    now: datetime
    pipeline: Pipeline | None
    names: dict[str, str]  # address (lower-cased) -> the person's name

    @classmethod
    def of(
        cls, deal: m.Deal, pipeline: Pipeline | None, zone: ZoneInfo, now: datetime, ours: Iterable[str] = ()
    ) -> Words:
        """`ours`: the agent's own addresses, said "the agent" (it attends the calls it is invited to)."""
        names = {a.lower(): "the agent" for a in ours}
        names.update(names_on(deal))
        return cls(zone, now, pipeline, names)

    # --- time, in the viewer's zone (agent.dashboard.when says it alike on every page) ------------
    def day(self, at: datetime) -> str:
        return when.day(at, self.zone)

    def time(self, at: datetime) -> str:
        return f"{at.astimezone(self.zone):%H:%M}"

    def when(self, at: datetime) -> str:
        return when.moment(at, self.zone)

    # --- people, stages, rules --------------------------------------------------------------------
    def person(self, address: str) -> str:
        return self.names.get(address.strip().lower(), address.strip())

    def people(self, addresses: Iterable[str]) -> str:
        return and_join(self.person(a) for a in addresses if a)

    def recipients(self, addresses: list[Any], deal: m.Deal) -> str:
        """Whom an email went to: "the client's two contacts, Jane Doe and Joe Roe" when that is all of them."""
        emails = [str(a.get("email", "")).lower() for a in addresses if isinstance(a, dict)]
        contacts = {c.email.lower() for c in deal.contacts}
        who = self.people(emails)
        if len(contacts) > 1 and set(emails) == contacts:
            count = NUMBERS[len(contacts)] if len(contacts) < len(NUMBERS) else str(len(contacts))
            return f"the client's {count} contacts, {who}"
        return who or "nobody"

    def role(self, role: str) -> str:
        """A role's title: "Customer Success Manager" for csm."""
        return role_title(self.pipeline, role) if self.pipeline else role.replace("_", " ")

    def stage(self, stage_id: str) -> str:
        if self.pipeline and self.pipeline.has_stage(stage_id):
            return self.pipeline.stage(stage_id).name
        return stage_id.replace("-", " ").capitalize()

    @staticmethod
    def meeting_type(kind: str) -> str:
        """'Introduction call' for introduction-call; 'Call' for a meeting of no type."""
        return kind.replace("-", " ").replace("_", " ").capitalize() if kind else "Call"

    def rule_name(self, rule_id: str) -> str:
        """The rule as the pipeline describes it, else its trigger in words."""
        stage, dot, place = rule_id.rpartition(".")
        if dot and place == "on_enter":
            return f"On entering {self.stage(stage)}"
        if dot and place == "on_complete":
            return f"When the play {stage.replace('-', ' ')} is complete"
        rule = next((r for r in self.pipeline.rules if r.id == rule_id), None) if self.pipeline else None
        if rule is None:
            return rule_id.replace("-", " ").capitalize()
        if rule.description:
            return " ".join(rule.description.split())
        value = rule.when.value
        first = value[0] if isinstance(value, list) and value else value
        meeting = a_or_an(self.meeting_type(str(first)).lower()) if first else "a call"
        said = TRIGGERS.get(rule.when.kind, "When " + rule.when.kind.replace("_", " "))
        return said.format(stage=self.stage(str(first)), value=first, meeting=meeting)

    def humane(self, text: str) -> str:
        """An audit line in words: its times in the viewer's zone, its addresses as names."""
        text = ISO.sub(lambda t: self.when(_aware(datetime.fromisoformat(t.group(0)))), text)
        text = ADDRESS.sub(lambda a: self.person(a.group(0)), text)
        # stage ids by their names where a stage is meant: a move's ends, "tasks of set-up"
        text = MOVE.sub(lambda mv: f"{self.stage(mv.group(1))} → {self.stage(mv.group(2))}", text)
        text = STAGE_AFTER.sub(lambda at: f"{at.group(1)} {self._stage_or(at.group(2))}", text)
        # a meeting type before the title it was read from: "introduction-call 'Acme intro' was held"
        return TYPED.sub(
            lambda t: f"{self.meeting_type(t.group(1)) if t.group(1) in self._types() else t.group(1)} '",
            text,
        )

    def _stage_or(self, word: str) -> str:
        return self.stage(word) if self.pipeline and self.pipeline.has_stage(word) else word

    def _types(self) -> set[str]:
        return {t for s in self.pipeline.stages for t in s.meetings} if self.pipeline else set()

    # --- emails -----------------------------------------------------------------------------------
    def email_status(self, email: m.OutboxEmail) -> str:
        """Where an email stands: sent, held for review, waiting for approval, planned, cancelled."""
        if email.status == "sent" and email.sent_at:
            return f"sent {self.when(email.sent_at)}"
        if email.status == "review":
            return self.held(email)
        if email.status == "withdrawn":
            return "cancelled" + (f": {self.humane(email.last_error)}" if email.last_error else "")
        if email.status == "failed":
            return "could not be sent" + (f": {email.last_error}" if email.last_error else "")
        return f"planned for {self.when(email.due_at)}" if email.due_at > self.now else "about to go"

    def held(self, email: m.OutboxEmail) -> str:
        """Why a draft waits: a role's approval, or a person's review."""
        if email.approver_role:
            return f"waiting for approval by the {self.role(email.approver_role)}"
        return "held for review"


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # the store writes UTC
