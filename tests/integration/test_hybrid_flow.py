"""The hybrid-account SOP (seeds/004) followed end to end through the agent's public ways in, with chat
on Slack- and Teams-shaped local servers (tests/chat_server.py checks each request as the service
documents it): Closed Won → the FMC department told on chat and its welcome email held for the FMC team
lead's approval → the account's channel opened for both departments → a critical issue reported by the
client (the CSM team lead confirms it, a sync meeting invitation goes to the CSM and the FMC team lead,
both departments hear on chat) → a low one (chat only) → both onboarding calls (the completion email
waits for both recaps' review) → an escalation.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import icalendar
import pytest

from agent.clock import ManualClock
from agent.config import load_config
from agent.deals import ContactSpec
from agent.store.repo import Repo
from tests.chat_server import FakeChat, chat_server  # noqa: F401 - the fixture
from tests.conftest import CLIENT, CSM, Harness, write_config

MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # London is on UTC in winter
CSM_TL = ("Tara Lead", "tara@example.com")
CS_OPS = ("Oscar Ops", "oscar@example.com")
FMC_TL = ("Fiona Field", "fiona@example.com")
FMC_LEAD = ("Leo Lane", "leo@example.com")
RSM = ("Rita Sales", "rita@example.com")
ROLES = {
    "csm": CSM,
    "csm_team_lead": CSM_TL,
    "cs_operations": CS_OPS,
    "fmc_team_lead": FMC_TL,
    "fmc_lead": FMC_LEAD,
    "sales_manager": RSM,
}


@pytest.fixture
def world(tmp_path: Path, chat_server: FakeChat, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:  # noqa: F811
    monkeypatch.setenv("FMC_WEBHOOK", chat_server.teams_url)
    monkeypatch.setenv("PRODUCT_SUPPORT_WEBHOOK", chat_server.webhook_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", chat_server.token)
    for _, email in ROLES.values():
        chat_server.add_user(email)
    cfg = write_config(
        tmp_path,
        f"""
[[picks]]
role = "fmc_team_lead"
by = "state"
people = {{ TX = "Fiona Field <fiona@example.com>", "*" = "Gil Other <gil@example.com>" }}

[chat]
deal_channels = "bot"
dashboard_url = "https://agent.example.com/board"

[[chat.channels]]
name = "fmc-intake"
service = "teams"
password_env = "FMC_WEBHOOK"

[[chat.channels]]
name = "product-support"
service = "slack-webhook"
password_env = "PRODUCT_SUPPORT_WEBHOOK"

