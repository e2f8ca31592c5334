"""A ChatMessage as Slack Block Kit blocks and as a Microsoft Teams Adaptive Card: pure functions.

Slack rejects a whole message (invalid_blocks) when one block breaks a documented limit,
so every text is cut to its limit here, with "…" to show the cut: a header's text 150
characters, a section's 3000, a section's fields 10 of 2000 each, a button's URL 3000 (a
longer link is left out rather than cut, since a cut URL leads nowhere).

The reason is sent as plain_text, not mrkdwn: it comes from email and people, and `*`, `_`
or `<` in it must not turn into formatting or links. Fact labels are bold mrkdwn, so labels
and values are escaped as Slack documents (&, <, >).
"""

from __future__ import annotations

from typing import Any

from agent.chat.base import ChatMessage

HEADER_MAX = 150
SECTION_MAX = 3000
FIELDS_MAX = 10
FIELD_MAX = 2000
URL_MAX = 3000
FALLBACK_MAX = 4000  # chat.postMessage's `text`: Slack advises at most 4000 characters
TEAMS_TEXT_MAX = 8000  # keeps a card well under the 28 KB a Teams message may carry
OPEN = "Open the deal"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: only &, < and > are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escaped_clip(text: str, limit: int) -> str:
    """Escaped text of at most `limit` characters, never ending inside an entity such as &amp;."""
    done = escape(text)
    if len(done) <= limit:
        return done
    cut = done[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + "…"


def _deal_line(message: ChatMessage) -> str:
    """The deal's name when the title does not already say it."""
    return message.deal if message.deal and message.deal not in message.title else ""


def slack_blocks(message: ChatMessage) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(message.title, HEADER_MAX)}}
    ]
    if deal := _deal_line(message):
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Deal: *{escape(deal)}*"}]}
        )
    if message.text.strip():
        blocks.append(
            {"type": "section", "text": {"type": "plain_text", "text": clip(message.text, SECTION_MAX)}}
        )
    facts = list(message.facts)
    for start in range(0, len(facts), FIELDS_MAX):
        fields = [
            {"type": "mrkdwn", "text": escaped_clip(f"*{label}*\n{value}", FIELD_MAX)}
            for label, value in facts[start : start + FIELDS_MAX]
        ]
        blocks.append({"type": "section", "fields": fields})
    if message.link and len(message.link) <= URL_MAX:
        button = {
            "type": "button",
            "text": {"type": "plain_text", "text": OPEN},
            "url": message.link,
            "action_id": "open_deal",
        }
        blocks.append({"type": "actions", "elements": [button]})
    return blocks


def plain_text(message: ChatMessage) -> str:
    """The notification text (title, reason, link): what a phone shows, and what Slack shows without blocks."""
    parts = [
        message.title,
        _deal_line(message) and f"Deal: {message.deal}",
        message.text.strip(),
        message.link,
    ]
    return clip("\n".join(p for p in parts if p), FALLBACK_MAX)


def adaptive_card(message: ChatMessage) -> dict[str, Any]:
    """An Adaptive Card 1.4, the newest version Teams renders everywhere (desktop, web, mobile)."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": message.title, "weight": "Bolder", "size": "Medium", "wrap": True}
    ]
    if deal := _deal_line(message):
        body.append({"type": "TextBlock", "text": f"Deal: {deal}", "isSubtle": True, "wrap": True})
    # Teams' markdown joins single line breaks; one TextBlock per line keeps the reason's lines.
    first, after_blank = True, False
    for line in clip(message.text.strip(), TEAMS_TEXT_MAX).splitlines():
        if not line.strip():
            after_blank = True
            continue
        block: dict[str, Any] = {"type": "TextBlock", "text": line, "wrap": True}
        if not first:
            block["spacing"] = "Medium" if after_blank else "None"
        body.append(block)
        first, after_blank = False, False
    if message.facts:
        facts = [{"title": label, "value": value} for label, value in message.facts]
        body.append({"type": "FactSet", "facts": facts})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if message.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": OPEN, "url": message.link}]
    return card
