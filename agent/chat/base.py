"""The chat seam: one message shape, one error, one Protocol for Slack and Teams.

- A post carries an idempotency key that stays the same across retries. Where the service
  can read a channel back (the Slack Web API), a post whose answer was lost (a timeout, a
  crash mid-post) is looked up by that key before it is sent again; elsewhere the caller
  decides between a possible duplicate and a possible loss.
- ChatError says what the caller does next: `permanent` needs a person; otherwise retry,
  after `retry_after` seconds when the service named a time (0: the caller's back-off).
  `status` 0 means no answer was read at all: the post may or may not have landed.
- Secrets stay out of messages: a webhook URL is itself a credential (anyone holding it can
  post), so errors name the channel and the service, never the URL or the token, and are
  raised `from None` so that a logged traceback does not carry requests' own message (which
  quotes the URL).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import requests


@dataclass(frozen=True)
class ChatMessage:
    key: str  # idempotency key of the post (stable across retries)
    title: str  # "Acme Health: critical issue reported"
    text: str  # the reason, plain text (may have several lines)
    deal: str  # the deal's name ("" when about no deal)
    link: str  # the deal's dashboard page ("" when the dashboard has no public URL)
    facts: tuple[tuple[str, str], ...] = ()  # ("Stage", "Parallel Onboarding"), ("Severity", "critical")


@dataclass(frozen=True)
class Posted:
    remote_id: str  # Slack's message ts; "" where the service gives none (webhooks)


class ChatError(Exception):
    """A chat service refused or did not answer; `permanent` when trying again cannot help."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = True,
        retry_after: float = 0.0,
        status: int = 0,
        code: str = "",
    ) -> None:
        super().__init__(message)
        self.permanent, self.retry_after, self.status, self.code = permanent, retry_after, status, code


class ChatService(Protocol):
    kind: str  # "slack-webhook" | "slack" | "teams"
    can_look_up: bool  # a post whose outcome is unknown (a crash mid-post) can be looked up by its key
    can_create_channels: bool

    def post(self, channel: str, message: ChatMessage) -> Posted: ...

    def look_up(self, channel: str, key: str, since: datetime) -> Posted | None:
        """The post made with `key` since `since`; None when there is none."""
        ...

    def create_channel(self, name: str, *, private: bool) -> str:
        """The new channel's id; a name already taken gives the existing channel's id."""
        ...

    def invite(self, channel: str, emails: Sequence[str]) -> list[str]:
        """Adds the people to the channel; returns the emails for which the service has no user."""
        ...


def cannot(what: str) -> ChatError:
    """The error of a service asked for something it has no way to do (a webhook creating channels)."""
    return ChatError(what, permanent=True)


class Http:
    """One requests.Session with the timeout and CA file of a service, turning transport failures into ChatError."""

    def __init__(self, timeout: float, ca_file: Path | str | None) -> None:
        self.session = requests.Session()
        self.timeout = timeout
        # Per request rather than session.verify: requests lets REQUESTS_CA_BUNDLE override a session's
        # `verify`, and an operator's CA file must win.
        self.verify: bool | str = str(ca_file) if ca_file else True

    def send(self, method: str, url: str, what: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, url, timeout=self.timeout, verify=self.verify, **kwargs)
        except requests.exceptions.ReadTimeout:
            raise ChatError(
                f"{what}: no answer within {self.timeout:g} s (the request was sent: it may have been taken)",
                permanent=False,
            ) from None
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as exc:
            raise ChatError(f"{what}: the configured URL is not valid ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            # str(exc) quotes the URL, which for a webhook is the secret: name the failure's kind only
            raise ChatError(f"{what}: no answer ({type(exc).__name__})", permanent=False) from None


def http_error(what: str, response: requests.Response, detail: str) -> ChatError:
    """The ChatError for a non-2xx answer: 429 and 5xx are worth retrying, other 4xx need a person."""
    status = response.status_code
    detail = " ".join(detail.split())[:200]
    message = f"{what}: answered {status}" + (f" {detail}" if detail else "")
    if status == 429:
        wait = retry_after(response.headers)
        return ChatError(
            f"{message}; retry after {wait:g} s", permanent=False, retry_after=wait, status=status
        )
    return ChatError(message, permanent=status < 500, status=status)


def retry_after(headers: Mapping[str, str]) -> float:
    """Seconds from a Retry-After header (seconds or an HTTP date); 0 when absent or unreadable."""
    value = headers.get("Retry-After", "").strip()
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return 0.0
