"""A rule's `chat` and `open_channel`: posts stored for the chat outbox, and a deal's own channels.

A post is stored as a chat post and sent by the chat outbox (agent.chat.queue) with the email
outbox's guarantees. A channel nobody configured is not a reason to lose the news: the deal's
Responsible person gets it by email instead, and the audit trail says why. A deal's own channel
(deal, escalation, ...) is created by the chat outbox on its first post there: network work
never runs inside the item's transaction.
"""

from __future__ import annotations

import hashlib

from agent.chat import status as chat_status
from agent.config import Config
from agent.handling.enqueue import Enqueuer
from agent.handling.occasion import Occasion
from agent.pipeline.actions import OpenChannel
from agent.pipeline.definition import Pipeline
from agent.store import models as m

DEAL_CHANNEL = "deal"  # a rule's name for the deal's own channel


class ChatPosts:
    def __init__(self, config: Config, pipelines: dict[str, Pipeline], enqueuer: Enqueuer) -> None:
        self.config = config
        self.pipelines = pipelines
        self.enqueuer = enqueuer

    def post(self, at: Occasion, name: str, message: str) -> None:
        deal, firing = at.deal, at.firing
        channel = self._channel(deal, name)
        text = at.fill(message) or firing.reason
        title = f"{deal.name}: {text.splitlines()[0][:140]}"
        if channel is None:
            at.trail("chat_not_configured", f"no chat channel {name!r} is configured: told by email")
            self.enqueuer.notify_responsible(
                at.repo,
                deal,
                at.cause,
                at.now,
                subject=title,
                message=f"{text}\n\n(For chat channel {name}: {firing.reason})",
            )
            return
        key = hashlib.sha256(
            f"chat|{at.cause.key}|{deal.id}|{firing.rule}|{channel}|{text}".encode()
        ).hexdigest()
        if at.repo.chat_post_by_key(key) is not None:
            return  # this cause posted it already (the item is being processed again)
        post = m.ChatPost(
            deal_id=deal.id,
            channel=channel,
            idempotency_key=key,
            title=title,
            text=f"{text}\n{firing.reason}" if text != firing.reason else text,
            facts=self._facts(deal, at.issue),
            link=self._link(deal),
            due_at=at.now,
            created_at=at.now,
            attempts=0,
            last_error="",
            remote_id="",
            rule=firing.rule,
        )
        chat_status.queue(at.cause.trail(at.repo, at.now), post, "")

    def open(self, at: Occasion, effect: OpenChannel) -> None:
        deal = at.deal
        if effect.unfilled:
            at.trail(
                "recipients_missing",
                f"open_channel {effect.purpose}: nobody fills {', '.join(effect.unfilled)}",
            )
        people = [a.email for a in effect.invite]
        known = dict(deal.chat_channels.get(effect.purpose, {}))
        known["invite"] = sorted({*known.get("invite", []), *people})
        deal.chat_channels = {**deal.chat_channels, effect.purpose: known}  # a new dict: the ORM sees it
        at.trail("chat_channel_opened", f"{effect.purpose} channel with {', '.join(people) or 'nobody'}")
        message = effect.message or f"The {effect.purpose} channel for {{deal}}: " + ", ".join(
            a.name or a.email for a in effect.invite
        )
        if self._channel(deal, effect.purpose) is None:
            # nothing can create it: the people who should be in it are asked to, by email
            self.enqueuer.notice(
                at.repo,
                deal,
                effect.invite,
                at.cause,
                at.now,
                subject=f"{deal.name}: please open a {effect.purpose} channel",
                message=f"{at.fill(message)}\n\nNo chat service is set up to open it; please open it with "
                f"{', '.join(people)}. ({at.firing.reason})",
                trigger=at.trigger,
            )
            return
        self.post(at, effect.purpose, message)

    def _channel(self, deal: m.Deal, name: str) -> str | None:
        """What a chat post's `channel` holds for a rule's name; None when nothing can carry it."""
        chat = self.config.chat
        own = deal.chat_channels.get(name, {})
        if (name == DEAL_CHANNEL or name in deal.chat_channels) and (chat.deal_channels or own.get("id")):
            return f"deal:{name}"  # the chat outbox creates it on its first post, if it must
        return name if chat.channel(name, deal.team) else None

    def _facts(self, deal: m.Deal, issue: m.Issue | None) -> list[list[str]]:
        pipeline = self.pipelines.get(deal.pipeline)
        stage = pipeline.stage(deal.stage).name if pipeline and pipeline.has_stage(deal.stage) else deal.stage
        facts = [["Stage", stage]]
        csm = [r.name or r.email for r in deal.roles if r.role == "csm"]
        if csm:
            facts.append(["CSM", ", ".join(csm)])
        if issue is not None:
            facts.append(["Issue", f"{issue.kind}: {issue.summary[:200]}"])
            facts.append(["Severity", issue.confirmed or f"{issue.severity} (not confirmed yet)"])
            if issue.reported_by:
                facts.append(["Reported by", issue.reported_by])
            if issue.ticket:
                facts.append(["Ticket", issue.ticket])
        return facts

    def _link(self, deal: m.Deal) -> str:
        root = self.config.chat.dashboard_url.rstrip("/")
        return f"{root}/deals/{deal.id}" if root else ""
