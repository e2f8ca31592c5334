"""The attributes a pipeline's deals need (`requires:`): what each is, and how a hand-over gives it.

An entry is a deal's own datum (contract terms, products, entities, the signed contract), a role
of the pipeline (one of ours assigned, or a client contact in that role), or a custom attribute
declared as `{attribute: NAME, description: ...}`: a bare unknown name is a typo until said
otherwise. Each entry is validated alone by agent.pipeline.loader; agent.deal_data says which a
deal lacks, and `deals attributes` lists them with the hand-over's CSV columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from agent.pipeline.schema import PipelineHead, Strict

Problem = tuple[tuple[Any, ...], str, str]  # (where in the file, what is wrong, error | warning)

CONTRACT_DOCUMENT = "contract_document"
# name -> (the hand-over CSV column, the `deals add` option, what it is); "" where there is none
FIELDS: dict[str, tuple[str, str, str]] = {
    "contract_start": ("contract_start", "--contract-start", "the contract's first day (YYYY-MM-DD)"),
    "contract_end": ("contract_end", "--contract-end", "the contract's last day (YYYY-MM-DD)"),
    "contract_months": ("contract_months", "--contract-months", "the contract's length in months"),
    "payment_type": ("payment_type", "--payment-type", "how the client pays (annual, monthly, ...)"),
    "products": ("products", "--product", "the products licensed (CSV: separated by ';')"),
    "entities": (
        "entities",
        "--entity",
        "the client's sites or stations licensing the product (CSV: separated by ';')",
    ),
    CONTRACT_DOCUMENT: (
        "",
        "",
        "the signed contract, emailed to the deal's reply address (agent+TOKEN@ or [ref:TOKEN] in "
        "the subject) as an attachment whose name or subject says contract",
    ),
}
# The hand-over's own columns (agent.handover): never a custom attribute's name.
HANDOVER_COLUMNS = frozenset(
    {
        "deal",
        "pipeline",
        "contact_name",
        "contact_email",
        "contact_role",
        "csm",
        "stage",
        "timezone",
        "client_domain",
        "account",
        "team",
    }
)


class CustomAttributeDef(Strict):
    attribute: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="The CSV column and --attr key")
    description: str = ""


@dataclass(frozen=True)
class Required:
    """One attribute a deal of the pipeline needs."""

    name: str
    kind: str  # field | role | attribute
    column: str  # the hand-over CSV column ("" when the CSV cannot give it)
    option: str  # how `deals add` gives it ("" when it cannot)
    description: str
    side: str = ""  # a role's side: ours | client

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "kind": self.kind,
            "column": self.column,
            "option": self.option,
            "description": self.description,
        }


def required_entry(raw: Any, head: PipelineHead) -> tuple[Required | None, list[Problem]]:
    """One entry of `requires`, read: what it needs, or why it cannot be read."""
    if isinstance(raw, dict):
        custom = CustomAttributeDef.model_validate(raw)  # the loader reports a ValidationError
        name = custom.attribute
        if name in HANDOVER_COLUMNS:
            why = f"{name!r} is a column of every hand-over (given or defaulted), not an attribute to require"
            return None, [(("attribute",), why, "error")]
        if name in FIELDS or name in head.roles:
            return None, [
                (("attribute",), f"{name!r} is no custom attribute; write it as `- {name}`", "error")
            ]
        return Required(name, "attribute", name, f"--attr {name}=...", custom.description or name), []
    if not isinstance(raw, str):
        return None, [((), f"{raw!r}: expected a name or {{attribute: NAME, description: ...}}", "error")]
    if raw in FIELDS:
        column, option, what = FIELDS[raw]
        return Required(raw, "field", column, option, what), []
    role = head.roles.get(raw)
    if role is not None and role.side == "ours":
        title = role.title or raw
        return Required(
            raw, "role", raw, f"--role {raw}=EMAIL", f"{title}: one of ours on the deal", "ours"
        ), []
    if role is not None:
        title = role.title or raw
        what = f"{title}: a client contact with contact_role {raw}"
        return Required(raw, "role", "contact_role", f"--contact 'Name,email,{raw}'", what, "client"), []
    expected = sorted(FIELDS) + sorted(head.roles)
    return None, [
        (
            (),
            f"unknown attribute {raw!r}; expected one of {expected}, "
            f"or {{attribute: {raw}, description: ...}} for a custom one",
            "error",
        )
    ]
