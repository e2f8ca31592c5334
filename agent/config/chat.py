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

    name: str = Field(description="What rules call it: {chat: NAME, message: ...}")
    service: ChatService = Field(description="slack-webhook | slack (Web API, bot token) | teams (workflow)")
    channel: str = Field("", description="slack: the channel's id (C0123...) the posts go to")
    team: str = Field("", description="Only for deals of this [[teams]] name; empty: every deal")
    api_url: str = Field("https://slack.com/api", description="slack: the Web API root")
    tls_ca_file: Path | None = Field(None, description="CA bundle to verify the service's certificate")
    timeout_seconds: float = Field(10.0, gt=0, description="Network read timeout")

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

    channels: tuple[ChatChannelSection, ...] = Field((), description="[[chat.channels]] tables")
    deal_channels: str = Field(
        "",
        description="The slack channel entry whose bot creates a deal's own channels (deal, escalation); "
        "empty: a deal's channel falls back to the channel named like its purpose",
    )
    channel_prefix: str = Field("onb-", description="Start of the name of a deal's own channel")
    dashboard_url: str = Field("", description="Public root of the dashboard: posts link to the deal's page")
    retry_base_seconds: float = Field(30.0, gt=0, description="First retry delay; it doubles each time")
    retry_max_seconds: float = Field(1800.0, gt=0, description="The longest wait between two attempts")
    retry_for_hours: float = Field(24.0, gt=0, description="Give up on a post after this long")

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
        description="Words that make an issue critical",
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
        description="Words that make an issue high",
    )
    medium: tuple[str, ...] = Field(
        (r"\bsev(?:erity)?[\s-]*3\b", r"\bp3\b", r"\bmedium (?:priority|severity)\b"),
        description="Words that make an issue medium",
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
        description="Words that make an issue low",
    )
    default: Literal["low", "medium", "high", "critical"] = Field(
        "medium", description="The severity of an issue whose words say none"
    )

    @field_validator("critical", "high", "medium", "low")
    @classmethod
    def _patterns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        check_patterns(v)
        return v
