"""Contacts who opted out: which recipients an email may go to now, and which only once the CSM confirms.

A contact who asked to get no more email (docs/mail.md, "Opt-out") never gets a survey or a
reminder again; any other email to them (an intro, a recap, the completion) is the CSM's call:
it waits for their confirmation. The other recipients of that email are not kept waiting: they
get it now, and the contacts who opted out a copy of their own that waits.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.domain import Address
from agent.store import models as m
from agent.store.repo import Repo

# The survey, its question back and the reminders; a rule's `unless_replied` send is a reminder too.
OPTIONAL = frozenset({"survey", "survey-again", "intro-followup"})


@dataclass(frozen=True)
class Recipients:
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    dropped: frozenset[str] = frozenset()  # opted out of an optional email: never sent to them
    confirm: frozenset[str] = frozenset()  # opted out, and this email goes to them once confirmed
    apart: tuple[Address, ...] = ()  # opted out: a copy of their own, once confirmed

    @property
    def apart_emails(self) -> frozenset[str]:
        return frozenset(a.email.lower() for a in self.apart)


def optional(template: str, unless_replied: bool) -> bool:
    """Surveys and reminders: never sent to a contact who opted out."""
    return unless_replied or template in OPTIONAL


def sort_out(
    template: str, unless_replied: bool, to: tuple[Address, ...], cc: tuple[Address, ...], opted: set[str]
) -> Recipients:
    """The email's recipients given those who opted out (`opted`, lower case)."""
    if not opted:
        return Recipients(to, cc)
    rest_to, rest_cc = _without(to, opted), _without(cc, opted)
    if optional(template, unless_replied):
        return Recipients(rest_to, rest_cc, dropped=frozenset(opted))
    if not rest_to:  # nobody else it is written to: the email itself waits
        return Recipients(to, cc, confirm=frozenset(opted))
    return Recipients(rest_to, rest_cc, apart=tuple(a for a in (*to, *cc) if a.email.lower() in opted))


def opted_out_notice(repo: Repo, deal: m.Deal, draft: m.OutboxEmail, opted: frozenset[str]) -> dict[str, str]:
    """What a confirmation request says of the contacts who opted out: when, and how they asked."""
    lines = []
    for email in sorted(opted):
        flag = repo.flag(email)
        when = f"on {flag.opted_out_at:%-d %B %Y}" if flag.opted_out_at else "earlier"
        lines.append(f"{email} asked {when} to get no more email from us ({flag.reason}).")
    return {
        "subject": f"{deal.name}: send the {draft.template} email to a contact who opted out?",
        "message": "\n".join(lines),
    }


def _without(people: tuple[Address, ...], emails: set[str]) -> tuple[Address, ...]:
    return tuple(a for a in people if a.email.lower() not in emails)
