"""Who of ours an email about a deal goes to: its CSMs, the Responsible person of its stage, a role's people."""

from __future__ import annotations

from agent import deals
from agent.domain import Address
from agent.store import models as m
from agent.store.repo import Repo


def csm_of(repo: Repo, deal: m.Deal) -> tuple[Address, ...]:
    """Who a client's words and opt-outs go to: the deal's CSMs, else the Responsible, else anyone of ours on it."""
    roles = repo.people(deal).roles
    csms = tuple(Address(r.email, r.name) for r in roles if r.role == "csm")
    return csms or responsible(repo, deal) or tuple(Address(r.email, r.name) for r in roles)


def responsible(repo: Repo, deal: m.Deal, role: str = "") -> tuple[Address, ...]:
    """Whoever is Responsible in the deal's stage (the CSM when no task says); or who fills `role`."""
    roles = (role,) if role else (deals.raci(repo, deal).responsible or ("csm",))
    return tuple(Address(r.email, r.name) for r in repo.people(deal).roles if r.role in roles)
