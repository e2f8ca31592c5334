"""The card builders of agent/chat/cards.py: Slack's documented limits kept, the link only when there is one."""

from __future__ import annotations

import dataclasses
import time
from email.utils import formatdate
from typing import Any

from agent.chat.base import ChatMessage, retry_after
from agent.chat.cards import adaptive_card, escaped_clip, plain_text, slack_blocks

MESSAGE = ChatMessage(
    key="chat:42:critical",
    title="Acme Health: critical issue reported",
    text="The client cannot log in.\nSince Monday.\n\nThey asked for a call <today> & now.",
    deal="Acme Health",
    link="https://dashboard.example.com/deals/42?tab=issues&x=1",
    facts=(("Stage", "Parallel Onboarding"), ("Severity", "critical")),
)


def _message(**changes: Any) -> ChatMessage:
    return dataclasses.replace(MESSAGE, **changes)


def _of_type(blocks: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [b for b in blocks if b["type"] == kind]


def test_slack_blocks_carry_title_text_facts_and_the_link() -> None:
    blocks = slack_blocks(MESSAGE)
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": MESSAGE.title}}
    sections = _of_type(blocks, "section")
    # the reason is plain_text: its "<today>" and "&" stay as typed, no mrkdwn is read into it
    assert sections[0]["text"] == {"type": "plain_text", "text": MESSAGE.text}
    assert sections[1]["fields"] == [
        {"type": "mrkdwn", "text": "*Stage*\nParallel Onboarding"},
        {"type": "mrkdwn", "text": "*Severity*\ncritical"},
    ]
    (actions,) = _of_type(blocks, "actions")
    assert actions["elements"] == [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open the deal"},
            "url": MESSAGE.link,
            "action_id": "open_deal",
        }
    ]
    assert _of_type(blocks, "context") == []  # the title names the deal already


def test_slack_texts_are_cut_to_the_documented_limits() -> None:
    blocks = slack_blocks(_message(title="T" * 400, text="x" * 5000, facts=(("Note", "&" * 3000),)))
    header = blocks[0]["text"]["text"]
    assert len(header) == 150 and header.endswith("…")
    text = _of_type(blocks, "section")[0]["text"]["text"]
    assert len(text) == 3000 and text.endswith("…")
    field = _of_type(blocks, "section")[1]["fields"][0]["text"]
    assert len(field) <= 2000 and field.endswith("&amp;…")  # never cut inside an entity


def test_escaped_clip_does_not_end_inside_an_entity() -> None:
    assert escaped_clip("a<b>&c", 100) == "a&lt;b&gt;&amp;c"
    assert escaped_clip("ab&&&&", 8) == "ab&amp;…"  # "ab&amp;&a" would be broken


def test_more_than_ten_facts_take_two_sections() -> None:
    facts = tuple((f"Fact {i}", str(i)) for i in range(13))
    sections = [b for b in _of_type(slack_blocks(_message(facts=facts)), "section") if "fields" in b]
    assert [len(s["fields"]) for s in sections] == [10, 3]


def test_no_link_no_button_and_an_empty_text_no_section() -> None:
    blocks = slack_blocks(_message(link="", text="  ", facts=()))
    assert [b["type"] for b in blocks] == ["header"]
    assert "actions" not in adaptive_card(_message(link=""))


def test_a_link_too_long_for_a_button_is_left_out() -> None:
    long_link = "https://dashboard.example.com/" + "a" * 3000
    assert _of_type(slack_blocks(_message(link=long_link)), "actions") == []


def test_the_deal_is_named_when_the_title_does_not_name_it() -> None:
    blocks = slack_blocks(_message(title="Critical issue reported", deal="Acme & Co"))
    assert _of_type(blocks, "context")[0]["elements"] == [{"type": "mrkdwn", "text": "Deal: *Acme &amp; Co*"}]
    assert "Deal: Acme & Co" in plain_text(_message(title="Critical issue reported", deal="Acme & Co"))


def test_plain_text_has_title_reason_and_link() -> None:
    assert plain_text(MESSAGE) == f"{MESSAGE.title}\n{MESSAGE.text}\n{MESSAGE.link}"
    assert plain_text(_message(link="", text="")) == MESSAGE.title
    assert len(plain_text(_message(text="y" * 9000))) == 4000


def test_adaptive_card_has_the_documented_shape() -> None:
    card = adaptive_card(MESSAGE)
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    title, *lines, facts = card["body"]
    assert title == {
        "type": "TextBlock",
        "text": MESSAGE.title,
        "weight": "Bolder",
        "size": "Medium",
        "wrap": True,
    }
    # one TextBlock per line: Teams' markdown would join the lines of one block
    assert [(b["text"], b.get("spacing")) for b in lines] == [
        ("The client cannot log in.", None),
        ("Since Monday.", "None"),
        ("They asked for a call <today> & now.", "Medium"),
    ]
    assert all(b["type"] == "TextBlock" and b["wrap"] for b in lines)
    assert facts == {
        "type": "FactSet",
        "facts": [
            {"title": "Stage", "value": "Parallel Onboarding"},
            {"title": "Severity", "value": "critical"},
        ],
    }
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open the deal", "url": MESSAGE.link}]


def test_adaptive_card_without_facts_has_no_factset() -> None:
    card = adaptive_card(_message(facts=()))
    assert [b["type"] for b in card["body"]].count("FactSet") == 0


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after({"Retry-After": "30"}) == 30.0
    assert 55 <= retry_after({"Retry-After": formatdate(time.time() + 60, usegmt=True)}) <= 60
    assert retry_after({"Retry-After": "soon"}) == 0.0
    assert retry_after({}) == 0.0
