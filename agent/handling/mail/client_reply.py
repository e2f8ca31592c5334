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
from agent.replies.reader import read_reply
from agent.store import models as m
from agent.store.queries.messages import MAX_REFERENCES

TEXT_LIMIT = 20_000  # characters of the client's text in the forward; the rest is in the agent's mailbox

_DAY = (
    r"(?:(?:next|this|coming)\s+)?"
    r"(?:mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun)(?:day)?\.?|today|tomorrow"
    r"|montag|dienstag|mittwoch|donnerstag|freitag|heute|morgen|lundi|mardi|mercredi|jeudi|vendredi|demain"
)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = (
    rf"\d{{1,2}}(?:st|nd|rd|th)?\.?\s+(?:of\s+)?{_MONTH}"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?|\d{{1,2}}[./]\d{{1,2}}\.?"
)
_CLOCK = (
    r"\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)"
    r"|\d{1,2}[:.h]\d{2}(?:\s*(?:uhr|h)\b)?|\d{1,2}\s*(?:uhr|h)\b|noon|midday"
)
_ZONE = (
    r"(?:\s*(?:(?:utc|gmt|bst|cet|cest|eet|eest|wet|west|est|edt|cst|cdt|mst|mdt|pst|pdt|ist|aest|jst|sgt)"
    r"(?:[+-]\d{1,2})?|uk time|our time|your time)\b)?"
)
_WHEN = rf"(?:{_DAY})(?:,?\s+(?:the\s+)?(?:{_DATE}))?|(?:{_DATE})"
_CONNECT = r",?\s*(?:at|from|um|ab|à|@|-)?\s*"
_SPAN = rf"(?:\s*(?:-|–|to|until|till|bis)\s*(?:{_CLOCK}))?"
# A day or a date with a time of day, either way round: "Tuesday 10:00", "Thu 3pm-4pm CET",
# "3 December at 14:00", "10:30 on Friday". Quoted as written: the CSM reads the client's words.
PROPOSED = re.compile(
    rf"\b(?:(?:{_WHEN}){_CONNECT}(?:{_CLOCK}){_SPAN}{_ZONE}|(?:{_CLOCK}){_SPAN}{_ZONE},?\s+(?:on\s+)?(?:{_WHEN}))",
    re.IGNORECASE,
)


# Every proposal holds a time of day, so a digit, "noon" or "midday": a text without one is not
# searched (PROPOSED's alternatives, tried at every word of a long message, cost milliseconds).
DIGIT = re.compile(r"\d")


def has_digit(text: str) -> bool:
    """Whether `text` holds a digit (\\d: any script's). The ten ASCII ones are looked for at memory
    speed; only a text with other characters than ASCII is searched with the pattern (ten times slower)."""
    return any(d in text for d in "0123456789") or (not text.isascii() and DIGIT.search(text) is not None)


def proposed_times(text: str) -> list[str]:
    """The times for a call a client's text proposes, as written, in order, each once."""
    folded = (text or "").casefold()
    if not (has_digit(folded) or "noon" in folded or "midday" in folded):
        return []
    found = (" ".join(t.group(0).split()).strip(" ,-") for t in PROPOSED.finditer(text))
    return list(dict.fromkeys(found))


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
    reading = read_reply(msg.text, msg.sender.name)
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
        "times": proposed_times(reading.said),
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
