"""Replies to the agent's requests about a task: the Accountable person's decision, a Consulted person's input.

A reply answers the exact request it replies to (`request_answered`: In-Reply-To, else the
nearest request in References), and only from the person it was asked of:

- an approval (`task-approval`) is decided only by a verified one of ours writing to the agent
  (as a review is): "approve", "reject <why>", or anything else, which is asked back. Taken
  here, the reply's words are never read as commands ("ok" is no stage approval).
- a consultation (`consult`) is answered by the person asked, ours or the client's: what they
  said (quotes and signature aside) is recorded on the task. It is input, not a decision, so a
  client's reply is taken as a client's message is: by who it is from and what it answers.

An auto-reply (out of office) answers nothing; a reply about a task from someone not asked is
refused for an approval, and left to the other steps for a consultation (a colleague's reply
in the thread is the deal's mail like any other).
"""

from __future__ import annotations

from agent.domain import Address, MessageKind
from agent.handling.mail.pipeline import MailItem, Passed, Took
from agent.handling.runner import RuleRunner
from agent.pipeline.raci import CONSULT
from agent.replies.decision import decision_of
from agent.replies.intent import Intent
from agent.replies.reader import read_reply
from agent.store import models as m


class TaskAnswer:
    name = "task answer"

    def __init__(self, runner: RuleRunner) -> None:
        self.runner = runner

    def __call__(self, item: MailItem) -> Took | Passed:
        msg, repo = item.msg, item.repo
        if msg.auto_submitted or msg.kind is not MessageKind.NORMAL:
            return Passed("not written by a person: answers nothing")
        request = repo.request_answered(msg.in_reply_to, msg.references)
        if request is None or request.about_task_id is None:
            return Passed("answers no request about a task")
        task = repo.task_by_id(request.about_task_id)
        deal = repo.deal(task.deal_id) if task is not None else None
        if task is None or deal is None:
            return Passed("answers a request about a task that is gone")
        asked = sorted(a["email"] for a in request.to)
        if request.template == CONSULT:
            if item.sender not in asked:
                return Passed("a reply in a consultation's thread, from someone not asked")
            return self._consulted(item, deal, task)
        if item.sender not in asked:
            item.log_message(deal.id, item.direction, "ignored", f"a reply about task {task.key}, not asked")
            item.trail.on(deal)(
                "task_answer_refused",
                f"{item.sender} answered the approval of task '{task.title}', asked of {', '.join(asked)}",
            )
            return Took("an answer to a task's approval, from someone not asked")
        if item.commands is None or item.direction != "internal":
            return Passed("an approval is answered by a verified one of ours, writing to the agent")
        return self._approval(item, deal, task)

    def _approval(self, item: MailItem, deal: m.Deal, task: m.Task) -> Took:
        msg, repo = item.msg, item.repo
        approver = msg.sender or Address(item.sender)
        item.log_message(deal.id, "internal", "ignored", f"an answer to the approval of task {task.key}")
        decision = decision_of(msg.text, approver.name)
        if decision.intent is Intent.UNCLEAR:
            self.runner.tasks.ask_again(
                repo, deal, task, approver, decision.said, decision.reason, item.cause, item.now
            )
            return Took(f"an unclear answer about task {task.key}: asked back")
        approve = decision.intent is Intent.APPROVE
        triggers = self.runner.tasks.decide(
            repo, deal, task, approve, decision.why, item.cause, item.now, who=item.sender
        )
        self.runner.dispatch(repo, deal, triggers, item.cause, item.now)
        return Took(f"{item.sender} {'approved' if approve else 'rejected'} task {task.key}")

    def _consulted(self, item: MailItem, deal: m.Deal, task: m.Task) -> Took:
        msg = item.msg
        person = msg.sender or Address(item.sender)
        item.log_message(
            deal.id, item.direction, "matched", f"an answer to the question about task {task.key}"
        )
        said = read_reply(msg.text, person.name).said
        self.runner.tasks.answer(item.repo, deal, task, person, said, item.cause, item.now)
        return Took(f"{item.sender}'s input on task {task.key}")
