"""Tie a message or a meeting to a deal, say why, and how sure.

Layers run in order, strongest first: the agent's own thread, the Reply-To
plus-address token, the subject tag, a person's `deal ...` command, the
participants' exact addresses, their domain (never a free-mail one), and the
entity or deal name in the subject. Each names the deals it can see and the
reason; a later layer only narrows what an earlier one found, so two deals of
the same client are told apart by, say, the deal name in the subject. When
the candidates cannot be narrowed to one, the item is ambiguous and a person
is asked. Every lookup is an indexed query: no layer scans all deals.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from agent.domain import Address, InboundMessage, MeetingVersion
from agent.mime.classify import same_mailbox

FREE_MAIL = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "proton.me",
        "protonmail.com",
        "mail.ru",
        "yandex.ru",
        "qq.com",
        "163.com",
        "126.com",
        "zoho.com",
        "fastmail.com",
        "hey.com",
    ]
)
TAG = re.compile(r"\[ref:([A-Za-z0-9]{4,16})\]")


class Directory(Protocol):
    """Look-ups the matcher needs; the store implements them with indexed queries."""

    def deals_by_token(self, token: str) -> set[int]: ...
    def deals_by_message_ids(self, message_ids: Iterable[str]) -> set[int]: ...
    def deals_by_email(self, email: str) -> set[int]: ...
    def deals_by_domain(self, domain: str) -> set[int]: ...
    def deals_named_in(self, text: str) -> set[int]: ...
    def deals_by_id(self, deal_id: int) -> set[int]: ...


@dataclass(frozen=True)
class Match:
    deal_id: int | None
    strategy: str  # the layer that decided, or "" when unmatched
    reason: str
    candidates: tuple[int, ...] = ()
    confidence: float = 0.0  # how sure the deciding layer is, 0..1

    @property
    def ambiguous(self) -> bool:
        return self.deal_id is None and len(self.candidates) > 1


@dataclass
class Party:
    """Who a message or meeting involves, as seen by the matcher."""

    agent_addresses: tuple[str, ...]  # the main mailbox's and every team's
    internal_domains: tuple[str, ...]
    external: list[Address] = field(default_factory=list)

    def is_internal(self, email: str) -> bool:
        domain = email.rsplit("@", 1)[-1]
        return domain in self.internal_domains or self.is_agent(email)

    def is_agent(self, email: str) -> bool:
        return any(same_mailbox(email, a) for a in self.agent_addresses)


Strategy = Callable[[Directory], tuple[set[int], str]]

# How sure each layer is when it alone decides: our own thread and token are
# near-certain, a domain shared by several people less so, a name in a subject least.
CONFIDENCE = {
    "thread": 0.99,
    "reply-token": 0.99,
    "subject-tag": 0.97,
    "command": 1.0,
    "contact": 0.9,
    "client-domain": 0.7,
    "deal-name": 0.6,
}


def decide(directory: Directory, strategies: list[tuple[str, Strategy]]) -> Match:
    candidates: set[int] | None = None
    reasons: list[str] = []
    decided_by = ""
    for name, strategy in strategies:
        found, reason = strategy(directory)
        if not found:
            continue
        narrowed = found if candidates is None else candidates & found
        if not narrowed:
            continue  # this strategy points elsewhere: it cannot narrow, ignore it
        if narrowed != candidates:
            reasons.append(reason)
            decided_by = name
        candidates = narrowed
        if len(candidates) == 1:
            return Match(
                next(iter(candidates)), decided_by, "; ".join(reasons), confidence=CONFIDENCE[decided_by]
            )
    if candidates:
        return Match(None, "", "ambiguous: " + "; ".join(reasons), tuple(sorted(candidates)))
    return Match(None, "", "no deal token, thread, contact, client domain or deal name matched")


def match_message(msg: InboundMessage, directory: Directory, party: Party, deal_ref: str = "") -> Match:
    """`deal_ref` is the argument of a person's `deal ...` command, if they gave one."""
    addresses = [*msg.to, *msg.cc, *msg.delivered_to]
    senders = [msg.sender] if msg.sender else []
    forwarded = [a for f in msg.forwarded for a in ([f.sender] if f.sender else []) + [*f.to, *f.cc]]
    external = _external([*senders, *msg.to, *msg.cc, *forwarded], party)
    strategies: list[tuple[str, Strategy]] = [
        ("thread", lambda d: _by_thread(d, msg)),
        ("reply-token", lambda d: _by_token(d, addresses, party)),
        ("subject-tag", lambda d: _by_tag(d, msg.subject)),
        ("command", lambda d: _by_ref(d, deal_ref)),
        ("contact", lambda d: _by_contact(d, external)),
        ("client-domain", lambda d: _by_domain(d, external)),
        ("deal-name", lambda d: _by_name(d, msg.subject, "subject")),
    ]
    return decide(directory, strategies)


