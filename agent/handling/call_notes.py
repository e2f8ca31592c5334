"""A call's notes: what the CSM emails the agent about a call, until the call's recap goes.

They are the recap's "Notes from the call"; their action items are its next steps and open
tasks on the deal. Only a CSM of the deal writing to the agent alone counts: a thread among
our people that the agent is copied on is colleagues talking, not words meant for the client,
and a message to the client as well is one the client has already. A note that comes while
the recap waits for review is written into the draft, so that the recap approved has it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agent import deals
from agent.config import Config
from agent.handling.cause import Cause
from agent.handling.commands.grammar import parse_commands
from agent.mime.classify import same_mailbox
from agent.outbox.compose import subject_tag
from agent.outbox.context import deal_context, meeting_context, read_notes
from agent.outbox.render import TemplateSet
from agent.outbox.status import Status
from agent.pipeline.definition import Pipeline
from agent.store import models as m
from agent.store.repo import Repo

RECAP = "recap"  # the template written again when a note comes while it waits for review


class CallNotes:
    def __init__(self, config: Config, pipelines: dict[str, Pipeline], templates: TemplateSet) -> None:
        self.config = config
        self.pipelines = pipelines
        self.templates = templates

    def meeting(self, repo: Repo, deal: m.Deal, meeting: m.Meeting, now: datetime) -> dict[str, Any]:
        """The `meeting` of an email about the call: who was there, its agenda, the CSM's notes until now."""
        identity = self.config.identity(deal.team)
        return meeting_context(meeting, deal, identity, self.notes(repo, deal, meeting, now))

    def notes(self, repo: Repo, deal: m.Deal, meeting: m.Meeting, until: datetime) -> list[str]:
        """What a CSM of the deal wrote to the agent alone since the call began, commands left out."""
        csms = {r.email for r in deal.roles if r.role == "csm" or r.role.endswith("_csm")}
        agent = self.config.addresses()
        return [
            msg.excerpt.strip()
            for msg in repo.messages_for(deal.id)
            if msg.direction == "internal"
            and msg.status == "matched"
            and msg.sender.lower() in csms
            and meeting.start <= msg.received_at <= until
            and msg.recipients
            and all(any(same_mailbox(r, a) for a in agent) for r in msg.recipients)
            and msg.excerpt.strip()
            and not parse_commands("", msg.excerpt)
        ]

    def open_tasks(self, repo: Repo, deal: m.Deal, meeting: m.Meeting, cause: Cause, now: datetime) -> None:
        """Each action item of the notes so far as an open task of the deal, once.

        Responsible is the person of ours it names, else the CSM (who follows a client's promise up).
        """
        identity = self.config.identity(deal.team)
        _, items = read_notes(meeting, deal, identity, self.notes(repo, deal, meeting, now))
        ours = {r.email: r.role for r in deal.roles}
        trail = cause.trail(repo, now).on(deal)
        for item in items:
            title = f"{item.text} ({item.owner})" if item.owner else item.text
            key = "action-" + hashlib.sha1(title.lower().encode()).hexdigest()[:10]
            due_at = None
            if item.due is not None:  # the whole of the day named is theirs
                midnight = datetime.combine(item.due + timedelta(days=1), time(0), ZoneInfo(deal.timezone))
                due_at = midnight.astimezone(UTC)
            responsible = ours.get(item.owner_email, "csm")
            row = deals.add_action_task(
                repo, deal, key, title, responsible=responsible, due_at=due_at, now=now
            )
            if row is not None:
                trail(
                    "task_created",
                    f"task '{row.title}' (R {row.responsible}, A {row.accountable}) from the notes on "
                    f"'{meeting.title}'",
                    task=key,
                )

    def note_arrived(self, repo: Repo, deal: m.Deal, cause: Cause, now: datetime) -> None:
        """A message from our people: a recap of the deal still waiting for review is written again with it."""
        for draft in repo.outbox_all(deal.id):
            if draft.status != Status.REVIEW or draft.template != RECAP or draft.meeting_id is None:
                continue
            meeting = repo.meeting_by_id(draft.meeting_id)
            if meeting is None:
                continue
            context = deal_context(
                self.config.identity(deal.team),
                deal,
                self.pipelines.get(deal.pipeline),
                recipients=list(draft.to),
                extra={"meeting": self.meeting(repo, deal, meeting, now)},
                stage_id=draft.stage,  # the draft speaks of the stage of the call, whatever came since
            )
            rendered = self.templates.render(draft.template, context)
            if rendered.text == draft.body_text:
                continue  # not a note on this call (a command, a thread among colleagues)
            draft.subject = f"{rendered.subject} {subject_tag(deal.token)}"
            draft.body_text, draft.body_html = rendered.text, rendered.html
            cause.trail(repo, now).email(
                "email_redrafted",
                draft,
                f"{draft.template}: written again with the CSM's note on '{meeting.title}'",
            )
            self.open_tasks(repo, deal, meeting, cause, now)
