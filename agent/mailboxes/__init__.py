"""Mailbox backends: where inbound email comes from. One Protocol, one loader."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from agent.config import Config
from agent.errors import ConfigError


@dataclass(frozen=True)
class RawMail:
    key: str  # natural key of this copy, e.g. maildir:<folder>:<unique name> or imap:<folder>:<uidvalidity>:<uid>
    data: bytes


class Mailbox(Protocol):
    name: str

    def fetch(self) -> Iterator[RawMail]:
        """Messages not yet acknowledged, oldest first."""

    def ack(self, key: str) -> None:
        """Move the cursor past `key`; called only after the message's transaction committed."""


def load(config: Config) -> Mailbox:
    backend = config.mailbox.backend
    if backend == "maildir":
        from agent.mailboxes.maildir import MaildirMailbox

        return MaildirMailbox(config.maildir_path)
    raise ConfigError(
        f"{config.source}: [mailbox] backend = {backend!r}: not available in this version; use 'maildir'"
    )
