"""Microsoft Teams through a Workflows webhook ("Post to a channel when a webhook request is received").

Microsoft retired the Office 365 connectors' incoming webhooks; a workflow made from that
template gives a URL (https://<env>.environment.api.powerplatform.com/powerautomate/...
?api-version=1&sp=...&sig=...) whose `sig` is the credential, so the URL is a secret and
errors name the channel instead. The workflow takes {"type": "message", "attachments":
[one Adaptive Card]} and answers 202 Accepted: it posts the card afterwards, in its own run,
so a card that Teams cannot render fails in that run, not in this answer. 429 with
Retry-After when throttled.

A workflow cannot read the channel back, create channels or invite people.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import requests

from agent.chat.base import ChatMessage, Http, Posted, cannot, http_error
from agent.chat.cards import adaptive_card


class TeamsWorkflow:
    kind = "teams"
    can_look_up = False
    can_create_channels = False

    def __init__(self, url: str, *, timeout: float = 10.0, ca_file: Path | str | None = None) -> None:
        self.url = url
        self.http = Http(timeout, ca_file)

    def post(self, channel: str, message: ChatMessage) -> Posted:
        what = f"Teams workflow for {channel}" if channel else "Teams workflow"
        payload = {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": adaptive_card(message),
                }
            ],
        }
        data = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        response = self.http.send("POST", self.url, what, data=data, headers=headers)
        if response.status_code in (200, 202):
            return Posted("")
        raise http_error(what, response, _error(response))

    def look_up(self, channel: str, key: str, since: datetime) -> Posted | None:
        raise cannot(
            "a Teams workflow webhook cannot read the channel back, so a post whose answer was lost "
            "cannot be looked up"
        )

    def create_channel(self, name: str, *, private: bool) -> str:
        raise cannot(
            "a Teams workflow webhook cannot create channels; create the channel and its workflow in Teams"
        )

    def invite(self, channel: str, emails: Sequence[str]) -> list[str]:
        raise cannot("a Teams workflow webhook cannot add people to a channel; add them in Teams")


def _error(response: requests.Response) -> str:
    """The code and message of a Power Automate error body ({"error": {"code", "message"}}), else its text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:100]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('code', '')}: {error.get('message', '')}"
    return ""
