"""The chat clients of agent/chat against FakeChat (tests/chat_server.py) over real HTTP.

FakeChat refuses what each service documents it refuses: the payload shapes are accepted,
so they are the documented ones. Errors: what a person must fix is permanent, throttling
carries the service's Retry-After, server errors and lost connections are worth a retry,
and no error's text (nor its traceback) carries the token or the webhook's secret URL.
"""

from __future__ import annotations

import json
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from agent.chat.base import ChatError, ChatMessage, ChatService
from agent.chat.slack import EVENT_TYPE, SlackApi, SlackWebhook
from agent.chat.teams import TeamsWorkflow
from tests.chat_server import TOKEN, FakeChat, blocks_problem, chat_server, teams_problem
from tests.servers import free_port

__all__ = ["chat_server"]  # the fixture, imported for the tests below

MESSAGE = ChatMessage(
    key="chat:42:issue:critical",
    title="Acme Health: critical issue reported",
    text="The client cannot log in since Monday.\nThey ask for a call today.",
    deal="Acme Health",
    link="https://dashboard.example.com/deals/42",
    facts=(("Stage", "Parallel Onboarding"), ("Severity", "critical")),
)


def _message(key: str) -> ChatMessage:
    return ChatMessage(key=key, title=f"Post {key}", text="text", deal="", link="")


def _error(call: Any, *args: Any, **kwargs: Any) -> ChatError:
    with pytest.raises(ChatError) as caught:
        call(*args, **kwargs)
    return caught.value


def _told(exc: ChatError) -> str:
    """Everything a log line with the traceback would show."""
    return "".join(traceback.format_exception(exc))


def _calls(server: FakeChat, name: str) -> list[tuple[str, str, str, dict[str, str], bytes]]:
    return [r for r in server.requests if r[2].split("?")[0].endswith(name)]


def _api(server: FakeChat, **kwargs: Any) -> SlackApi:
    return SlackApi(TOKEN, api_url=server.api_url, **kwargs)


def test_every_client_is_a_chat_service(chat_server: FakeChat) -> None:
    services: list[ChatService] = [
        SlackWebhook(chat_server.webhook_url),
        _api(chat_server),
        TeamsWorkflow(chat_server.teams_url),
    ]
    assert [(s.kind, s.can_look_up, s.can_create_channels) for s in services] == [
        ("slack-webhook", False, False),
        ("slack", True, True),
        ("teams", False, False),
    ]


# --- Slack incoming webhook ---------------------------------------------------------------------
def test_webhook_posts_text_and_blocks(chat_server: FakeChat) -> None:
    posted = SlackWebhook(chat_server.webhook_url).post("#csm-alerts", MESSAGE)
    assert posted.remote_id == ""
    (payload,) = chat_server.webhook_posts
    assert payload["text"].startswith(MESSAGE.title) and blocks_problem(payload["blocks"]) == ""
    (request,) = chat_server.requests
    assert request[1] == "POST" and request[3]["Content-Type"] == "application/json; charset=utf-8"


def test_webhook_refusals_are_permanent_and_never_show_the_url(chat_server: FakeChat) -> None:
    wrong = chat_server.webhook_url.replace(chat_server.webhook_secret, "WrongSecret1234")
    exc = _error(SlackWebhook(wrong).post, "#csm-alerts", MESSAGE)
    assert (exc.permanent, exc.status) == (True, 403) and "invalid_token" in str(exc)
    assert "WrongSecret1234" not in _told(exc) and "#csm-alerts" in str(exc)
    chat_server.webhook_archived = True
    exc = _error(SlackWebhook(chat_server.webhook_url).post, "#csm-alerts", MESSAGE)
    assert (exc.permanent, exc.status) == (True, 410) and "channel_is_archived" in str(exc)
    assert chat_server.webhook_secret not in _told(exc)


def test_webhook_throttled_and_failing(chat_server: FakeChat) -> None:
    webhook = SlackWebhook(chat_server.webhook_url)
    chat_server.throttle("webhook", retry_after=42)
    exc = _error(webhook.post, "", MESSAGE)
    assert (exc.permanent, exc.status, exc.retry_after) == (False, 429, 42.0)
    chat_server.fail("webhook", 500)
    exc = _error(webhook.post, "", MESSAGE)
    assert (exc.permanent, exc.status, exc.retry_after) == (False, 500, 0.0) and "rollup_error" in str(exc)
    assert webhook.post("", MESSAGE).remote_id == ""  # the faults are spent
    assert chat_server.webhook_secret not in _told(exc)


def test_webhook_cannot_look_up_create_or_invite(chat_server: FakeChat) -> None:
    webhook = SlackWebhook(chat_server.webhook_url)
    for exc in (
        _error(webhook.look_up, "#x", "key", datetime.now(UTC)),
        _error(webhook.create_channel, "deal-acme", private=True),
        _error(webhook.invite, "#x", ["jane@example.com"]),
    ):
        assert exc.permanent and "Slack bot token" in str(exc)
    assert chat_server.requests == []


