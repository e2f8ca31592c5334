"""Steps that keep a message from being acted on: the agent's own mail, a duplicate, a bounce, an auto-reply.

Each is still read and logged; a bounce marks the address and tells the Responsible person.
"""

from __future__ import annotations

from agent.domain import MessageKind
from agent.handling.enqueue import Enqueuer
from agent.handling.mail.pipeline import MailItem, Passed, Took
from agent.matching import Party


class OwnMail:
    name = "own mail"

    def __init__(self, party: Party) -> None:
        self.party = party

    def __call__(self, item: MailItem) -> Took | Passed:
        if not (item.sender and self.party.is_agent(item.sender)):
            return Passed("not from the agent's address")
        item.log_message(None, "outbound", "ignored", "the agent's own email")
        return Took("the agent's own email")


class Duplicate:
    name = "duplicate"

    def __call__(self, item: MailItem) -> Took | Passed:
        if not item.repo.message_known(item.msg.message_id):
            return Passed("a new Message-ID")
        reason = f"message {item.msg.message_id} was already processed"
        item.trail("duplicate", reason)
        return Took(reason)


class Bounce:
    name = "bounce"

    def __init__(self, enqueuer: Enqueuer) -> None:
        self.enqueuer = enqueuer

    def __call__(self, item: MailItem) -> Took | Passed:
        msg = item.msg
        if msg.kind is not MessageKind.BOUNCE:
            return Passed("not a delivery report")
        if item.history:  # of mail sent before the agent was there: recorded by the history step
            return Passed("a delivery report from the mailbox's history")
        item.log_message(None, "inbound", "ignored", msg.kind_reason)
        repo = item.repo
        for address in msg.bounced_recipients:
            flag = repo.flag(address)
            flag.bounced_at = item.now
            flag.reason = f"bounce {msg.message_id}: {msg.kind_reason}"
            for deal_id in repo.deals_by_email(address):
                deal = repo.deal(deal_id)
                assert deal is not None
                item.trail.on(deal)("address_bounced", f"{address} bounced; no more mail goes to it")
                self.enqueuer.notify_responsible(
                    repo,
                    deal,
                    item.cause,
                    item.now,
                    subject=f"{deal.name}: {address} bounced",
                    message=f"Mail to {address} bounced ({msg.kind_reason}). "
                    "Please find a working address for this contact.",
                )
        return Took(f"a bounce for {', '.join(msg.bounced_recipients) or 'nobody we know'}")


class AutoReply:
    """Read and logged, never answered and never a reason to move a deal."""

    name = "auto-reply"

    def __call__(self, item: MailItem) -> Took | Passed:
        msg, match = item.msg, item.match
        if not msg.auto_submitted:
            return Passed("written by a person")
        assert match is not None
        reason = f"{msg.kind_reason}; {match.reason}"
        item.log_message(match.deal_id, item.direction, "ignored", reason, match)
        item.trail.on(match.deal_id)("message_ignored", f"{msg.kind.value}: {msg.kind_reason}")
        return Took(reason)
