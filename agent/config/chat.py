"""The config of chat notifications ([chat], [[chat.channels]]) and of reading an issue's severity ([severity]).

A webhook URL is a secret like a password (anyone holding it can post to the channel), so it
comes from the environment or a file, never inline; so does a Slack bot token.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from agent.config.sections import Secret, Section
from agent.config.values import check_patterns

ChatService = Literal["slack-webhook", "slack", "teams"]


class ChatChannelSection(Secret):
    """One channel the rules can post to by name. password_env/password_file: the webhook URL
    (slack-webhook, teams) or the bot token (slack)."""

    name: str = Field(
        description=(
            "What rules call it: `{chat: fmc-intake}`. A short id (`a-z`, `0-9`, `-`, `_`; at most "
            "60; not `deal`), unique per team."
        )
    )
    service: ChatService = Field(
        description=(
            "A Slack incoming webhook (`slack-webhook`), the Slack Web API with a bot token "
            "(`slack`), or a Teams workflow webhook (`teams`). `password_env` or `password_file` is "
            "required: where the webhook URL or the bot token comes from (a URL is a credential "
            "too), read at the first post, not by `check`."
        )
    )
    channel: str = Field(
        "",
        description=(
            "`slack`: required, the id (`C0123ABCDEF`) of the channel its posts go to; the bot must "
            "be a member. A webhook is bound to its channel when it is made."
        ),
    )
    team: str = Field(
        "",
        description=(
            "A `[[teams]]` name: only for that team's deals; it wins over an entry of the same name "
            "without a team, which serves every other deal. Empty: every deal."
        ),
    )
    api_url: str = Field("https://slack.com/api", description="`slack`: the Web API's root.")
    tls_ca_file: Path | None = Field(None, description="A private CA to trust (a TLS-inspecting proxy).")
    timeout_seconds: float = Field(
        10.0,
        gt=0,
        description=(
            "Network read timeout. A post that got no answer after its request went out is looked "
            "up before it is posted again (`slack`), or marked `unknown` and told to a person "
            "(webhooks)."
        ),
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,59}", v) or v == "deal":
            raise ValueError("expected a short id of lower-case letters, digits, dashes (not 'deal')")
        return v

    @model_validator(mode="after")
    def _secret(self) -> ChatChannelSection:
        if not (self.password_env or self.password_file):
            what = "the bot token" if self.service == "slack" else "the webhook URL"
            raise ValueError(f"needs password_env or password_file holding {what}")
        if self.service == "slack" and not self.channel:
            raise ValueError("a slack (Web API) channel needs channel = the channel's id")
        return self


class ChatSection(Section):
    """Chat notifications beside email (docs/chat.md)."""

    channels: tuple[ChatChannelSection, ...] = Field(
        (), description="The channels the rules can post to by name, below."
    )
    deal_channels: str = Field(
        "",
        description=(
            "The `slack` (bot token) `[[chat.channels]]` entry whose bot creates a deal's own "
            "channels (`chat: deal`, `open_channel: escalation`, ...) and invites its people. "
            "Empty: a deal's channel for a purpose falls back to the entry named like the purpose, "
            "and `deal` posts go by email. Another entry, or one of another service, is refused "
            "(only a bot can create channels)."
        ),
    )
    channel_prefix: str = Field(
        "onb-",
        description=(
            "The start of a deal's own channel's name: `onb-acme-radio`, `onb-acme-radio-escalation`."
        ),
    )
    dashboard_url: str = Field(
        "",
        description=(
            "The dashboard's public root (whatever stands in front of 127.0.0.1): posts carry an "
            '"Open the deal" link to `<url>/deals/<id>`. Empty: no link.'
        ),
    )
    retry_base_seconds: float = Field(
        30.0,
        gt=0,
        description=(
            "The first wait after a failed post (5xx, no connection); it doubles after each "
            "attempt. A 429 waits what its Retry-After says instead."
        ),
    )
    retry_max_seconds: float = Field(1800.0, gt=0, description="The longest wait between two attempts")
    retry_for_hours: float = Field(
        24.0,
        gt=0,
        description=(
            "A post still not taken this long after its first attempt is given up (`failed`), and "
            "the deal's Responsible person gets its text by email."
        ),
    )

    @model_validator(mode="after")
    def _names(self) -> ChatSection:
        seen: set[tuple[str, str]] = set()
        for c in self.channels:
            if (c.name, c.team) in seen:
                raise ValueError(
                    f"two [[chat.channels]] named {c.name!r}" + (f" for team {c.team}" if c.team else "")
                )
            seen.add((c.name, c.team))
        if self.deal_channels:
            entry = next((c for c in self.channels if c.name == self.deal_channels), None)
            if entry is None or entry.service != "slack":
                raise ValueError(
                    f"deal_channels = {self.deal_channels!r}: expected the name of a [[chat.channels]] "
                    "entry with service = 'slack' (only a bot can create channels)"
                )
        return self

    def channel(self, name: str, team: str) -> ChatChannelSection | None:
        """The entry a rule's channel name means on a deal of `team`: the team's own, else the common one."""
        own = next((c for c in self.channels if c.name == name and c.team and c.team == team), None)
        return own or next((c for c in self.channels if c.name == name and not c.team), None)


class SeveritySection(Section):
    """How an issue's severity is read from a message: regular expressions per level, checked from
    critical down; the first level with a match wins (docs/chat.md)."""

    critical: tuple[str, ...] = Field(
        (
            r"\bcritical\b",
            r"\bsev(?:erity)?[\s-]*1\b",
            r"\bp1\b",
            r"\boutage\b",
            r"\bnobody can\b",
            r"\bdown for (?:all|everyone)\b",
            r"\bdata loss\b",
        ),
        description="Regular expressions: words that make an issue critical.",
    )
    high: tuple[str, ...] = Field(
        (
            r"\burgent(?:ly)?\b",
            r"\bsev(?:erity)?[\s-]*2\b",
            r"\bp2\b",
            r"\bhigh (?:priority|severity)\b",
            r"\basap\b",
            r"\bblock(?:ed|ing|er)\b",
            r"\bescalat\w*",
        ),
        description="Regular expressions: words that make an issue high.",
    )
    medium: tuple[str, ...] = Field(
        (r"\bsev(?:erity)?[\s-]*3\b", r"\bp3\b", r"\bmedium (?:priority|severity)\b"),
        description="Regular expressions: words that make an issue medium.",
    )
    low: tuple[str, ...] = Field(
        (
            r"\bsev(?:erity)?[\s-]*4\b",
            r"\bp4\b",
            r"\blow (?:priority|severity)\b",
            r"\bminor\b",
            r"\bwhen you (?:have|get) (?:a )?(?:moment|chance)\b",
            r"\bno rush\b",
        ),
        description="Regular expressions: words that make an issue low.",
    )
    default: Literal["low", "medium", "high", "critical"] = Field(
        "medium", description="The severity of an issue whose words say none"
    )

    @field_validator("critical", "high", "medium", "low")
    @classmethod
    def _patterns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        check_patterns(v)
        return v
