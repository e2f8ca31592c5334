"""What every transport is and answers: the Transport Protocol, SendResult, and TransportError."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol


class TransportError(Exception):
    """Delivery of the whole message failed.

    `permanent`: retrying cannot help (5xx). `operator`: only a person can fix it
    (a refused login, a certificate that does not verify); the agent still
    retries, in case they do, and tells them once.
    """

    def __init__(
        self, message: str, *, permanent: bool, operator: bool = False, retry_after: float = 0.0
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.operator = operator
        self.retry_after = retry_after  # the server asked for this long (Retry-After, BackOffMilliseconds)


@dataclass(frozen=True)
class SendResult:
    """What happened to each recipient of one delivery attempt."""

    accepted: tuple[str, ...]
    deferred: dict[str, str] = field(default_factory=dict)  # 4xx: try these again later
    refused: dict[str, str] = field(default_factory=dict)  # 5xx: never again
    # The email went, but its copy in the Sent folder did not: recorded, and never a reason to send again.
    copy_error: str = ""

    @classmethod
    def split(cls, recipients: list[str], failures: dict[str, tuple[int, str]]) -> SendResult:
        deferred = {r: f"{code} {text}" for r, (code, text) in failures.items() if code < 500}
        refused = {r: f"{code} {text}" for r, (code, text) in failures.items() if code >= 500}
        return cls(tuple(r for r in recipients if r not in failures), deferred, refused)


class Transport(Protocol):
    name: str

    def send(self, message: EmailMessage, recipients: list[str], outbox_id: int) -> SendResult:
        """Deliver to `recipients` (the envelope); must be safe to call again for the same outbox_id."""

    def probe(self) -> str:
        """Connect and log in, sending nothing; what was found, in a line (check --connect)."""


def sender_of(message: EmailMessage) -> str:
    """The From address of a composed message: the main mailbox's, or a team's for its deals."""
    header = message["From"]
    addresses = getattr(header, "addresses", ())
    return str(addresses[0].addr_spec) if addresses else ""
