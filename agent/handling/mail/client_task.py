"""A client's "done" in reply to the email that gave them a task (or reminded them of it) marks it done.

The reply answers the exact email its In-Reply-To names, else the nearest task email in its
References (as a reviewer's answer does, handling/mail/replies.py); only a contact that email
went to may answer it. The task is completed through the rule runner, so the rules waiting for
it (`task_completed`, `stage_tasks_done`) run. The step never takes the message: it is still the
client's message on the deal, logged, forwarded to the CSM and given to the rules by the steps
after it; a reply that says more than "done" leaves the task open for the CSM to read.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.domain import MessageKind
from agent.handling.client_tasks import CLIENT_TASK_TEMPLATE, task_asked_by
from agent.handling.mail.pipeline import MailItem, Passed
from agent.handling.reminders import REMINDER_TEMPLATE
from agent.handling.runner import RuleRunner
from agent.replies.done import says_done
from agent.store import models as m


class ClientTaskDone:
    name = "client task done"

    def __init__(self, runner: RuleRunner) -> None:
        self.runner = runner

    def __call__(self, item: MailItem) -> Passed:
        match, msg, repo = item.match, item.msg, item.repo
        if match is None or match.deal_id is None or item.direction != "inbound" or msg.sender is None:
            return Passed("not a client's message on a deal")
        if msg.kind is not MessageKind.NORMAL:
            return Passed(f"a {msg.kind.value} message marks nothing done")
        email = _answered(repo.emails_cited(match.deal_id, [msg.in_reply_to or "", *msg.references]), item)
        if email is None:
            return Passed("answers none of the agent's task emails")
        task = task_asked_by(repo, match.deal_id, email)
        if task is None:
            return Passed(f"answers the {email.template} email, which gives no task")
        if task.status != "open":
            return Passed(f"task {task.key} is {task.status} already")
        if item.sender.lower() not in {str(a["email"]).lower() for a in email.to}:
            return Passed(f"task {task.key} was not asked of {item.sender}")
        if not says_done(item.reading.reply.said, msg.sender.name):
            return Passed(f"the reply about task {task.key} says more than 'done': the CSM reads it")
        deal = repo.deal(match.deal_id)
        assert deal is not None
        who = f"{item.sender}, replying to the {email.template} email"
        self.runner.complete_task(repo, deal, task.key, item.cause, item.now, who=who)
        return Passed(f"{item.sender} marked task {task.key} done")


def _answered(cited: Sequence[m.OutboxEmail], item: MailItem) -> m.OutboxEmail | None:
    """The email the reply answers: the one In-Reply-To names, else the last task email References name."""
    by_id = {e.message_id: e for e in cited}
    parent = item.msg.in_reply_to
    if parent and parent in by_id:
        return by_id[parent]
    asks = (CLIENT_TASK_TEMPLATE, REMINDER_TEMPLATE)
    return next(
        (by_id[i] for i in reversed(item.msg.references) if i in by_id and by_id[i].template in asks), None
    )
