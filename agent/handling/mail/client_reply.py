"""A client's message on a deal reaches its CSM: forwarded when the CSM was not among its recipients.

The agent's emails to clients name the CSM in Reply-To (outbox/compose.py), so a client's plain
reply already goes to the CSM, in the client's own thread. This step catches the rest: a reply
to the deal's address alone, a mail program that ignores Reply-To, a new email to the agent.
The forward carries what the client wrote (agent.replies reads it: no quoted history), the
times they propose for a call, and the deal; it is threaded on the client's message, and its
Reply-To is the client, so that the CSM's "Reply" answers the client in that thread. It is
sent in the pass that read the message and no daily cap holds it (outbox/queue.py).
"""

from __future__ import annotations

import re

from agent.domain import Address
from agent.handling.enqueue import Enqueuer
from agent.handling.mail.pipeline import MailItem, Passed
from agent.handling.our_people import csm_of
from agent.matching import TAG
from agent.outbox.compose import FORWARD, reply_address
from agent.pipeline.engine import Trigger
from agent.store import models as m
from agent.store.queries.messages import MAX_REFERENCES

TEXT_LIMIT = 20_000  # characters of the client's text in the forward; the rest is in the agent's mailbox


class ClientReply:
    """Forward a client's message to the deal's CSMs it was not written to. It never takes the message."""

    name = "client reply"

    def __init__(self, enqueuer: Enqueuer) -> None:
        self.enqueuer = enqueuer

    def __call__(self, item: MailItem) -> Passed:
        match, msg, repo = item.match, item.msg, item.repo
        if match is None or match.deal_id is None or item.direction != "inbound" or msg.sender is None:
            return Passed("not a client's message on a deal")
        deal = repo.deal(match.deal_id)
        assert deal is not None
        got_it = {a.email.lower() for a in (*msg.to, *msg.cc)}
        people = who_hears(self.enqueuer, item, deal)
        missing = tuple(p for p in people if p.email.lower() not in got_it)
        if not missing:
            return Passed(f"{', '.join(p.email for p in people) or 'nobody'} had it from the client")
        cited = repo.emails_cited(deal.id, [msg.in_reply_to or "", *msg.references])
        about = f", in reply to the {cited[-1].template} email" if cited else ""
        sender = msg.sender.name or msg.sender.email
        lead = f"{sender} ({msg.sender.email}) wrote about {deal.name}{about}. You were not among its recipients."
        forward(self.enqueuer, item, deal, missing, lead, f"{sender} wrote")
        return Passed(f"forwarded to {', '.join(p.email for p in missing)}")


def who_hears(enqueuer: Enqueuer, item: MailItem, deal: m.Deal) -> tuple[Address, ...]:
    """The deal's CSMs (or whoever of ours is on it); on a deal with nobody, `unmatched_notice_to`."""
    people = csm_of(item.repo, deal) or tuple(Address(e) for e in enqueuer.config.agent.unmatched_notice_to)
    if not people:
        item.trail.on(deal)(
            "client_unheard", "nobody of ours is on the deal and unmatched_notice_to is empty"
        )
    return people


def forward(
    enqueuer: Enqueuer, item: MailItem, deal: m.Deal, to: tuple[Address, ...], lead: str, reason: str
) -> m.OutboxEmail | None:
    """What the client wrote, for our people, threaded on the client's message with Reply-To the client."""
    msg = item.msg
    assert msg.sender is not None
    reading = item.reading.reply
    said = reading.new[:TEXT_LIMIT] + ("\n[...]" if len(reading.new) > TEXT_LIMIT else "")
    subject = " ".join(TAG.sub("", msg.subject).split()) or "(no subject)"
    if not re.match(r"(?:re|aw|antw|sv)\s*:", subject, re.IGNORECASE):
        subject = f"Re: {subject}"  # the CSM's answer then reads as a reply in the client's thread
    first = (msg.sender.name or msg.sender.email).split()[0]
    deal_address = reply_address(enqueuer.config.identity(deal.team), deal.token)
    notice = {
        "subject": subject,
        "message": lead,
        "sender": f"{msg.sender.name} <{msg.sender.email}>" if msg.sender.name else msg.sender.email,
        "said": said or "(nothing of their own: only quoted text or attachments)",
        "times": list(item.reading.times),
        "attachments": [f"{a.filename or '(unnamed)'} ({a.size // 1024 + 1} KB)" for a in msg.attachments],
        "answer": f"Reply to this email to answer {first}: it goes to {msg.sender.email}. "
        f"Put {deal_address} in Cc to keep your answer on the deal.",
    }
    refs = [*msg.references, msg.message_id]  # in the client's thread: the CSM's answer continues it
    return enqueuer.queue_email(
        item.repo,
        deal,
        FORWARD,
        to,
        (),
        due=item.now,
        rule="",
        reason=reason,
        cause=item.cause,
        trigger=Trigger("client_reply", msg.message_id),
        now=item.now,
        extra={"notice": notice},
        thread=(
            msg.message_id,
            refs if len(refs) <= MAX_REFERENCES else [refs[0], *refs[-(MAX_REFERENCES - 1) :]],
        ),
    )