[[chat.channels]]
name = "bot"
service = "slack"
channel = "{chat_server.alerts.id}"
password_env = "SLACK_BOT_TOKEN"
api_url = "{chat_server.api_url}"
""",
    )
    text = cfg.read_text().replace("templates = []  #", 'templates = ["recap"]  #')
    cfg.write_text(text)
    yield Harness(load_config(cfg), ManualClock(MONDAY))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return (MONDAY + timedelta(days=day)).replace(hour=hour, minute=minute)


def body(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def to(h: Harness, person: str, subject: str = "") -> list[EmailMessage]:
    return [m for m in h.sent() if person in str(m["To"]) and subject in str(m["Subject"])]


def reply(h: Harness, who: tuple[str, str], deal: int, msg: EmailMessage, text: str) -> None:
    h.mail(
        who,
        [("Onboarding", h.reply_address(deal))],
        f"Re: {msg['Subject']}",
        f"{text}\n\n{who[0]}\n\nOn Monday, the agent wrote:\n> {body(msg).splitlines()[0]}",
        headers={"In-Reply-To": str(msg["Message-ID"]), "References": str(msg["Message-ID"])},
    )
    h.run()


def events(h: Harness, deal: int, kind: str) -> list[dict[str, Any]]:
    return [e for e in h.show(deal)["events"] if e["kind"] == kind]


def deal_channel_posts(chat: FakeChat, name: str) -> list[dict[str, Any]]:
    channel = chat.channels[name]
    return chat.api_posts.get(channel.id, [])


def post_text(post: dict[str, Any]) -> str:
    return str(post.get("text", ""))


def test_a_hybrid_account_from_closed_won_to_adoption_with_issues_and_an_escalation(
    world: Harness,
    chat_server: FakeChat,  # noqa: F811
) -> None:
    h, chat = world, chat_server
    deal = h.add_deal(
        pipeline="hybrid-onboarding",
        roles={r: p for r, p in ROLES.items() if r != "fmc_team_lead"},  # picked by the account's state
        contacts=[ContactSpec(*CLIENT, "client_admin")],
        products=["Learning", "Compliance", "FMC"],
        attributes={"state": "TX"},
    )
    h.run()

    # --- Account Assignment: the FMC department told on chat (Teams), by the agent for CS Ops ------
    [intake] = chat.teams_posts
    card = intake["attachments"][0]["content"]
    words = str(card)
    assert "New hybrid account Acme Radio is Closed Won" in words
    assert f"https://agent.example.com/board/deals/{deal}" in words  # the link to the deal's page
    tasks = {t["id"]: t for t in h.show(deal)["tasks"]}
    assert tasks["inform-fmc"]["status"] == "done"
    [picked] = events(h, deal, "role_picked")
    assert (
        picked["reason"]
        == "fmc_team_lead is Fiona Field <fiona@example.com>: picked by state = TX ([[picks]])"
    )
    assert tasks["pick-fmc-team-lead"]["status"] == "done"
    assert tasks["fmc-welcome"]["R"] == "fmc_team_lead"

    # the FMC welcome is prepared and held: only the FMC team lead may let it go
    assert not to(h, CLIENT[1], "managed credentialing")
    [ask] = to(h, FMC_TL[1], "Approve before it goes")
    assert "the FMC Team Lead (Fully-Managed Credentialing)" in body(ask)
    assert "nobody else can send it" in body(ask)
    h.at(MONDAY + timedelta(days=3))  # no deadline sends it on its own
    h.run()
    assert not to(h, CLIENT[1], "managed credentialing")
    reply(h, CSM, deal, ask, "send")  # someone in CS cannot
    assert not to(h, CLIENT[1], "managed credentialing")
    assert any("asked of fiona@example.com" in e["reason"] for e in events(h, deal, "review_refused"))
    reply(h, FMC_TL, deal, ask, "Send")
    [welcome] = to(h, CLIENT[1], "managed credentialing")
    assert "Leo Lane is your credentialing lead" in body(welcome)
    released = events(h, deal, "email_released")
    assert any("approved by fiona@example.com" in e["reason"] for e in released)

    # --- the people's tasks done: the deal moves to Onboarding, and its channel is opened --------
    welcome_task = next(t for t in h.show(deal)["tasks"] if t["id"] == "fmc-welcome")
    assert welcome_task["status"] == "done"  # the FMC team lead's yes was their task
    for task in ("clear-details", "set-up-lms", "assign-csm", "fmc-channel", "assign-fmc-lead"):
        h.task_done(deal, task)
    h.run()
    assert h.stage(deal) == "onboarding"
    channel = chat.channels["onb-acme-radio"]
    invited = {u for e, u in chat.users.items() if e in {CSM[1], CSM_TL[1], FMC_TL[1], FMC_LEAD[1]}}
    assert invited <= channel.members
    assert chat.users[RSM[1]] not in channel.members
    [opened] = deal_channel_posts(chat, "onb-acme-radio")
    assert "both departments" in post_text(opened)

    # --- a critical issue from the client: the CSM team lead confirms before anyone else hears ---
    h.at(at(1, 9))
    h.mail(
        CLIENT,
        [("Onboarding", h.reply_address(deal))],
        "Users duplicated",
        "This is critical: since the ADP sync users are appearing duplicated in the Employee Center.\n\nJane",
    )
    h.run()
    [confirm] = to(h, CSM_TL[1], "Confirm the severity")
    assert "I read it as CRITICAL" in body(confirm) and '"critical"' in body(confirm)
    assert len(deal_channel_posts(chat, "onb-acme-radio")) == 1  # nothing to FMC before the TL confirms
    # inside CS, an integration problem asks product support for help at once (the SOP's product-support)
    [support] = chat.webhook_posts
    assert "Integration issue on Acme Radio (critical)" in support["text"]
    assert not to(h, FMC_TL[1], "Invitation")
    # the CSM is busy at the first slot the calendar would otherwise give
    h.meeting("busy", "Internal planning", at(1, 9), 90, attendees=(CSM[1],))
    h.run()
    reply(h, CSM_TL, deal, confirm, "Confirm")
    [invite_sam] = to(h, CSM[1], "Invitation: Hybrid account sync: Acme Radio")
    [invite_fiona] = to(h, FMC_TL[1], "Invitation: Hybrid account sync: Acme Radio")
    assert invite_sam["Message-ID"] == invite_fiona["Message-ID"]  # one invitation to both
    calendar_part = next(p for p in invite_sam.walk() if p.get_content_type() == "text/calendar")
    assert calendar_part.get_param("method") == "REQUEST"
    ics = icalendar.Calendar.from_ical(calendar_part.get_content())
    assert str(ics["METHOD"]) == "REQUEST"
    [event] = ics.walk("VEVENT")
    start = event.decoded("DTSTART")
    assert start == at(1, 10, 30)  # 09:30 would be the first slot after the 30-minute lead: 9-10:30 is busy
    assert event.decoded("DTEND") - start == timedelta(minutes=15)
    attendees = sorted(str(a).lower() for a in event.get("ATTENDEE"))
    assert attendees == [f"mailto:{FMC_TL[1]}", f"mailto:{CSM[1]}"]
    posts = deal_channel_posts(chat, "onb-acme-radio")
    assert "critical issue on Acme Radio, confirmed by the CSM team lead" in post_text(posts[-1])
    issue_facts = str(posts[-1]["blocks"])
    assert "critical" in issue_facts and "jane@acme-radio.example" in issue_facts

    # --- a low-severity one: the shared channel only, nobody asked ----------------------------------
    h.mail(
        CLIENT,
        [("Onboarding", h.reply_address(deal))],
        "Small thing",
        "Minor, no rush: the locations list shows one location name wrong.\n\nJane",
    )
    h.run()
    assert len(to(h, CSM_TL[1], "Confirm the severity")) == 1
    assert "A low issue on Acme Radio" in post_text(deal_channel_posts(chat, "onb-acme-radio")[-1])
    assert len(chat.webhook_posts) == 2  # an integration problem too (locations affected)

    # --- both departments' calls; the completion waits for both recaps' review ----------------------
    h.meeting("cs-call", "Acme Radio learning onboarding", at(2, 10), 45, attendees=(CLIENT[1], CSM[1]))
    h.meeting(
        "fmc-call", "Acme Radio credentialing onboarding", at(2, 14), 45, attendees=(CLIENT[1], FMC_TL[1])
    )
    h.run()
    h.at(at(2, 16))
    h.run()
    assert h.stage(deal) == "adoption"
    completion = [e for e in h.show(deal)["emails"] if e["template"] == "completion"]
    assert [e["status"] for e in completion] == ["queued"]
    h.at(at(2, 16, 30))
    h.run()
    assert [e["status"] for e in h.show(deal)["emails"] if e["template"] == "completion"] == ["queued"]
    assert any("still in review" in e["reason"] for e in events(h, deal, "email_postpone"))
    reviews = to(h, CSM[1], "Review before it goes: Recap")
    assert len(reviews) == 2
    for request in reviews:
        reply(h, CSM, deal, request, "send")
    h.at(at(2, 16, 50))
    h.run()
    order = [e["template"] for e in h.show(deal)["emails"] if e["status"] == "sent"]
    assert order.index("completion") > max(i for i, t in enumerate(order) if t == "recap")

    # --- an escalation: both departments informed, an escalation channel with the FMC TL and RSM ---
    h.mail(
        CSM_TL,
        [("Onboarding", h.reply_address(deal))],
        "Acme Radio",
        "escalate the client threatens to cancel",
    )
    h.run()
    escalation = chat.channels["onb-acme-radio-escalation"]
    for person in (CSM_TL, FMC_TL, RSM):
        assert chat.users[person[1]] in escalation.members
    assert "Escalation on Acme Radio" in post_text(deal_channel_posts(chat, "onb-acme-radio")[-1])
    for person in (FMC_TL, RSM):
        assert to(h, person[1], "Escalation")
    assert len([e for e in events(h, deal, "rule_fired") if e["rule"] == "escalation"]) == 1

    # `deals show` tells it all: the issues as read and confirmed, the channels, every post and its fate
    shown = h.show(deal)
    assert [(i["kind"], i["severity"], i["confirmed"], i["status"]) for i in shown["issues"]] == [
        ("integration", "critical", "critical", "routed"),
        ("integration", "low", "", "open"),
    ]
    assert set(shown["chat_channels"]) == {"deal", "escalation"}
    assert {p["status"] for p in shown["chat_posts"]} == {"sent"} and len(shown["chat_posts"]) == 8
    assert [m["severity"] for m in shown["messages"] if m["direction"] == "inbound"] == ["critical", "low"]


def test_an_unclear_or_unasked_answer_confirms_nothing_and_without_chat_the_news_goes_by_email(
    harness: Harness,
) -> None:
    h = harness  # no [chat] configured at all
    deal = h.add_deal(
        pipeline="hybrid-onboarding", stage="onboarding", roles=ROLES, attributes={"state": "TX"}
    )
    h.run()
    h.mail(CLIENT, [("Onboarding", h.reply_address(deal))], "Urgent", "Users are disappearing since Monday.")
    h.run()
    [confirm] = to(h, CSM_TL[1], "Confirm the severity: high integration issue")
    reply(h, CSM, deal, confirm, "confirm")  # not asked
    assert [e["reason"] for e in events(h, deal, "severity_confirmed")] == []
    assert events(h, deal, "rule_fired")[-1]["rule"] == "issue-to-csm-team-lead"
    reply(h, CSM_TL, deal, confirm, "Let me look into it first.")
    [unclear] = events(h, deal, "severity_unclear")
    assert "'Let me look into it first.'" in unclear["reason"]
    asked_back = to(h, CSM_TL[1], "Confirm the severity")[-1]
    assert 'I could not tell what you meant by "Let me look into it first."' in body(asked_back)
    assert not to(h, FMC_TL[1], "Invitation")
    reply(h, CSM_TL, deal, asked_back, "It's only medium.")
    [confirmed] = events(h, deal, "severity_confirmed")
    assert confirmed["reason"].startswith("tara@example.com changed from high to medium")
    assert not to(h, FMC_TL[1], "Invitation")  # medium: no sync meeting
    # the channel the rule posts to is not configured: the news reaches the deal's people by email
    fallbacks = events(h, deal, "chat_not_configured")
    assert [e["rule"] for e in fallbacks] == ["integration-to-product-support", "confirmed-lower"]
    news = [m for m in h.sent() if "A medium issue on Acme Radio" in str(m["Subject"])]
    assert news and CSM[1] in str(news[-1]["To"])
    with h.agent.sessions.begin() as s:
        repo = Repo(s)
        [issue] = repo.issues(deal)
        reported = repo.message(issue.message_id or 0)
        assert (
            reported is not None and reported.severity == "high"
        )  # as read; the issue keeps the person's word
        row = (issue.kind, issue.severity, issue.confirmed, issue.confirmed_by, issue.reported_by)
    assert row == ("integration", "high", "medium", CSM_TL[1], CLIENT[1])


def test_any_pipeline_with_an_issue_rule_has_its_mail_read_and_copies_to_clients_are_not(
    tmp_path: Path,
) -> None:
    from tests.integration.task_world import world as timing_world

    h = timing_world(
        tmp_path,
        """