def match_meeting(meeting: MeetingVersion, directory: Directory, party: Party) -> Match:
    people = ([meeting.organizer] if meeting.organizer else []) + list(meeting.attendees)
    external = _external(people, party)
    strategies: list[tuple[str, Strategy]] = [
        ("subject-tag", lambda d: _by_tag(d, meeting.title + " " + meeting.description)),
        ("contact", lambda d: _by_contact(d, external)),
        ("client-domain", lambda d: _by_domain(d, external)),
        ("deal-name", lambda d: _by_name(d, meeting.title, "title")),
    ]
    return decide(directory, strategies)


def _external(addresses: Iterable[Address], party: Party) -> list[Address]:
    seen: dict[str, Address] = {}
    for a in addresses:
        if a.email and not party.is_internal(a.email):
            seen.setdefault(a.email, a)
    return list(seen.values())


def _by_token(d: Directory, addresses: list[Address], party: Party) -> tuple[set[int], str]:
    for a in addresses:
        local, _, _ = a.email.partition("@")
        if party.is_agent(a.email) and "+" in local:
            token = local.split("+", 1)[1]
            found = d.deals_by_token(token)
            if found:
                return found, f"sent to the deal's reply address {a.email}"
    return set(), ""


def _by_tag(d: Directory, text: str) -> tuple[set[int], str]:
    for token in TAG.findall(text):
        found = d.deals_by_token(token)
        if found:
            return found, f"carries the deal tag [ref:{token}]"
    return set(), ""


def resolve_ref(d: Directory, ref: str) -> set[int]:
    """A deal named by a person: [ref:TOKEN], the token, #12 or 12, or the deal's (or client's) name."""
    ref = ref.strip().strip("\"'")
    tag = TAG.search(ref)
    if tag:
        return d.deals_by_token(tag.group(1))
    if re.fullmatch(r"#?\d+", ref):
        return d.deals_by_id(int(ref.lstrip("#")))
    by_token = d.deals_by_token(ref) if re.fullmatch(r"[A-Za-z0-9]{8}", ref) else set()
    return by_token or d.deals_named_in(ref)


def _by_ref(d: Directory, ref: str) -> tuple[set[int], str]:
    if not ref:
        return set(), ""
    found = resolve_ref(d, ref)
    return found, f"a person said so: 'deal {ref}'" if found else ""


def _by_thread(d: Directory, msg: InboundMessage) -> tuple[set[int], str]:
    ids = [i for i in [msg.in_reply_to, *msg.references] if i]
    found = d.deals_by_message_ids(ids)
    return found, "replies in a thread already on the deal" if found else ""


def _by_contact(d: Directory, external: list[Address]) -> tuple[set[int], str]:
    found: set[int] = set()
    hits = []
    for a in external:
        deals = d.deals_by_email(a.email)
        if deals:
            found |= deals
            hits.append(a.email)
    return found, f"{', '.join(hits)} is a contact on the deal" if found else ""


def _by_domain(d: Directory, external: list[Address]) -> tuple[set[int], str]:
    found: set[int] = set()
    hits = []
    for a in external:
        domain = a.email.rsplit("@", 1)[-1]
        if domain in FREE_MAIL:
            continue
        deals = d.deals_by_domain(domain)
        if deals:
            found |= deals
            hits.append(domain)
    return found, f"{', '.join(sorted(set(hits)))} is the client's domain" if found else ""


def _by_name(d: Directory, text: str, where: str) -> tuple[set[int], str]:
    found = d.deals_named_in(text)
    return found, f"the deal name is in the {where}" if found else ""
