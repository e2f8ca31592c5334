"""Slack: an incoming webhook (post only) or the Web API with a bot token (post, look up, channels).

Incoming webhook: POST JSON to the webhook's URL; 200 with the body `ok`, or a 4xx/5xx with
the error's name as a plain-text body (invalid_payload, no_text, channel_not_found,
channel_is_archived, action_prohibited, ...), 429 with Retry-After when throttled.

Web API: `https://slack.com/api/<method>`, the token as `Authorization: Bearer`. The answer
is HTTP 200 with {"ok": true, ...} or {"ok": false, "error": "<name>"} (429 with Retry-After
when throttled). How arguments travel follows Slack's own SDK: chat.postMessage as JSON (it
nests blocks and metadata); methods that only read (conversations.history, .list,
users.lookupByEmail) as query parameters, since not every read method reads a JSON body;
conversations.create and .invite form-encoded.

A post is tagged with message metadata {event_type: "csm_agent_post", event_payload: {key}},
which conversations.history returns with include_all_metadata: that is how look_up finds a
post whose answer was lost, before it is sent again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from agent.chat.base import ChatError, ChatMessage, Http, Posted, cannot, http_error
from agent.chat.cards import escape, plain_text, slack_blocks

EVENT_TYPE = "csm_agent_post"
# Errors Slack documents as its own passing trouble ("likely due to a transient issue on our end")
TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")
JSON_TYPE = (
    "application/json; charset=utf-8"  # without the charset Slack answers with a missing_charset warning
)


class SlackWebhook:
    """An incoming webhook: bound to one channel when it was made, so `channel` only names it in errors."""

    kind = "slack-webhook"
    can_look_up = False
    can_create_channels = False

    def __init__(self, url: str, *, timeout: float = 10.0, ca_file: Path | str | None = None) -> None:
        self.url = url
        self.http = Http(timeout, ca_file)

    def post(self, channel: str, message: ChatMessage) -> Posted:
        what = f"Slack webhook for {channel}" if channel else "Slack webhook"
        payload = {"text": escape(plain_text(message)), "blocks": slack_blocks(message)}
        data = json.dumps(payload).encode()
        response = self.http.send("POST", self.url, what, data=data, headers={"Content-Type": JSON_TYPE})
        if response.status_code == 200:
            return Posted("")
        raise http_error(what, response, response.text[:100])

    def look_up(self, channel: str, key: str, since: datetime) -> Posted | None:
        raise cannot(
            "a Slack incoming webhook cannot read the channel back, so a post whose answer was lost "
            "cannot be looked up; configure a Slack bot token"
        )

    def create_channel(self, name: str, *, private: bool) -> str:
        raise cannot("a Slack incoming webhook cannot create channels; configure a Slack bot token")

    def invite(self, channel: str, emails: Sequence[str]) -> list[str]:
        raise cannot("a Slack incoming webhook cannot invite people; configure a Slack bot token")


class SlackApi:
    """The Slack Web API with a bot token (xoxb-...)."""

    kind = "slack"
    can_look_up = True
    can_create_channels = True
    history_pages = 10  # pages of conversations.history one look_up reads, 200 messages each
    list_pages = 50  # pages of conversations.list when finding a channel by name

    def __init__(
        self,
        token: str,
        *,
        api_url: str = "https://slack.com/api",
        timeout: float = 10.0,
        ca_file: Path | str | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.http = Http(timeout, ca_file)
        self.http.session.headers["Authorization"] = f"Bearer {token}"

    # --- the seam -----------------------------------------------------------------------------
    def post(self, channel: str, message: ChatMessage) -> Posted:
        payload = {
            "channel": channel,
            "text": escape(plain_text(message)),
            "blocks": slack_blocks(message),
            "metadata": {"event_type": EVENT_TYPE, "event_payload": {"key": message.key}},
            "unfurl_links": False,  # the dashboard link would unfurl into a second card
            "unfurl_media": False,
        }
        answer = self.call("chat.postMessage", channel, json_body=payload)
        return Posted(str(answer.get("ts", "")))

    def look_up(self, channel: str, key: str, since: datetime) -> Posted | None:
        channel_id = self.channel_id(channel)
        since = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
        query = {
            "channel": channel_id,
            "oldest": f"{since.timestamp():.6f}",
            "inclusive": "true",
            "limit": "200",
            "include_all_metadata": "true",
        }
        for _ in range(self.history_pages):
            answer = self.call("conversations.history", channel, query=query)
            for item in answer.get("messages") or []:
                if _key_of(item) == key:
                    return Posted(str(item.get("ts", "")))
            cursor = _next_cursor(answer)
            if not cursor:
                return None
            query["cursor"] = cursor
        # History only grows: asking again would end the same way, so a person decides.
        raise ChatError(
            f"Slack conversations.history in {channel}: more than {self.history_pages * 200} messages since "
            f"{since:%Y-%m-%d %H:%M} UTC; cannot tell whether post {key} was made"
        )

    def create_channel(self, name: str, *, private: bool) -> str:
        form = {"name": name, "is_private": "true" if private else "false"}
        try:
            answer = self.call("conversations.create", name, form=form)
        except ChatError as exc:
            if exc.code != "name_taken":
                raise
            found = self.find_channel(name)
            if found:
                return found
            raise ChatError(
                f"Slack conversations.create {name}: the name is taken by a channel the bot cannot see "
                "(a private channel it is not in, or an archived one)",
                code="name_taken",
            ) from None
        return _field(answer, "channel", "id", f"Slack conversations.create ({name})")

    def invite(self, channel: str, emails: Sequence[str]) -> list[str]:
        channel_id = self.channel_id(channel)
        missing: list[str] = []
        users: list[str] = []
        for email in emails:
            try:
                answer = self.call("users.lookupByEmail", email, query={"email": email})
            except ChatError as exc:
                if exc.code != "users_not_found":
                    raise
                missing.append(email)
                continue
            users.append(_field(answer, "user", "id", f"Slack users.lookupByEmail ({email})"))
        try:
            self._invite(channel, channel_id, users)
        except ChatError as exc:
            # Slack invites nobody when one of several cannot be invited; one at a time then
            if exc.code != "already_in_channel" or len(users) < 2:
                raise
            for user in users:
                self._invite(channel, channel_id, [user])
        return missing

    # --- calls --------------------------------------------------------------------------------
    def call(
        self,
        method: str,
        about: str,
        *,
        json_body: dict[str, Any] | None = None,
        form: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One Web API call; `about` (a channel, a name, an email) only goes into error messages."""
        what = f"Slack {method} ({about})" if about else f"Slack {method}"
        url = f"{self.api_url}/{method}"
        if json_body is not None:
            body = json.dumps(json_body).encode()
            response = self.http.send("POST", url, what, data=body, headers={"Content-Type": JSON_TYPE})
        elif form is not None:
            response = self.http.send("POST", url, what, data=form)
        else:
            response = self.http.send("GET", url, what, params=query or {})
        if response.status_code != 200:
            raise http_error(what, response, _error_name(response))
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ChatError(f"{what}: answered 200 without a JSON object", permanent=False, status=200)
        if not answer.get("ok"):
            error = str(answer.get("error") or "unknown_error")
            raise ChatError(f"{what}: {error}", permanent=error not in TRANSIENT, status=200, code=error)
        return answer

    def _invite(self, channel: str, channel_id: str, users: list[str]) -> None:
        if not users:
            return
        form = {"channel": channel_id, "users": ",".join(users), "force": "true"}
        try:
            self.call("conversations.invite", channel, form=form)
        except ChatError as exc:
            if exc.code == "already_in_channel" and len(users) == 1:
                return
            if exc.code == "cant_invite_self":  # the bot is among the people; it is in already
                return
            raise

    def channel_id(self, channel: str) -> str:
        """A channel's id: reading a channel needs its id, where posting also takes its name."""
        if CHANNEL_ID.fullmatch(channel):
            return channel
        found = self.find_channel(channel)
        if not found:
            raise ChatError(
                f"Slack channel {channel}: not found among the channels the bot can see",
                code="channel_not_found",
            )
        return found

    def find_channel(self, name: str) -> str:
        """The id of the unarchived channel named `name` that the bot can see, or ""."""
        name = name.removeprefix("#")
        query = {"types": "public_channel,private_channel", "exclude_archived": "true", "limit": "200"}
        for _ in range(self.list_pages):
            answer = self.call("conversations.list", name, query=query)
            for item in answer.get("channels") or []:
                if isinstance(item, dict) and item.get("name") == name:
                    return str(item["id"])
            cursor = _next_cursor(answer)
            if not cursor:
                return ""
            query["cursor"] = cursor
        return ""


def _field(answer: dict[str, Any], outer: str, inner: str, what: str) -> str:
    """answer[outer][inner] of an ok answer; its absence is Slack's trouble, worth another try."""
    value = answer.get(outer)
    if not isinstance(value, dict) or not value.get(inner):
        raise ChatError(f"{what}: the answer has no {outer}.{inner}", permanent=False, status=200)
    return str(value[inner])


def _next_cursor(answer: dict[str, Any]) -> str:
    meta = answer.get("response_metadata") or {}
    return str(meta.get("next_cursor") or "") if isinstance(meta, dict) else ""


def _key_of(item: Any) -> str:
    """The idempotency key of a message from conversations.history, "" when it is not one of our posts."""
    metadata = item.get("metadata") if isinstance(item, dict) else None
    if not isinstance(metadata, dict) or metadata.get("event_type") != EVENT_TYPE:
        return ""
    payload = metadata.get("event_payload")
    return str(payload.get("key", "")) if isinstance(payload, dict) else ""


def _error_name(response: requests.Response) -> str:
    """The error of a non-200 Web API answer: {"ok": false, "error": ...} when it is JSON."""
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""