stages:
  - {id: live, name: Live}
  - {id: done, name: Done, end: true}
rules:
  - id: tell-on-high
    when: {issue_reported: [high, critical]}
    then:
      - {notify: [csm], message: "A {severity} issue: {issue}"}
""",
        MONDAY,
    )
    deal = h.add_deal(pipeline="timing", roles={"csm": CSM})
    h.run()
    # our CSM's email to the client, the agent in Bcc: their words, not a report
    h.mail(
        CSM,
        [CLIENT],
        "Re: the export",
        "Urgent fix shipped: the export error is gone.",
        headers={"Bcc": h.reply_address(deal)},
    )
    h.run()
    assert not events(h, deal, "rule_fired")
    h.mail(CLIENT, [("Onboarding", h.reply_address(deal))], "Export", "Urgent: the export is broken again.")
    h.run()
    [fired] = events(h, deal, "rule_fired")
    assert fired["rule"] == "tell-on-high" and "bug issue read as high ('Urgent')" in fired["reason"]
    assert to(h, CSM[1], "A high issue")


def test_a_severity_nobody_confirms_is_asked_again_with_the_csm_told(harness: Harness) -> None:
    h = harness
    h.at(at(1, 9))
    deal = h.add_deal(
        pipeline="hybrid-onboarding", stage="onboarding", roles=ROLES, attributes={"state": "TX"}
    )
    h.run()
    h.mail(
        CLIENT,
        [("Onboarding", h.reply_address(deal))],
        "P1",
        "Nobody can log in to the LMS since this morning.",
    )
    h.run()
    assert len(to(h, CSM_TL[1], "Confirm the severity: critical")) == 1
    h.at(at(1, 10, 59))
    h.run()
    assert not to(h, CSM[1], "waits for its severity")  # two hours are not over
    h.at(at(1, 11, 1))
    h.run()
    [again] = to(h, CSM[1], "a critical issue waits for its severity to be confirmed")
    assert CSM_TL[1] in str(again["To"])
    assert "the other department has not been told" in body(again)
    h.at(at(2, 11, 1))
    h.run()
    assert len(to(h, CSM[1], "waits for its severity")) == 1  # told once
