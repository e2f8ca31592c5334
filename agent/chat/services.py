"""Where a chat post goes: the service of a [[chat.channels]] entry, and the channel a post's name means.

This is the one place that maps a service's name (slack-webhook, slack, teams) to its class.
A post names its channel in one of two ways:

- a configured name ("escalation"): the [[chat.channels]] entry of that name for the deal's
  team (else the common one); the post goes to that entry's channel;
- `deal:<purpose>` ("deal:deal", "deal:escalation"): the deal's own channel for that purpose,
  as the rules wrote it in `Deal.chat_channels`. Once created it has an id, and the post goes
  there through the service that created it. Not yet created: with `[chat] deal_channels`
  the bot of that entry creates it (an `Opening`), invites the people the rules named and
  records it on the deal; without, the post goes to the configured channel named like the
  purpose, and with neither it cannot go anywhere (`NoRoute`, a sentence naming what to set).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.chat.base import ChatError, ChatService
from agent.chat.slack import SlackApi, SlackWebhook
from agent.chat.teams import TeamsWorkflow
from agent.config.chat import ChatChannelSection, ChatSection
from agent.store import models as m

DEAL = "deal:"  # the prefix of a deal's own channel in a post's `channel`
NAME_MAX = 80  # Slack's longest channel name
# Deals' own channels are private: they carry a client's name and its problems, which are not
# every workspace member's business; the people the rules name are invited.
PRIVATE = True


def _secret(entry: ChatChannelSection) -> str:
    value = entry.password()
    if not value:  # the section's validator requires a source; an empty file or variable is left
        raise ChatError(f"chat channel {entry.name}: its password_env/password_file holds nothing")
    return value


BUILDERS: dict[str, Callable[[ChatChannelSection], ChatService]] = {
    "slack-webhook": lambda e: SlackWebhook(_secret(e), timeout=e.timeout_seconds, ca_file=e.tls_ca_file),
    "slack": lambda e: SlackApi(
        _secret(e), api_url=e.api_url, timeout=e.timeout_seconds, ca_file=e.tls_ca_file
    ),
    "teams": lambda e: TeamsWorkflow(_secret(e), timeout=e.timeout_seconds, ca_file=e.tls_ca_file),
}


class ChatServices:
    """One service per [[chat.channels]] entry, built when first needed and kept (its HTTP session
    stays open between posts). Entries are frozen and compared by value: a reload that changes an
    entry (a new token) builds a new service, one that does not keeps the old."""

    def __init__(
        self, builders: dict[str, Callable[[ChatChannelSection], ChatService]] | None = None
    ) -> None:
        self.builders = builders or BUILDERS
        self._built: dict[ChatChannelSection, ChatService] = {}

    def __call__(self, entry: ChatChannelSection) -> ChatService:
        service = self._built.get(entry)
        if service is None:
            service = self._built[entry] = self.builders[entry.service](entry)
        return service


@dataclass(frozen=True)
class Route:
    """A channel known: the entry whose service posts, what that service is given, what people read."""

    entry: ChatChannelSection
    channel: str  # a Slack channel id; for a webhook (bound to its channel) the entry's name
    where: str  # "#onb-acme-health", "#escalation": for the history and the notices


@dataclass(frozen=True)
class Opening:
    """A deal's own channel still to be created by the `deal_channels` entry's bot."""

    entry: ChatChannelSection
    purpose: str
    name: str
    invite: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"#{self.name}"


class NoRoute(Exception):
    """The post names a channel nothing is configured for: a person must configure it (permanent)."""


def route(chat: ChatSection, channel: str, deal: m.Deal | None, *, namesake: bool = False) -> Route | Opening:
    """Where a post naming `channel` goes. `namesake`: an older deal has the same name (its channel
    name gets the deal's id, so two deals never share a channel)."""
    team = deal.team if deal is not None else ""
    if not channel.startswith(DEAL):
        entry = chat.channel(channel, team)
        if entry is None:
            raise NoRoute(
                f"no [[chat.channels]] entry named {channel!r}"
                + (f" (for team {team} or for every team)" if team else "")
                + f": add one with name = {channel!r}"
            )
        return _configured(entry)
    purpose = channel.removeprefix(DEAL)
    if deal is None:
        raise NoRoute(f"{channel} names a deal's own channel, and the post is about no deal")
    info: dict[str, Any] = dict((deal.chat_channels or {}).get(purpose) or {})
    if info.get("id"):
        owner = chat.channel(str(info.get("service") or chat.deal_channels), team)
        if owner is None:
            raise NoRoute(
                f"the deal's {purpose} channel #{info.get('name', info['id'])} was created through the "
                f"[[chat.channels]] entry {info.get('service')!r}, which is no longer configured: add it again"
            )
        return Route(owner, str(info["id"]), f"#{info.get('name') or info['id']}")
    if chat.deal_channels:
        entry = chat.channel(chat.deal_channels, team)
        assert entry is not None  # ChatSection's validator checks that deal_channels names an entry
        name = str(info.get("name") or channel_name(chat.channel_prefix, deal, purpose, namesake=namesake))
        return Opening(entry, purpose, name, tuple(str(e) for e in info.get("invite") or ()))
    entry = chat.channel(purpose, team)
    if entry is None:
        raise NoRoute(
            f"the deal's own {purpose} channel cannot be created and nothing stands in for it: set [chat] "
            f"deal_channels to a slack (bot token) entry, or add a [[chat.channels]] entry named {purpose!r}"
        )
    return _configured(entry)


def _configured(entry: ChatChannelSection) -> Route:
    # a webhook is bound to one channel when it is made: its entry's name is all there is to say
    return Route(entry, entry.channel or entry.name, f"#{entry.name}")


def channel_name(prefix: str, deal: m.Deal, purpose: str, *, namesake: bool = False) -> str:
    """A Slack channel name: lower-case letters, digits, - and _, at most 80 characters.

    onb-acme-health, onb-acme-health-escalation; a deal sharing an older deal's name gets its id.
    """
    tail = ("" if purpose == "deal" else f"-{slug(purpose)}") + (f"-{deal.id}" if namesake else "")
    head = slug(prefix, keep_edges=True)
    room = max(1, NAME_MAX - len(head) - len(tail))
    body = slug(deal.name)[:room].strip("-_") or f"deal-{deal.id}"
    return f"{head}{body}{tail}"[:NAME_MAX]


def slug(text: str, *, keep_edges: bool = False) -> str:
    """Text as Slack allows in a channel name: accents dropped, other characters as one dash."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    done = re.sub(r"[^a-z0-9_-]+", "-", ascii_text)
    done = re.sub(r"-{2,}", "-", done)
    return done if keep_edges else done.strip("-")


def record_channel(deal: m.Deal, opening: Opening, channel_id: str) -> None:
    """The channel created for the deal, on the deal: later posts go there without creating it again."""
    channels = dict(deal.chat_channels or {})
    info = dict(channels.get(opening.purpose) or {})
    info.update({"id": channel_id, "name": opening.name, "service": opening.entry.name})
    channels[opening.purpose] = info
    deal.chat_channels = channels  # a new dict: JSON columns do not see changes made in place


def where(post: m.ChatPost, deal: m.Deal | None) -> str:
    """How people read a post's channel, without resolving it (a notice about a post that failed)."""
    if post.channel.startswith(DEAL) and deal is not None:
        info = (deal.chat_channels or {}).get(post.channel.removeprefix(DEAL)) or {}
        if info.get("name"):
            return f"#{info['name']}"
    return f"#{post.channel}"
