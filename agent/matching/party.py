"""Who is on our side, and which stages close a deal: what the matcher knows beyond the message."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.domain import Address
from agent.mime.classify import same_mailbox


@dataclass
class Party:
    """Who a message or meeting involves, as seen by the matcher."""

    agent_addresses: tuple[str, ...]  # the main mailbox's and every team's
    internal_domains: tuple[str, ...]
    external: list[Address] = field(default_factory=list)
    # (pipeline, stage) of every final stage (won, lost, churned): a deal there is closed and takes
    # no new mail by its people, domain or name, only what its thread or token names it in.
    final_stages: frozenset[tuple[str, str]] = frozenset()

    def is_internal(self, email: str) -> bool:
        domain = email.rsplit("@", 1)[-1]
        return domain in self.internal_domains or self.is_agent(email)

    def is_agent(self, email: str) -> bool:
        return any(same_mailbox(email, a) for a in self.agent_addresses)
