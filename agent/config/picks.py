"""[[picks]]: who fills a role on a new deal, picked by one of its attributes (seeds/004: "an FMC TL is
determined depending on which state the account is located in").

The table of states (or regions, or segments) and the people who cover them is the team's, so it
lives in the config, not in the shipped pipelines.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from agent.config.sections import Section
from agent.config.values import check_address, parse_person

ANY = "*"  # the key of the person picked when no other key matches


class PickSection(Section):
    role: str = Field(
        description=(
            "The role filled, like `fmc_team_lead`; only on deals whose pipeline has it, and only "
            "when the hand-over names nobody for it."
        )
    )
    by: str = Field(description="The deal attribute read, like `state` (a CSV column, `deals add --attr`).")
    people: dict[str, str] = Field(
        description=(
            "Who covers each value of the attribute: `Name <email>` or `email`, compared without "
            'case; `"*"` covers every other value. A bad address is refused with its key.'
        )
    )

    @field_validator("people")
    @classmethod
    def _people(cls, v: dict[str, str]) -> dict[str, str]:
        for key, text in v.items():
            try:
                check_address(parse_person(text, key)[1])
            except ValueError as exc:
                raise ValueError(f"{key} = {text!r}: {exc}") from exc
        return v

    def person(self, value: str) -> tuple[str, str] | None:
        """(name, email) of who covers `value` (compared without case or spaces around), else the '*' one."""
        wanted = value.strip().lower()
        text = next((t for k, t in self.people.items() if k.strip().lower() == wanted and k != ANY), None)
        text = text or self.people.get(ANY)
        return parse_person(text, self.role) if text else None
