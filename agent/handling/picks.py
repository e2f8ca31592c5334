"""Roles a hand-over leaves empty, filled from [[picks]] by the deal's attributes; said in the audit trail."""

from __future__ import annotations

from dataclasses import replace

from agent import deals
from agent.config import Config


def fill(config: Config, spec: deals.DealSpec, roles: set[str]) -> tuple[deals.DealSpec, list[str]]:
    """The spec with the picked roles filled (only roles its pipeline has), and a sentence for each."""
    picked: dict[str, tuple[str, str]] = {}
    said = []
    for pick in config.picks:
        if pick.role not in roles or spec.roles.get(pick.role) or pick.role in picked:
            continue
        value = str(spec.attributes.get(pick.by, ""))
        person = pick.person(value) if value else None
        if person is None:
            said.append(
                f"nobody picked for {pick.role}: {pick.by} is {value or 'not given'} and [[picks]] has no one for it"
            )
            continue
        picked[pick.role] = person
        who = f"{person[0]} <{person[1]}>" if person[0] else person[1]
        said.append(f"{pick.role} is {who}: picked by {pick.by} = {value} ([[picks]])")
    return (replace(spec, roles={**spec.roles, **picked}) if picked else spec), said
