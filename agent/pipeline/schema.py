"""The shape of a pipeline file (rules/*.yaml), as validated data.

Triggers, conditions and actions are small typed records, like Home
Assistant automations: a rule that does not fit is reported by id and
disabled; the others keep running.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from agent.businesstime import Duration, parse_clock_time
from agent.config.values import check_patterns

_ID = r"^[a-z0-9][a-z0-9_-]*$"


def _duration(v: Any) -> Duration:
    return v if isinstance(v, Duration) else Duration.parse(str(v))


def _clock(v: Any) -> time:
    return v if isinstance(v, time) else parse_clock_time(str(v))


def _listify(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


DurationField = Annotated[Duration, BeforeValidator(_duration)]
ClockField = Annotated[time, BeforeValidator(_clock)]
Names = Annotated[list[str], BeforeValidator(_listify)]


class Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, arbitrary_types_allowed=True
    )


class RoleDef(Strict):
    side: Literal["ours", "client"]
    title: str = ""
    department: str = Field("", description="The department of ours the role belongs to (departments:)")


class DepartmentDef(Strict):
    """One of two teams onboarding one client (seeds/004): what it is called, and what it may approve."""

    name: str
    description: str = ""


STAGE_ENTERED, CONTRACT_START = "stage_entered", "contract_start"


class DueDef(Strict):
    """When a task is due: `in` after the stage was entered, the contract started, or another task was done."""

    after: str = Field(
        STAGE_ENTERED, description="stage_entered, contract_start, or the id of the task done before it"
    )
    in_: DurationField = Field(alias="in")


def _due(v: Any) -> Any:
    # "due: 3 business days" is the short form of "due: {after: stage_entered, in: 3 business days}"
    return {"after": STAGE_ENTERED, "in": v} if isinstance(v, str | Duration) else v


class RemindersDef(Strict):
    """Who hears about an open task near its due date; each at most once, in their business hours."""

    before_due: DurationField | None = Field(
        None, description="The Responsible person is reminded this long before the due date"
    )
    escalate_after: DurationField | None = Field(
        None, description="The Accountable person is told this long after the due date if it is still open"
    )


class TaskDef(Strict):
    id: str = Field(pattern=_ID)
    title: str
    # a to-do, not a checklist: "update account record" is the title, "upload the contract file,
    # update key contacts" its description (seeds/002); the task emails and `deals show` say it
    description: str = Field("", description="What doing the task involves, shown with its title")
    # Lists (and none) are accepted so that the loader can say which task has zero or two
    # Responsible people, and what it expects, instead of pydantic's bare "missing key".
    R: Names = []
    A: Names = []
    C: Names = []
    I: Names = []  # noqa: E741 - RACI's own letter
    due: Annotated[DueDef | None, BeforeValidator(_due)] = Field(
        None, description="Due this long after the stage is entered (or after: contract_start, a task id)"
    )
    reminders: RemindersDef | None = Field(
        None, description="The pipeline's reminders for this task; a key given here wins, null turns it off"
    )
    approval: bool = Field(
        False, description="Marked done, it waits for the Accountable person's approve (or reject <why>)"
    )
    consult: bool | str = Field(
        False, description="Ask the Consulted roles for input when the task opens: true, or the question"
    )


class MeetingTypeDef(Strict):
    title: Names = Field(description="Regular expressions matched (case-insensitively) against the title")

    @field_validator("title")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        check_patterns(v)
        return v


class ActionDef(Strict):
    send: str | None = None
    to: Names = ["client_contacts"]
    cc: Names = []
    after: DurationField | None = None
    at: ClockField | None = Field(
        None, description="Send at this time of day (deal's zone), next business day"
    )
    unless_replied: bool = Field(False, description="Withdraw the email if the client replied meanwhile")
    each: bool = Field(False, description="One email per To recipient instead of one to all")
    once: Literal["deal", "contact"] | None = Field(
        None,
        description="Never again on this deal (deal), or to this recipient (contact, with each), "
        "whatever fires the rule again",
    )
    approved_by: str | None = Field(
        None, description="A role of ours: the email waits until one of its people approves it (send only)"
    )
    advance: str | None = None
    complete_task: str | None = None
    create_task: TaskDef | None = None
    notify: Names | None = None
    chat: Names | None = Field(None, description="Post to these chat channels: [[chat.channels]] names, deal")
    open_channel: str | None = Field(
        None, description="Open the deal's own chat channel for this purpose (deal, escalation, ...)"
    )
    invite: Names = Field([], description="open_channel: the roles invited to it")
    confirm_severity: Names | None = Field(
        None, description="Ask these roles to confirm the severity of the issue the trigger is about"
    )
    schedule_sync: Names | None = Field(
        None, description="Invite these roles to a sync meeting at the first free business-hours slot"
    )
    minutes: int = Field(15, ge=5, le=240, description="schedule_sync: the meeting's length")
    title: str = Field("", description="schedule_sync: the meeting's title ({deal} is the deal's name)")
    message: str = ""
    request_approval: bool | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ActionDef:
        kinds = [k for k in ACTION_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                f"an action needs exactly one of {', '.join(ACTION_KINDS)}; got {kinds or 'none'}"
            )
        if self.send is None and (
            self.after or self.at or self.cc or self.unless_replied or self.each or self.once
        ):
            raise ValueError("after, at, cc, each, once and unless_replied only go with send")
        if self.send is None and self.approved_by:
            raise ValueError("approved_by only goes with send")
        if self.open_channel is None and self.invite:
            raise ValueError("invite only goes with open_channel")
        if self.schedule_sync is None and (self.title or self.minutes != 15):
            raise ValueError("minutes and title only go with schedule_sync")
        if self.open_channel is not None and not re.fullmatch(_ID, self.open_channel):
            raise ValueError(f"open_channel {self.open_channel!r}: expected a short id such as escalation")
        if self.once == "contact" and not self.each:
            # one email to several people cannot be "once per contact": each is told apart only alone
            raise ValueError("once: contact needs each: true (one email per contact)")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ACTION_KINDS if getattr(self, k) is not None)


ACTION_KINDS = (
    "send",
    "advance",
    "complete_task",
    "create_task",
    "notify",
    "chat",
    "open_channel",
    "confirm_severity",
    "schedule_sync",
    "request_approval",
)


class TriggerDef(Strict):
    deal_created: bool | None = None
    stage_entered: str | None = None
    message_received: Literal["client", "internal", "any"] | None = None
    command: str | None = None
    meeting_scheduled: Names | None = None
    meeting_rescheduled: Names | None = None
    meeting_cancelled: Names | None = None
    meeting_completed: Names | None = None
    task_completed: str | None = None
    stage_tasks_done: str | None = None
    no_reply_to: str | None = None
    for_: DurationField | None = Field(None, alias="for")
    in_stage_for: DurationField | None = None
    approval_granted: str | None = None
    approval_denied: str | None = None
    csat_received: bool | None = None
    email_approved: str | None = Field(None, description="A person approved a held email of this template")
    issue_reported: Names | None = Field(None, description="An issue of these severities (or any) was read")
    severity_confirmed: Names | None = Field(
        None, description="A person confirmed an issue at these severities"
    )
    issue_updated: bool | None = Field(None, description="News of an issue already reported (its ticket)")
    became_hybrid: Names | None = Field(None, description="The account became hybrid this way (or any)")

    @model_validator(mode="after")
    def _exactly_one(self) -> TriggerDef:
        kinds = [k for k in TRIGGER_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                f"'when' needs exactly one trigger of {', '.join(TRIGGER_KINDS)}; got {kinds or 'none'}"
            )
        if (self.no_reply_to is None) != (self.for_ is None):
            raise ValueError("no_reply_to needs 'for: <duration>' (and 'for' only goes with no_reply_to)")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in TRIGGER_KINDS if getattr(self, k) is not None)

    @property
    def value(self) -> Any:
        return getattr(self, self.kind)


TRIGGER_KINDS = (
    "deal_created",
    "stage_entered",
    "message_received",
    "command",
    "meeting_scheduled",
    "meeting_rescheduled",
    "meeting_cancelled",
    "meeting_completed",
    "task_completed",
    "stage_tasks_done",
    "no_reply_to",
    "in_stage_for",
    "approval_granted",
    "approval_denied",
    "csat_received",
    "email_approved",
    "issue_reported",
    "severity_confirmed",
    "issue_updated",
    "became_hybrid",
)


class ConditionsDef(Strict):
    stage: Names | None = Field(None, description="The deal is in one of these stages")
    meetings_completed: Names | None = Field(None, description="All of these meeting types have been held")
    no_meeting: Names | None = Field(None, description="None of these meeting types is scheduled or held")
    tasks_done: Names | None = Field(None, description="All of these tasks are done")
    has: Names | None = Field(None, description="These roles (or client_contacts) are filled on the deal")
    attribute: dict[str, str] | None = Field(None, description="Custom attributes equal these values")
    issue_kind: Names | None = Field(None, description="The issue the trigger is about is of these kinds")


class RuleDef(Strict):
    id: str = Field(pattern=_ID)
    description: str = ""
    enabled: bool = True
    when: TriggerDef
    if_: ConditionsDef = Field(ConditionsDef(), alias="if")
    then: list[ActionDef] = Field(min_length=1)


class PlayDef(Strict):
    """A play (seeds/002's SuccessPlays): a named group of a stage's tasks, started when the stage is
    entered; when its last task is done, its `on_complete` actions run (typically: advance), and the
    stage that move enters starts its own play. A stage's gate holds for its plays' tasks too."""

    id: str = Field(pattern=_ID)
    name: str
    description: str = ""
    tasks: list[TaskDef] = Field(min_length=1)
    on_complete: list[ActionDef] = Field([], description="Actions run once, when the last task is done")


class StageDef(Strict):
    id: str = Field(pattern=_ID)
    name: str
    end: bool = False
    target_days: int | None = Field(None, ge=1, description="Deals in the stage longer than this are late")
    requires_approval: bool = Field(False, description="The Accountable person approves leaving the stage")
    tasks: list[TaskDef] = []
    plays: list[PlayDef] = Field([], description="Named groups of tasks started when the stage is entered")
    meetings: dict[str, MeetingTypeDef] = {}
    on_enter: list[ActionDef] = []
    next_steps: list[str] = []
    links: dict[str, str] = {}

    @property
    def all_tasks(self) -> list[TaskDef]:
        """The stage's own tasks, then its plays': all are created when it is entered and hold it."""
        return [*self.tasks, *(t for play in self.plays for t in play.tasks)]


class CadenceDef(Strict):
    """An email that comes back at a cadence (a digest, a plan), in its readers' business hours."""

    every: DurationField = Field(description="How often: 1 week, 1 day, 1 business day")
    at: ClockField | None = Field(
        None, description="At this time of day in the reader's zone; default opening"
    )


class ClientPlanDef(CadenceDef):
    to: Names = Field(["client_contacts"], description="The client roles (or client_contacts) it goes to")


class ScorecardDef(Strict):
    """The pipeline's KPI cards; each is checked alone (agent.pipeline.cards): a bad card is dropped, named."""

    cards: list[Any] = Field([], description="name, segment, metric, format, target (docs/rules.md)")


class PipelineHead(Strict):
    """Everything but the rules: if this is wrong the whole file is unusable."""

    pipeline: str = Field(pattern=_ID)
    name: str
    description: str = ""
    roles: dict[str, RoleDef]
    departments: dict[str, DepartmentDef] = Field(
        {}, description="The departments of ours that onboard the client together (roles name theirs)"
    )
    stages: list[StageDef] = Field(min_length=1)
    rules: list[Any] = []
    reminders: RemindersDef = Field(
        RemindersDef(), description="Reminders before and escalations after the due date of open tasks"
    )
    informed: CadenceDef | None = Field(
        None, description="The Informed people of a deal get its stage changes and completed tasks this often"
    )
    client_plan: ClientPlanDef | None = Field(
        None, description="The client's main contacts get their open tasks, the next meeting, what was done"
    )
    scorecard: ScorecardDef | None = Field(
        None, description="KPI cards the scorecard shows for this pipeline"
    )
    # each entry checked alone (agent.pipeline.requires): a name, or {attribute: NAME, description: ...}
    requires: list[Any] = Field([], description="The attributes a deal of this pipeline needs at hand-over")
