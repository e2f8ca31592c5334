"""SMTP (smtplib): implicit TLS or STARTTLS with a verifying context, AUTH, send_message only.

Rules of the trade that shaped this module:
- `starttls()` without `context=ssl.create_default_context()` does not verify
  the server certificate: every TLS context here verifies unless the operator
  turned it off in the config.
- `send_message()` keeps CRLF and dot-stuffing right; never hand-built bytes.
- 4xx is worth retrying, 5xx is not; a refusal can be per recipient, and the
  recipients that were accepted must not get the email again on the retry.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from agent.config import Config, TransportSection
from agent.connect.oauth2 import TokenRefused, access_token
from agent.connect.tls import client_context
from agent.outbox.transports.base import SendResult, TransportError, sender_of

log = logging.getLogger(__name__)


def from_config(config: Config) -> SmtpTransport:
    """The [transport] server, with the agent's address as the envelope sender (bounces come back to it)."""
    return SmtpTransport(config.transport, config.agent.address)


class SmtpTransport:
    name = "smtp"

    def __init__(self, settings: TransportSection, envelope_from: str) -> None:
        self.s = settings
        self.envelope_from = envelope_from

    def _connect(self) -> smtplib.SMTP:
        s = self.s
        if s.tls == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                s.host,
                s.port or 465,
                timeout=s.timeout_seconds,
                context=client_context(self.s, f"SMTP {self.s.host}"),
            )
        else:
            client = smtplib.SMTP(s.host, s.port or 587, timeout=s.timeout_seconds)
            if s.tls == "starttls":
                client.starttls(context=client_context(self.s, f"SMTP {self.s.host}"))
        if s.username and s.auth == "xoauth2":
            # Gmail, Microsoft 365: SASL XOAUTH2 with an access token (smtplib has no mechanism for it)
            token = access_token(s)
            client.ehlo_or_helo_if_needed()
            client.auth("XOAUTH2", lambda challenge=None: f"user={s.username}\x01auth=Bearer {token}\x01\x01")
        elif s.username:
            client.login(s.username, s.password() or "")
        return client

    def probe(self) -> str:
        client = self._connect()
        try:
            return f"SMTP {self.s.host}: connected{' and logged in' if self.s.username else ''}; nothing sent"
        finally:
            client.quit()

    def send(self, message: EmailMessage, recipients: list[str], outbox_id: int) -> SendResult:
        try:
            client = self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportError(
                f"SMTP login refused: {exc.smtp_code} {_text(exc.smtp_error)}", permanent=False, operator=True
            ) from exc
        except TokenRefused as exc:
            raise TransportError(str(exc), permanent=False, operator=True) from exc
        except ssl.SSLError as exc:
            # A certificate that does not verify is a configuration matter: never send in clear instead.
            raise TransportError(
                f"TLS with {self.s.host} failed: {exc}", permanent=False, operator=True
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransportError(f"cannot reach {self.s.host}: {exc}", permanent=False) from exc
        try:
            refused = client.send_message(
                message,
                # a team's email bounces back to the team's mailbox
                from_addr=sender_of(message) or self.envelope_from,
                to_addrs=recipients,
                mail_options=(),
                rcpt_options=(),
            )
        except smtplib.SMTPRecipientsRefused as exc:
            return SendResult.split(
                recipients, {r: (code, _text(msg)) for r, (code, msg) in exc.recipients.items()}
            )
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            permanent = 500 <= exc.smtp_code < 600
            raise TransportError(f"{exc.smtp_code} {_text(exc.smtp_error)}", permanent=permanent) from exc
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            # Includes a connection lost after DATA: the one window SMTP cannot tell (docs/outbox.md).
            raise TransportError(f"connection to {self.s.host} lost: {exc}", permanent=False) from exc
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        return SendResult.split(recipients, {r: (code, _text(msg)) for r, (code, msg) in refused.items()})


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