def test_the_stand_in_refuses_what_slack_refuses(chat_server: FakeChat) -> None:
    """The validation itself: a bad payload is refused with Slack's documented status and name."""
    for payload, answer in (
        ({"username": "x"}, (400, "no_text")),
        ({"blocks": [{"text": "no type"}]}, (400, "invalid_blocks")),
        (
            {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]},
            (400, "invalid_blocks"),
        ),
    ):
        response = requests.post(chat_server.webhook_url, json=payload, timeout=5)
        assert (response.status_code, response.text) == answer
    response = requests.post(chat_server.webhook_url, data="text=hi", timeout=5)
    assert (response.status_code, response.text) == (400, "invalid_payload")
    assert chat_server.webhook_posts == []


def test_no_connection_is_worth_a_retry_and_names_no_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/services/T000/B000/NobodyListens42"
    exc = _error(SlackWebhook(url, timeout=2).post, "#csm-alerts", MESSAGE)
    assert (exc.permanent, exc.status) == (False, 0) and "NobodyListens42" not in _told(exc)
    exc = _error(TeamsWorkflow(url + "?sig=SigNobodyKnows", timeout=2).post, "General", MESSAGE)
    assert not exc.permanent and "SigNobodyKnows" not in _told(exc)


# --- Slack Web API --------------------------------------------------------------------------------
def test_api_post_sends_the_token_json_and_the_key_as_metadata(chat_server: FakeChat) -> None:
    posted = _api(chat_server).post(chat_server.alerts.id, MESSAGE)
    (message,) = chat_server.api_posts[chat_server.alerts.id]
    assert posted.remote_id == message["ts"]
    assert message["metadata"] == {"event_type": EVENT_TYPE, "event_payload": {"key": MESSAGE.key}}
    (_, method, path, headers, body) = chat_server.requests[0]
    assert (method, path) == ("POST", "/api/chat.postMessage")
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(body)["unfurl_links"] is False


def test_api_post_by_channel_name(chat_server: FakeChat) -> None:
    _api(chat_server).post("#csm-alerts", MESSAGE)
    assert len(chat_server.api_posts[chat_server.alerts.id]) == 1


def test_a_wrong_token_is_permanent_named_and_not_shown(chat_server: FakeChat) -> None:
    client = SlackApi("xoxb-wrong-token-0000", api_url=chat_server.api_url)
    exc = _error(client.post, chat_server.alerts.id, MESSAGE)
    assert (exc.permanent, exc.code) == (True, "invalid_auth") and "invalid_auth" in str(exc)
    assert "xoxb-wrong-token-0000" not in _told(exc) and TOKEN not in _told(exc)


def test_slack_errors_a_person_must_fix_are_permanent(chat_server: FakeChat) -> None:
    outside = chat_server.add_channel("no-bot-here", bot_member=False)
    exc = _error(_api(chat_server).post, outside.id, MESSAGE)
    assert (exc.permanent, exc.code) == (True, "not_in_channel")
    exc = _error(_api(chat_server).post, "C0NOSUCH00", MESSAGE)
    assert (exc.permanent, exc.code) == (True, "channel_not_found")


def test_api_throttled_and_failing(chat_server: FakeChat) -> None:
    client = _api(chat_server)
    chat_server.throttle("chat.postMessage", retry_after=17)
    exc = _error(client.post, chat_server.alerts.id, MESSAGE)
    assert (exc.permanent, exc.status, exc.retry_after) == (False, 429, 17.0) and "ratelimited" in str(exc)
    chat_server.fail("api", 503)
    exc = _error(client.post, chat_server.alerts.id, MESSAGE)
    assert (exc.permanent, exc.status) == (False, 503)
    assert chat_server.api_posts == {}


def test_look_up_finds_a_post_by_its_key(chat_server: FakeChat) -> None:
    client, since = _api(chat_server), datetime.now(UTC) - timedelta(seconds=5)
    posted = client.post("#csm-alerts", MESSAGE)
    client.post("#csm-alerts", _message("other"))
    assert client.look_up("#csm-alerts", MESSAGE.key, since) == posted
    assert client.look_up(chat_server.alerts.id, "chat:never-posted", since) is None
    assert (
        client.look_up(chat_server.alerts.id, MESSAGE.key, datetime.now(UTC) + timedelta(seconds=5)) is None
    )
    (_, method, path, _, _) = _calls(chat_server, "conversations.history")[0]
    assert (
        method == "GET" and "include_all_metadata=true" in path and f"channel={chat_server.alerts.id}" in path
    )


def test_look_up_follows_the_cursor(chat_server: FakeChat) -> None:
    client, since = _api(chat_server), datetime.now(UTC) - timedelta(seconds=5)
    first = client.post(chat_server.alerts.id, _message("first"))
    for i in range(4):
        client.post(chat_server.alerts.id, _message(f"later-{i}"))
    chat_server.page_size = 2
    assert client.look_up(chat_server.alerts.id, "first", since) == first
    assert len(_calls(chat_server, "conversations.history")) == 3
    client.history_pages = 2  # newest first: "first" is on the third page
    exc = _error(client.look_up, chat_server.alerts.id, "first", since)
    assert exc.permanent and "cannot tell" in str(exc)


