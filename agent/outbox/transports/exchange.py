"""Send through Exchange Web Services: CreateItem with the MIME message, SendAndSaveCopy into Sent Items.

Like Graph, EWS sends to the message's own To and Cc and answers for the whole message.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from agent.config import Config
from agent.connect.exchange_account import connect, transient
from agent.outbox.compose import OUTGOING_POLICY
from agent.outbox.transports.base import SendResult, TransportError


def from_config(config: Config) -> ExchangeTransport:
    return ExchangeTransport(config)


class ExchangeTransport:
    name = "exchange"

    def __init__(self, config: Config, account: Any = None) -> None:
        self.config = config
        self.account = account

    def probe(self) -> str:
        if self.account is None:
            self.account = connect(self.config)
        return f"ews: signed in; copies go to {self.account.sent.name}; nothing sent"

    def send(self, message: EmailMessage, recipients: list[str], outbox_id: int) -> SendResult:
        from exchangelib import Message
        from exchangelib.errors import UnauthorizedError

        try:
            if self.account is None:
                self.account = connect(self.config)
            Message(
                account=self.account,
                folder=self.account.sent,
                mime_content=message.as_bytes(policy=OUTGOING_POLICY),
            ).send_and_save()
        except Exception as exc:
            retry, back_off = transient(exc)
            text = f"{type(exc).__name__}: {exc}" + (
                f" (the server asks to wait {back_off:.0f} s)" if back_off else ""
            )
            operator = isinstance(exc, UnauthorizedError) or "AccessDenied" in type(exc).__name__
            raise TransportError(
                text, permanent=not retry and not operator, operator=operator, retry_after=back_off
            ) from exc
        return SendResult(tuple(recipients))
