"""The look-ups of matching, one per kind of evidence: each says which deals it sees, and why.

A layer is a function of the Directory; agent.matching puts them in order, agent.matching.decide
weighs them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from agent.domain import Address, InboundMessage
from agent.matching.directory import Directory
from agent.matching.party import Party
from agent.matching.people import domain_and_parents, without_plus

TAG = re.compile(r"\[ref:([A-Za-z0-9]{4,16})\]")

Found = tuple[set[int], str]


def external(addresses: Iterable[Address], party: Party) -> list[Address]:
    seen: dict[str, Address] = {}
    for a in addresses:
        if a.email and not party.is_internal(a.email):
            seen.setdefault(a.email, a)
    return list(seen.values())


def by_token(d: Directory, addresses: list[Address], party: Party) -> Found:
    for a in addresses:
        local, _, _ = a.email.partition("@")
        if party.is_agent(a.email) and "+" in local:
            token = local.split("+", 1)[1]
            found = d.deals_by_token(token)
            if found:
                return found, f"sent to the deal's reply address {a.email}"
    return set(), ""


def by_tag(d: Directory, text: str, where: str = "") -> Found:
    for token in TAG.findall(text):
        found = d.deals_by_token(token)
        if found:
            return found, f"{where or 'carries'} the deal tag [ref:{token}]"
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


def by_ref(d: Directory, ref: str) -> Found:
    if not ref:
        return set(), ""
    found = resolve_ref(d, ref)
    return found, f"a person said so: 'deal {ref}'" if found else ""


def by_thread(d: Directory, msg: InboundMessage) -> Found:
    ids = [i for i in [msg.in_reply_to, *msg.references] if i]
    found = d.deals_by_message_ids(ids)
    return found, "replies in a thread already on the deal" if found else ""


def by_contact(d: Directory, people: list[Address]) -> Found:
    """Contacts by their address, or by it without a plus-tag (jane+vendors@ is jane@)."""
    found: set[int] = set()
    exact: list[str] = []
    tagged: list[str] = []
    for a in people:
        deals = d.deals_by_email(a.email)
        if deals:
            exact.append(a.email)
        else:
            base = without_plus(a.email)
            deals = d.deals_by_email(base) if base else set()
            if deals:
                tagged.append(f"{a.email} is {base}, a contact on the deal")
        found |= deals
    said = [f"{', '.join(exact)} is a contact on the deal"] if exact else []
    return found, "; ".join(said + tagged)


def by_domain(d: Directory, people: list[Address]) -> Found:
    """Client domains, and the client domain a subdomain belongs to (it.acme.example is Acme's).

    The most specific domain a deal has wins: it.acme.example may be another deal's own domain.
    """
    found: set[int] = set()
    own: list[str] = []
    below: list[str] = []
    for a in people:
        domain = a.email.rsplit("@", 1)[-1]
        for i, candidate in enumerate(domain_and_parents(domain)):
            deals = d.deals_by_domain(candidate)
            if not deals:
                continue
            found |= deals
            if i == 0:
                own.append(candidate)
            else:
                below.append(f"{domain} is a subdomain of the client's domain {candidate}")
            break
    said = [f"{', '.join(sorted(set(own)))} is the client's domain"] if own else []
    return found, "; ".join(said + sorted(set(below)))


def by_name(d: Directory, text: str, where: str) -> Found:
    found = d.deals_named_in(text)
    return found, f"the deal name is in the {where}" if found else ""
