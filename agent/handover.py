"""Hand-overs from Sales: a deal from command-line options or from rows of a CSV file.

CSV columns (DESIGN.md): deal, pipeline, contact_name, contact_email,
contact_role, csm; optional stage, timezone, client_domain, account,
products and entities (the client's sites or stations; both separated by ';'),
contract_start, contract_end, contract_months, payment_type, team (a [[teams]]
name; an empty pipeline is then the team's), and one column per internal role of
the pipeline. Any other column becomes a custom attribute. Rows with the same `deal` form one deal.

A person of ours is given as `email` or `Name <email>` (the csm column and every role column),
or with the name in a column of its own (`csm_name`, `account_manager_name`, ...): the emails
are signed with that name, never with the part of the address before the @.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from agent.config import Config
from agent.config.values import parse_person
from agent.deals import ContactSpec, DealSpec, default_pipeline, validate_spec
from agent.errors import InputError
from agent.pipeline.definition import Pipeline

REQUIRED = ("deal", "pipeline", "contact_name", "contact_email", "contact_role", "csm")
KNOWN = (
    *REQUIRED,
    "stage",
    "timezone",
    "client_domain",
    "account",
    "products",
    "contract_start",
    "contract_end",
    "contract_months",
    "payment_type",
    "entities",
    "team",
)


@dataclass
class CsvResult:
    specs: list[tuple[int, DealSpec]] = field(default_factory=list)  # (first line, spec)
    problems: list[str] = field(default_factory=list)


def read_csv(path: Path, pipelines: dict[str, Pipeline], config: Config) -> CsvResult:
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel writes a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the CSV file: {exc}") from exc
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(
            f"{path}:1: missing column(s) {', '.join(missing)}; the header needs {', '.join(REQUIRED)}"
        )
    result = CsvResult()
    deals: dict[str, tuple[int, DealSpec]] = {}
    for line, row in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if not any(row.values()):
            continue
        try:
            spec = _row_spec(row, pipelines, config)
        except ValueError as exc:
            result.problems.append(f"{path}:{line}: {exc}")
            continue
        problems = validate_spec(spec, pipelines, [t.name for t in config.teams])
        if problems:
            result.problems += [f"{path}:{line}: {p}" for p in problems]
            continue
        if spec.name in deals:
            first, existing = deals[spec.name]
            if existing.pipeline != spec.pipeline:
                result.problems.append(
                    f"{path}:{line}: pipeline: {spec.pipeline!r} differs from line {first}"
                )
                continue
            existing.contacts += spec.contacts
            for role, (name, email) in spec.roles.items():
                known = existing.roles.setdefault(role, (name, email))
                if known[1].lower() == email.lower() and not known[0]:
                    existing.roles[role] = (name, email)  # the name, given on another row of the deal
            existing.client_domains += [d for d in spec.client_domains if d not in existing.client_domains]
            existing.entities += [e for e in spec.entities if e not in existing.entities]
        else:
            deals[spec.name] = (line, spec)
    result.specs = list(deals.values())
    return result


def _row_spec(row: dict[str, str], pipelines: dict[str, Pipeline], config: Config) -> DealSpec:
    team = row.get("team", "")
    pipeline_id = row["pipeline"] or default_pipeline(config, team)  # as `deals add` does
    pipeline = pipelines.get(pipeline_id)
    internal = pipeline.internal_roles() if pipeline else []
    for col in ("deal", "contact_email", "csm"):
        if not row.get(col):
            raise ValueError(f"{col}: empty; expected a value")
    roles = {}
    for role in ("csm", *(r for r in internal if r != "csm")):
        name, email = parse_person(row.get(role, ""), role) if row.get(role) else ("", "")
        given = row.get(f"{role}_name", "")
        if given and not email:
            raise ValueError(f"{role}_name: {given!r} is given, but {role} has no address")
        if given and name and given != name:
            raise ValueError(f"{role}_name: {given!r} differs from the name in {role} ({name!r})")
        if email:
            roles[role] = (given or name, email)
    names = {f"{r}_name" for r in ("csm", *internal)}
    extras = {k: v for k, v in row.items() if k not in KNOWN and k not in internal and k not in names and v}
    contact_name, contact_email = parse_person(row["contact_email"], "contact_email")
    return DealSpec(
        name=row["deal"],
        pipeline=pipeline_id,
        contacts=[
            ContactSpec(row["contact_name"] or contact_name, contact_email, row["contact_role"] or "contact")
        ],
        roles=roles,
        stage=row.get("stage") or None,
        timezone=row.get("timezone") or None,
        account=row.get("account") or None,
        client_domains=[row["client_domain"]] if row.get("client_domain") else [],
        products=_items(row, "products"),
        entities=_items(row, "entities"),
        contract_start=_date(row, "contract_start"),
        contract_end=_date(row, "contract_end"),
        contract_months=_int(row, "contract_months"),
        payment_type=row.get("payment_type") or None,
        attributes=extras,
        team=team,
    )


def _items(row: dict[str, str], col: str) -> list[str]:
    """A list in one cell, separated by ';' (a comma is part of a name: "Radio Nord, Hamburg")."""
    return list(dict.fromkeys(p.strip() for p in row.get(col, "").split(";") if p.strip()))


def _date(row: dict[str, str], col: str) -> date | None:
    value = row.get(col, "")
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{col}: {value!r} is not a date; expected YYYY-MM-DD") from None


def _int(row: dict[str, str], col: str) -> int | None:
    value = row.get(col, "")
    if not value:
        return None
    if not value.isdigit():
        raise ValueError(f"{col}: {value!r} is not a whole number")
    return int(value)


def parse_contact(text: str) -> ContactSpec:
    """'Name,email[,role]' from the command line."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) < 2 or "@" not in parts[1]:
        raise InputError(f"--contact {text!r}: expected 'Name,email[,role]'")
    return ContactSpec(parts[0], parts[1], parts[2] if len(parts) > 2 and parts[2] else "contact")
