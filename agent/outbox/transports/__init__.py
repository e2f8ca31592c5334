"""Transports deliver a composed email; one Protocol, one loader."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

from agent.config import Config
from agent.errors import ConfigError


class TransportError(Exception):
    """Delivery failed; `permanent` says whether retrying can help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Transport(Protocol):
    name: str

    def send(self, message: EmailMessage, recipients: list[str], outbox_id: int) -> None:
        """Deliver; must be safe to call again for the same outbox_id after a crash."""


def load(config: Config) -> Transport:
    backend = config.transport.backend
    if backend == "file":
        from agent.outbox.transports.file import FileTransport

        return FileTransport(config.sent_path)
    raise ConfigError(
        f"{config.source}: [transport] backend = {backend!r}: not available in this version; use 'file'"
    )