def test_look_up_after_the_answer_was_lost_finds_the_post(chat_server: FakeChat) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    chat_server.hang("chat.postMessage")
    exc = _error(_api(chat_server, timeout=0.5).post, chat_server.alerts.id, MESSAGE)
    assert (exc.permanent, exc.status) == (False, 0) and "may have been taken" in str(exc)
    chat_server.release()
    (message,) = chat_server.api_posts[chat_server.alerts.id]
    found = _api(chat_server).look_up(chat_server.alerts.id, MESSAGE.key, since)
    assert found is not None and found.remote_id == message["ts"]


def test_create_channel_twice_gives_the_same_id(chat_server: FakeChat) -> None:
    client = _api(chat_server)
    first = client.create_channel("deal-acme-health", private=True)
    assert chat_server.channels["deal-acme-health"].private
    assert client.create_channel("deal-acme-health", private=True) == first  # name_taken, then listed
    assert _calls(chat_server, "conversations.list")
    assert client.create_channel("csm-alerts", private=False) == chat_server.alerts.id


def test_a_name_taken_by_a_channel_the_bot_cannot_see_needs_a_person(chat_server: FakeChat) -> None:
    chat_server.add_channel("deal-secret", private=True, bot_member=False)
    exc = _error(_api(chat_server).create_channel, "deal-secret", private=True)
    assert (exc.permanent, exc.code) == (True, "name_taken")
    exc = _error(_api(chat_server).create_channel, "Deal Acme!", private=False)
    assert (exc.permanent, exc.code) == (True, "invalid_name_specials")


def test_invite_reports_emails_with_no_user(chat_server: FakeChat) -> None:
    jane, bob, sam = (chat_server.add_user(f"{n}@example.com") for n in ("jane", "bob", "sam"))
    client = _api(chat_server)
    channel = client.create_channel("deal-acme", private=True)
    missing = client.invite(channel, ["jane@example.com", "nobody@example.com", "BOB@example.com"])
    assert missing == ["nobody@example.com"]
    assert {jane, bob} <= chat_server.channels["deal-acme"].members
    # jane is in already: Slack then invites nobody, so the client invites one at a time
    assert client.invite("deal-acme", ["jane@example.com", "sam@example.com"]) == []
    assert sam in chat_server.channels["deal-acme"].members
    (_, method, _, headers, body) = _calls(chat_server, "conversations.invite")[0]
    assert method == "POST" and headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert f"users={jane}%2C{bob}" in body.decode()


# --- Teams workflow ---------------------------------------------------------------------------------
def test_teams_posts_one_adaptive_card(chat_server: FakeChat) -> None:
    assert TeamsWorkflow(chat_server.teams_url).post("General", MESSAGE).remote_id == ""
    (payload,) = chat_server.teams_posts
    assert teams_problem(payload) == ""
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["body"][0]["text"] == MESSAGE.title and card["actions"][0]["url"] == MESSAGE.link
    (_, method, path, headers, _) = chat_server.requests[0]
    assert method == "POST" and f"sig={chat_server.teams_sig}" in path and "api-version=1" in path
    assert headers["Content-Type"].startswith("application/json")


def test_teams_refusals_never_show_the_signature(chat_server: FakeChat) -> None:
    wrong = chat_server.teams_url.replace(chat_server.teams_sig, "WrongSig987")
    exc = _error(TeamsWorkflow(wrong).post, "General", MESSAGE)
    assert (exc.permanent, exc.status) == (True, 401) and "General" in str(exc)
    assert "WrongSig987" not in _told(exc) and chat_server.workflow_id not in _told(exc)
    chat_server.throttle("teams", retry_after=90)
    exc = _error(TeamsWorkflow(chat_server.teams_url).post, "General", MESSAGE)
    assert (exc.permanent, exc.retry_after) == (False, 90.0)
    chat_server.fail("teams", 502)
    exc = _error(TeamsWorkflow(chat_server.teams_url).post, "General", MESSAGE)
    assert (exc.permanent, exc.status) == (False, 502) and chat_server.teams_sig not in _told(exc)


def test_the_stand_in_refuses_a_card_teams_would_not_take(chat_server: FakeChat) -> None:
    card = {"type": "AdaptiveCard", "version": "1.4", "body": []}
    for payload in (
        {"type": "message", "attachments": []},
        {"type": "message", "attachments": [{"contentType": "application/json", "content": card}]},
        {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive"}]},
        {"attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]},
    ):
        response = requests.post(chat_server.teams_url, json=payload, timeout=5)
        assert response.status_code == 400, payload
    assert chat_server.teams_posts == []


def test_teams_cannot_look_up_create_or_invite(chat_server: FakeChat) -> None:
    teams = TeamsWorkflow(chat_server.teams_url)
    for exc in (
        _error(teams.look_up, "General", "key", datetime.now(UTC)),
        _error(teams.create_channel, "deal-acme", private=False),
        _error(teams.invite, "General", ["jane@example.com"]),
    ):
        assert exc.permanent and "Teams workflow" in str(exc)
