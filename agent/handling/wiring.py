"""Builds the handlers and hands each the collaborators it uses; nothing else lives here.

Rebuilt whenever the rules or templates are reloaded: every handler sees one version of them.
"""

from __future__ import annotations

from agent.businesstime import BusinessCalendar
from agent.config import Config
from agent.handling.assign import Assigner
from agent.handling.client_tasks import ClientTasks
from agent.handling.commands.context import CommandContext
from agent.handling.digests import InformedDigests
from agent.handling.enqueue import Enqueuer
from agent.handling.handover import HandOver
from agent.handling.issues import Issues
from agent.handling.local_time import LocalTime
from agent.handling.mail.client_reply import ClientReply
from agent.handling.mail.client_task import ClientTaskDone
from agent.handling.mail.contract import ContractDocument
from agent.handling.mail.csat import SurveyAnswer
from agent.handling.mail.guards import AutoReply, Bounce, Duplicate, OwnMail
from agent.handling.mail.history import History
from agent.handling.mail.matching import Invitation, MatchDeal, Matched, Unmatched
from agent.handling.mail.opt_out import OptOut
from agent.handling.mail.pipeline import MailPipeline
from agent.handling.mail.replies import QuestionAnswer, ReviewAnswer
from agent.handling.mail.senders import Commands
from agent.handling.mail.severity import SeverityAnswer
from agent.handling.mail.task_answers import TaskAnswer
from agent.handling.meetings import MeetingHandler
from agent.handling.plans import Plans
from agent.handling.reminders import Reminders
from agent.handling.reviews import Reviews
from agent.handling.runner import RuleRunner
from agent.handling.severity_checks import UNCONFIRMED
from agent.handling.task_timing import CLIENT_TASK, ESCALATION, INFORMED, PLAN, REMINDER, TaskTiming
from agent.handling.timers import TimerHandler
from agent.matching import Party
from agent.outbox.render import TemplateSet
from agent.pipeline.definition import Pipeline


class Handlers:
    def __init__(
        self,
        config: Config,
        pipelines: dict[str, Pipeline],
        templates: TemplateSet,
        calendar: BusinessCalendar,
    ) -> None:
        self.calendar = calendar
        final = frozenset((p.id, stage) for p in pipelines.values() for stage in p.final_stages)
        self.party = Party(config.addresses(), config.agent.internal_domains, final_stages=final)
        self.enqueuer = Enqueuer(config, pipelines, templates, calendar, self.party)
        # tasks' due dates, reminders, client tasks, digests and plans (docs/rules.md, "Tasks over time")
        local = LocalTime(config, calendar)
        self.task_timing = TaskTiming(pipelines, local)
        self.runner = RuleRunner(config, pipelines, calendar, self.enqueuer, [self.task_timing.settle])
        reminders = Reminders(pipelines, self.enqueuer, local)
        self.client_tasks = ClientTasks(pipelines, self.enqueuer, local)
        timer_kinds = {
            REMINDER: reminders.remind,
            ESCALATION: reminders.escalate,
            CLIENT_TASK: self.client_tasks.give,
            INFORMED: InformedDigests(pipelines, self.enqueuer, local).send,
            PLAN: Plans(pipelines, self.enqueuer, local).send,
            UNCONFIRMED: self.runner.coordinator.severity.unconfirmed,
        }
        self.reviews = Reviews(config.review, self.enqueuer, self.runner)
        self.meetings = MeetingHandler(
            config.calendar, self.party, pipelines, self.runner, self.enqueuer, config.agent.timezone
        )
        self.assigner = Assigner(self.runner, self.meetings)
        self.handover = HandOver(config, self.runner, self.meetings)
        self.timers = TimerHandler(pipelines, calendar, self.runner, self.meetings, self.reviews, timer_kinds)
        commands = CommandContext(self.runner, self.meetings, pipelines)
        issues = Issues(config, pipelines, self.runner, self.enqueuer)  # severity: docs/chat.md
        self.mail = MailPipeline(
            [
                OwnMail(self.party),
                Duplicate(),
                Bounce(self.enqueuer),
                Commands(self.party, config.agent),
                QuestionAnswer(self.assigner),
                ReviewAnswer(self.reviews),
                SeverityAnswer(issues),
                TaskAnswer(self.runner),
                MatchDeal(self.party),
                Invitation(config, self.meetings, self.party),
                History(),  # what the mailbox held before the agent watched it: recorded, not acted on
                AutoReply(),
                OptOut(self.enqueuer),
                Unmatched(self.enqueuer),
                SurveyAnswer(self.runner, self.enqueuer, self.party),
                ClientTaskDone(self.runner),
                ClientReply(self.enqueuer),
                ContractDocument(self.runner, self.party),
                Matched(self.runner, commands, issues),
            ]
        )
