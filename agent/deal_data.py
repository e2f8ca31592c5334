"""What a deal carries beyond its stage: its entities, its signed contract, and what its pipeline still needs.

Entities (the client's sites or stations licensing the product) and the contract document are
kept in the deal's attributes (JSON), under keys of their own that are no custom attributes; the
contract's bytes stay in the message it came in (in the mailbox), only its description is here.
What a deal lacks is worked out from the pipeline's `requires` each time it is asked, so a value
given later (the contract emailed a week after the hand-over) is no longer missing.
"""

from __future__ import annotations

from typing import Any

from agent.pipeline.definition import Pipeline
from agent.pipeline.requires import CONTRACT_DOCUMENT, Required
from agent.store import models as m
from agent.store.audit import Trail
from agent.store.repo import Repo

ENTITIES = "entities"
# attribute keys that hold the deal's own data: not custom attributes people set (`--attr`, CSV)
OWN_KEYS = frozenset({ENTITIES, CONTRACT_DOCUMENT})


def entities(deal: m.Deal) -> list[str]:
    found = (deal.attributes or {}).get(ENTITIES) or []
    return [str(e) for e in found] if isinstance(found, list) else [str(found)]


def custom_attributes(deal: m.Deal) -> dict[str, Any]:
    return {k: v for k, v in (deal.attributes or {}).items() if k not in OWN_KEYS}


def contract_document(deal: m.Deal) -> dict[str, Any] | None:
    doc = (deal.attributes or {}).get(CONTRACT_DOCUMENT)
    return dict(doc) if isinstance(doc, dict) else None


def keep_contract_document(deal: m.Deal, document: dict[str, Any]) -> None:
    """The latest signed contract wins: a corrected one sent again replaces the first."""
    # a new dict, not an update in place: the JSON column is not tracked for mutation
    deal.attributes = {**(deal.attributes or {}), CONTRACT_DOCUMENT: document}


def has(deal: m.Deal, need: Required) -> bool:
    if need.kind == "role":
        people = deal.roles if need.side == "ours" else deal.contacts
        return any(p.role == need.name for p in people)
    if need.name == ENTITIES:
        return bool(entities(deal))
    if need.name == CONTRACT_DOCUMENT:
        return contract_document(deal) is not None
    if need.kind == "field":
        value = getattr(deal, need.name)
        return bool(value) if isinstance(value, list | str) else value is not None
    return bool(str((deal.attributes or {}).get(need.name, "")).strip())


def missing(deal: m.Deal, pipeline: Pipeline | None) -> list[str]:
    """The names of the pipeline's required attributes the deal does not have (yet)."""
    return [need.name for need in (pipeline.required if pipeline else []) if not has(deal, need)]


def note_missing(trail: Trail, deal: m.Deal, pipeline: Pipeline | None) -> list[str]:
    """At hand-over: what is missing, recorded on the deal's timeline (the deal is created all the same)."""
    lacking = missing(deal, pipeline)
    if lacking:
        trail.on(deal)(
            "attributes_missing",
            f"handed over without {', '.join(lacking)} (required by {deal.pipeline})",
            missing=lacking,
        )
    return lacking


def coordination(repo: Repo, deal: m.Deal) -> dict[str, Any]:
    """What was reported on the deal and what went to chat about it (docs/chat.md)."""
    return {
        "issues": [
            {
                "id": i.id,
                "kind": i.kind,
                "summary": i.summary,
                "severity": i.severity,
                "evidence": i.evidence,
                "confirmed": i.confirmed,
                "confirmed_by": i.confirmed_by,
                "status": i.status,
                "ticket": i.ticket,
                "reported_by": i.reported_by,
                "created_at": i.created_at.isoformat(),
            }
            for i in repo.issues(deal.id)
        ],
        "chat_channels": dict(deal.chat_channels or {}),
        "chat_posts": [
            {
                "id": p.id,
                "channel": p.channel,
                "title": p.title,
                "status": p.status,
                "rule": p.rule,
                "sent_at": p.sent_at.isoformat() if p.sent_at else None,
                "last_error": p.last_error,
            }
            for p in repo.chat_posts(deal_id=deal.id)
        ],
    }
