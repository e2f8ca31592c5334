"""The idempotency keys of queued emails: one cause never queues the same email twice, and an
email that goes once per deal (or per contact) is found whatever rule or cause queues it again."""

from __future__ import annotations

import hashlib

from agent.domain import Address
from agent.outbox import status
from agent.store import models as m
from agent.store.repo import Repo


def once_key(
    repo: Repo, deal: m.Deal, template: str, to: tuple[Address, ...], once: str
) -> tuple[str, m.OutboxEmail | None]:
    """The key of an email that goes once per deal (or per contact), and the earlier one that still counts.

    Only a withdrawn email (a no-show, a cancelled call, a reviewer's no) never reached anyone:
    the next one may go, keyed by how many were withdrawn. Queued, held, failed and sent ones
    count. The list of the deal's emails also finds those queued before `once` existed (keyed
    by their cause); the key stops two workers that queue it at the same moment.
    """
    who = {a.email.lower() for a in to} if once == "contact" else set()

    def same(e: m.OutboxEmail) -> bool:
        return e.template == template and (not who or who <= {str(a["email"]).lower() for a in e.to})

    earlier = [e for e in repo.outbox_all(deal.id) if same(e)]
    live = next((e for e in earlier if e.status != status.Status.WITHDRAWN), None)
    if live is not None:
        return "", live
    base = f"once|{once}|{deal.id}|{template}|{','.join(sorted(who))}"
    n = len(earlier)  # all withdrawn
    while repo.key_taken(email_key(f"{base}|{n}")):  # a row of the series deleted by hand
        n += 1
    return email_key(f"{base}|{n}"), None


def email_key(cause: str) -> str:
    """An idempotency key of fixed length: the cause can be long (meeting UIDs, many recipients)."""
    return hashlib.sha256(cause.encode()).hexdigest()
