"""Tie a message or a meeting to a deal, say why, and how sure; or say that a person must decide.

Layers run in order, strongest first: the agent's own thread, the Reply-To plus-address token,
the subject tag, a tag in the text, a person's `deal ...` command, the participants' addresses
(a plus-tag taken off), their domain or the client domain above it (never a free-mail one), and
the entity or deal name in the subject. Who a message is from is who wrote it: when a list
rewrote From ("'Jane Doe' via Acme Team"), the person it names in Reply-To. How the layers are
weighed (closed deals, doubts, ambiguity) is agent.matching.decide. Every lookup is an indexed
query: no layer scans all deals.
"""

from __future__ import annotations

from dataclasses import replace

from agent.domain import InboundMessage, MeetingVersion
from agent.matching import layers as ly
from agent.matching.decide import CONFIDENCE, Closed, Layer, Match, decide
from agent.matching.directory import Directory
from agent.matching.layers import TAG, resolve_ref
from agent.matching.party import Party
from agent.matching.people import FREE_MAIL, relayed_for

__all__ = [
    "CONFIDENCE",
    "FREE_MAIL",
    "TAG",
    "Directory",
    "Layer",
    "Match",
    "Party",
    "decide",
    "match_meeting",
    "match_message",
    "resolve_ref",
]

PEOPLE = "the people on it"  # a participant's contact and domain layers are one witness


def match_message(msg: InboundMessage, directory: Directory, party: Party, deal_ref: str = "") -> Match:
    """`deal_ref` is the argument of a person's `deal ...` command, if they gave one."""
    addresses = [*msg.to, *msg.cc, *msg.delivered_to]
    relayed = relayed_for(msg)
    senders = [*relayed, *([msg.sender] if msg.sender else [])]
    forwarded = [a for f in msg.forwarded for a in ([f.sender] if f.sender else []) + [*f.to, *f.cc]]
    external = ly.external([*senders, *msg.to, *msg.cc, *forwarded], party)
    layers = [
        Layer("thread", lambda d: ly.by_thread(d, msg), names=True),
        Layer("reply-token", lambda d: ly.by_token(d, addresses, party), names=True, doubts="reply-token"),
        Layer("subject-tag", lambda d: ly.by_tag(d, msg.subject), names=True, doubts="subject-tag"),
        Layer(
            "body-tag",
            lambda d: ly.by_tag(d, msg.new_text, "its text carries"),
            names=True,
            doubts="body-tag",
        ),
        Layer("command", lambda d: ly.by_ref(d, deal_ref), names=True, final=True),
        Layer("contact", lambda d: ly.by_contact(d, external), doubts=PEOPLE),
        Layer("client-domain", lambda d: ly.by_domain(d, external), doubts=PEOPLE),
        Layer("deal-name", lambda d: ly.by_name(d, msg.subject, "subject")),
    ]
    match = decide(directory, layers, _closed(directory, party))
    if relayed and msg.sender and any(a.email in match.reason for a in relayed):
        lists = f"(From was rewritten by the list {msg.sender.email}: '{msg.sender.name}')"
        match = replace(match, reason=f"{match.reason} {lists}")
    return match


def match_meeting(meeting: MeetingVersion, directory: Directory, party: Party) -> Match:
    people = ([meeting.organizer] if meeting.organizer else []) + list(meeting.attendees)
    external = ly.external(people, party)
    text = meeting.title + " " + meeting.description
    layers = [
        Layer("subject-tag", lambda d: ly.by_tag(d, text), names=True),
        Layer("contact", lambda d: ly.by_contact(d, external), doubts=PEOPLE),
        Layer("client-domain", lambda d: ly.by_domain(d, external), doubts=PEOPLE),
        Layer("deal-name", lambda d: ly.by_name(d, meeting.title, "title")),
    ]
    return decide(directory, layers, _closed(directory, party))


def _closed(directory: Directory, party: Party) -> Closed | None:
    """Which deals are closed, when the pipelines have final stages (none in a bare Party)."""
    stages = party.final_stages
    if not stages:
        return None
    return lambda ids: directory.deals_in_stages(ids, stages)
