"""Who really takes part in a message: the person behind a list's rewrite, an address without its
plus-tag, a domain and the client domains above it.

Mail does not always come from the address a deal knows: a Google Group or a Mailman list that
rewrites From for DMARC sends "'Jane Doe' via Acme Team <acme-team@googlegroups.com>" and puts
Jane in Reply-To; Jane may write from jane+vendors@gmail.com; her IT colleague from
it.acme.example. Each is still Jane's client.
"""

from __future__ import annotations

from agent.domain import Address, InboundMessage
from agent.mime.classify import via_list

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
# A domain and three parents at most, the shortest ones (where client domains are): a hostile
# a.b.c.d...example costs four look-ups.
MAX_PARENTS = 3


def relayed_for(msg: InboundMessage) -> list[Address]:
    """The people a list relayed this message for, when it rewrote From ("'Jane Doe' via Acme Team").

    A Google Group names the person in X-Original-From (read on list mail only, see agent.mime.parse);
    such a list also names them in Reply-To, unless Reply-To is set to the group; the list's own
    address there is not a person. Reply-To is read only under a rewritten From: on other mail it is
    whatever the sender's program chose, and anyone can set it.
    """
    sender = msg.sender.email if msg.sender else ""
    found = [a for a in msg.relayed_for if a.email and a.email != sender]  # X-Original-From, list mail only
    if msg.sender is not None and via_list(msg.sender):
        found += [a for a in msg.reply_to if a.email and a.email != sender]
    return list({a.email: a for a in found}.values())


def without_plus(email: str) -> str:
    """name+tag@domain -> name@domain; "" when there is no tag to take off."""
    local, at, domain = email.partition("@")
    base = local.split("+", 1)[0]
    return f"{base}@{domain}" if at and base and base != local else ""


def domain_and_parents(domain: str) -> list[str]:
    """it.acme.example, then acme.example: never a bare top-level label, never a free-mail domain.

    A free-mail domain stops the walk: mail.gmail.com says nothing about any client.
    """
    labels = domain.lower().strip(".").split(".")
    found = []
    for start in range(len(labels) - 1):
        candidate = ".".join(labels[start:])
        if candidate in FREE_MAIL:
            break
        found.append(candidate)
    return found[:1] + found[1:][-MAX_PARENTS:]
