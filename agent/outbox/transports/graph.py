"""Send through Microsoft Graph: POST /users/{mailbox}/sendMail with the MIME message.

Graph delivers to the message's own To and Cc (there is no separate envelope) and keeps
a copy in Sent Items. It answers for the whole message: 202 Accepted, or an error, never
a refusal per recipient. The Message-ID fixed before the first attempt stays the same on
a retry, as with SMTP.
"""

from __future__ import annotations

import base64
from email.message import EmailMessage

from agent.config import Config
from agent.connect.graph_client import GraphClient, GraphError, GraphUnavailable
from agent.outbox.compose import OUTGOING_POLICY
from agent.outbox.transports.base import SendResult, TransportError, sender_of


def from_config(config: Config) -> GraphTransport:
    return GraphTransport(config)


class GraphTransport:
    name = "graph"

    def __init__(self, config: Config, client: GraphClient | None = None) -> None:
        self.client = client or GraphClient(config.graph, config.agent.address)
        self.teams = {t.address for t in config.teams}  # their emails go from their own mailboxes

    def probe(self) -> str:
        user = self.client.request("GET", self.client.user_path("?$select=mail,displayName")).json()
        # Mail.Send cannot be checked without sending: the first email will tell
        sender = user.get("mail") or self.client.mailbox
        return f"graph: signed in; sending as {sender} (Mail.Send is checked by the first email)"

    def send(self, message: EmailMessage, recipients: list[str], outbox_id: int) -> SendResult:
        mime = base64.b64encode(message.as_bytes(policy=OUTGOING_POLICY))
        sender = sender_of(message)
        try:
            self.client.request(
                "POST",
                self.client.user_path("/sendMail", sender if sender in self.teams else ""),
                data=mime,
                headers={"Content-Type": "text/plain"},  # what Graph expects for a base64 MIME body
            )
        except GraphUnavailable as exc:
            raise TransportError(str(exc), permanent=False, retry_after=exc.retry_after) from exc
        except GraphError as exc:
            # 401/403: a permission or consent only an administrator can give; 400: a bad message
            raise TransportError(str(exc), permanent=exc.permanent, operator=not exc.permanent) from exc
        return SendResult(tuple(recipients))
