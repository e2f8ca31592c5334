"""The chat outbox against Slack (webhook and Web API) and Teams over real HTTP (tests/chat_server.py).

Every test asserts on what the server received: a post lands once, or not at all and a person
is told. The agent's clock is a ManualClock started at the real time, so that Slack's message
timestamps (the server's clock) and the agent's first attempt agree for a look-up.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.chat import status
from agent.chat.base import ChatMessage
from agent.chat.queue import ChatOutbox
from agent.chat.slack import SlackApi, SlackWebhook
from agent.clock import ManualClock
from agent.config import load_config
from agent.daemon.runner import Runner
from agent.store import models as m
from agent.store.audit import Trail
from agent.store.repo import Repo
from tests.chat_server import TOKEN, FakeChat, chat_server
from tests.conftest import ROOT, Harness, agent_env, wait_until, write_config

__all__ = ["chat_server"]  # the fixture, imported to be found
TITLE = "Acme Radio: critical issue reported"


def _secret(folder: Path, name: str, value: str) -> Path:
    path = folder / name
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path


def chat_config(folder: Path, fake: FakeChat, chat: str = "", entries: str = "") -> Path:
    """webhook (slack-webhook), bot (slack, the #csm-alerts channel) and teams, with `chat` in [chat]."""
    folder.mkdir(parents=True, exist_ok=True)
    hook = _secret(folder, "webhook", fake.webhook_url)
    token = _secret(folder, "token", TOKEN)
    teams = _secret(folder, "teams", fake.teams_url)
    return write_config(
        folder,
        f"""
[chat]
retry_base_seconds = 30
retry_max_seconds = 1800
retry_for_hours = 24
{chat}

[[chat.channels]]
name = "webhook"
service = "slack-webhook"
password_file = "{hook}"
timeout_seconds = 2

[[chat.channels]]
name = "bot"
service = "slack"
channel = "{fake.alerts.id}"
api_url = "{fake.api_url}"
password_file = "{token}"
timeout_seconds = 2

[[chat.channels]]
name = "teams"
service = "teams"
password_file = "{teams}"
{entries}
""",
    )


def harness(tmp_path: Path, fake: FakeChat, chat: str = "", entries: str = "") -> Harness:
    config = load_config(chat_config(tmp_path, fake, chat, entries))
    return Harness(config, ManualClock(datetime.now(UTC)))


@pytest.fixture
def h(tmp_path: Path, chat_server: FakeChat) -> Iterator[Harness]:
    made = harness(tmp_path, chat_server)
    yield made
    made.agent.close()


def store_post(repo: Repo, now: datetime, deal_id: int | None, channel: str, title: str) -> m.ChatPost:
    """A post as the rules store one (agent.handling.chat_posts), queued."""
    post = m.ChatPost(
        deal_id=deal_id,
        channel=channel,
        idempotency_key=f"test-{uuid.uuid4()}",
        title=title,
        text="Nobody can log in since 9:00.\nReported by Jane Doe.",
        facts=[["Stage", "Introduction Call"], ["Severity", "critical"]],
        link="https://dash.example.com/deals/1",
        due_at=now,
        created_at=now,
        attempts=0,
        last_error="",
        remote_id="",
        rule="escalate-critical",
    )
    status.queue(Trail(repo, now), post, "test")
    return post


def queue_post(h: Harness, deal_id: int | None, channel: str, title: str = TITLE) -> int:
    with h.agent.sessions.begin() as s:
        return store_post(Repo(s), h.clock.now(), deal_id, channel, title).id


def flush(h: Harness) -> Any:
    assert h.agent.chat is not None
    return h.agent.chat.flush()


def post_row(h: Harness, post_id: int) -> m.ChatPost:
    with h.agent.sessions.begin() as s:
        post = Repo(s).chat_post(post_id)
        assert post is not None
        return post


def history(h: Harness, post_id: int) -> list[tuple[str, str]]:
    with h.agent.sessions.begin() as s:
        repo = Repo(s)
        post = repo.chat_post(post_id)
        assert post is not None
        return [(a.kind, a.reason) for a in repo.chat_history(post)]


def notices(h: Harness) -> list[m.OutboxEmail]:
    """The emails that told a person about a chat post (chat_failures.ChatFailures)."""
    with h.agent.sessions.begin() as s:
        return [e for e in Repo(s).outbox_all() if e.template == "notice" and "chat message" in e.subject]


def api_messages(fake: FakeChat, channel_id: str) -> list[dict[str, Any]]:
    return fake.api_posts.get(channel_id, [])


def test_posts_go_to_a_webhook_the_slack_api_and_teams_in_the_daemon_pass(
    h: Harness, chat_server: FakeChat
) -> None:
    deal = h.add_deal()
    ids = [queue_post(h, deal, channel) for channel in ("webhook", "bot", "teams")]
    h.run()  # the daemon's pass: mail, timers, the email outbox, then the chat outbox
    [hook] = chat_server.webhook_posts
    assert TITLE in hook["text"] and hook["blocks"][0]["text"]["text"] == TITLE
    [api] = api_messages(chat_server, chat_server.alerts.id)
    assert api["metadata"]["event_payload"]["key"] == post_row(h, ids[1]).idempotency_key
    [teams] = chat_server.teams_posts
    assert teams["attachments"][0]["content"]["body"][0]["text"] == TITLE
    rows = [post_row(h, i) for i in ids]
    assert [r.status for r in rows] == ["sent"] * 3 and all(r.attempts == 1 for r in rows)
    assert rows[1].remote_id == api["ts"] and rows[0].remote_id == ""  # a webhook gives no id
    assert ("chat_posted", f"posted to #bot: {TITLE}") in history(h, ids[1])
    with h.agent.sessions.begin() as s:
        assert Repo(s).health("chat")["last_ok"]
    assert notices(h) == []


def test_a_429_waits_what_retry_after_says_then_posts_once(h: Harness, chat_server: FakeChat) -> None:
    post = queue_post(h, h.add_deal(), "webhook")
    chat_server.throttle("webhook", times=1, retry_after=7)
    result = flush(h)
    assert (result.postponed, result.sent) == (1, 0) and "429" in result.error
    row = post_row(h, post)
    assert row.status == "queued" and row.due_at == h.clock.now() + timedelta(seconds=7)
    h.clock.advance(timedelta(seconds=6))
    asked = len(chat_server.requests)
    assert flush(h).sent == 0 and len(chat_server.requests) == asked  # not due yet: not even asked
    h.clock.advance(timedelta(seconds=1))
    assert flush(h).sent == 1
    assert len(chat_server.webhook_posts) == 1 and post_row(h, post).status == "sent"
    assert [k for k, _ in history(h, post)] == [
        "chat_queued",
        "chat_attempt",
        "chat_retry",
        "chat_attempt",
        "chat_posted",
    ]


def test_server_errors_back_off_doubling_then_the_post_goes(h: Harness, chat_server: FakeChat) -> None:
    post = queue_post(h, h.add_deal(), "bot")
    chat_server.fail("chat.postMessage", 500, times=2)
    start = h.clock.now()
    assert flush(h).postponed == 1
    first = post_row(h, post).due_at - start
    assert timedelta(seconds=24) <= first <= timedelta(seconds=36)  # retry_base 30 s, jitter ±20 %
    h.clock.set(start + first)
    assert flush(h).postponed == 1
    second = post_row(h, post).due_at - h.clock.now()
    assert timedelta(seconds=48) <= second <= timedelta(seconds=72)  # doubled
    h.clock.advance(second)
    assert flush(h).sent == 1
    assert len(api_messages(chat_server, chat_server.alerts.id)) == 1
    row = post_row(h, post)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, "")


def test_a_permanent_refusal_fails_the_post_and_the_responsible_person_gets_its_text(
    h: Harness, chat_server: FakeChat
) -> None:
    post = queue_post(h, h.add_deal(), "teams")
    chat_server.fail("teams", 404)
    result = flush(h)
    assert (result.failed, result.postponed) == (1, 0)
    assert chat_server.teams_posts == [] and post_row(h, post).status == "failed"
    assert "404" in post_row(h, post).last_error
    [notice] = notices(h)
    assert [a["email"] for a in notice.to] == ["sam@example.com"]  # the CSM: Responsible in this stage
    assert "could not be posted to #teams" in notice.body_text and "404" in notice.body_text
    assert "Nobody can log in since 9:00." in notice.body_text and "Severity: critical" in notice.body_text
    assert f"chat retry {post}" in notice.body_text
    h.clock.advance(timedelta(hours=1))
    assert flush(h).sent == 0 and chat_server.teams_posts == []  # failed stays failed


def test_a_post_is_given_up_after_retry_for_hours(h: Harness, chat_server: FakeChat) -> None:
    post = queue_post(h, h.add_deal(), "webhook")
    chat_server.fail("webhook", 503, times=1000)
    assert flush(h).postponed == 1
    h.clock.advance(timedelta(hours=23))
    assert flush(h).postponed == 1  # still within the day
    h.clock.advance(timedelta(hours=1, seconds=1))
    assert flush(h).failed == 1
    assert chat_server.webhook_posts == [] and post_row(h, post).status == "failed"
    assert len(notices(h)) == 1


def test_a_post_that_cannot_be_built_fails_alone_and_the_others_go(
    tmp_path: Path, chat_server: FakeChat
) -> None:
    entry = (
        '\n[[chat.channels]]\nname = "ops"\nservice = "slack-webhook"\npassword_env = "NO_SUCH_CHAT_URL"\n'
    )
    h = harness(tmp_path, chat_server, entries=entry)
    try:
        deal = h.add_deal()
        broken, fine = queue_post(h, deal, "ops"), queue_post(h, deal, "webhook")
        result = flush(h)
        assert (result.failed, result.sent) == (1, 1) and len(chat_server.webhook_posts) == 1
        assert "NO_SUCH_CHAT_URL" in post_row(h, broken).last_error
        assert post_row(h, fine).status == "sent"
    finally:
        h.agent.close()


# --- no answer after the request went out: it may have landed -----------------------------------
def test_slack_api_no_answer_then_looked_up_before_posting_again(h: Harness, chat_server: FakeChat) -> None:
    post = queue_post(h, h.add_deal(), "bot")
    chat_server.hang("chat.postMessage")  # taken, and the answer held past the 2 s timeout
    try:
        result = flush(h)
    finally:
        chat_server.release()
    assert result.postponed == 1 and "no answer within 2 s" in result.error
    row = post_row(h, post)
    assert row.status == "sending" and row.due_at > h.clock.now()  # to be looked up, not re-posted
    h.clock.set(row.due_at)
    assert flush(h).sent == 1
    [only] = api_messages(chat_server, chat_server.alerts.id)
    assert post_row(h, post).remote_id == only["ts"]


def test_a_webhook_with_no_answer_is_unknown_not_posted_twice(h: Harness, chat_server: FakeChat) -> None:
    post = queue_post(h, h.add_deal(), "webhook")
    chat_server.hang("webhook")
    try:
        result = flush(h)
    finally:
        chat_server.release()
    assert result.unknown == 1 and post_row(h, post).status == "unknown"
    h.clock.advance(timedelta(hours=1))
    flush(h)
    assert len(chat_server.webhook_posts) == 1 and len(notices(h)) == 1


def test_a_webhook_that_refuses_connections_is_retried_not_unknown(
    tmp_path: Path, chat_server: FakeChat
) -> None:
    h = harness(tmp_path, chat_server)
    try:
        post = queue_post(h, h.add_deal(), "webhook")
        chat_server.close()  # nobody listens: nothing can have been taken
        result = flush(h)
        assert result.postponed == 1 and post_row(h, post).status == "queued"
        assert notices(h) == []
    finally:
        h.agent.close()


# --- a crash mid-post: the attempt was recorded, its outcome was not ---------------------------
def _claimed(h: Harness, post_id: int) -> m.ChatPost:
    """What a process leaves when it dies after its claim was committed."""
    with h.agent.sessions.begin() as s:
        repo = Repo(s)
        post = repo.claim_chat(post_id)
        assert post is not None
        status.claim(Trail(repo, h.clock.now()), post, "#test")
        return post


def _message(post: m.ChatPost) -> ChatMessage:
    return ChatMessage(post.idempotency_key, post.title, post.text, "Acme Radio", post.link)


def test_slack_api_an_interrupted_post_that_landed_is_found_and_not_posted_again(
    h: Harness, chat_server: FakeChat
) -> None:
    post = _claimed(h, queue_post(h, h.add_deal(), "bot"))
    landed = SlackApi(TOKEN, api_url=chat_server.api_url).post(chat_server.alerts.id, _message(post))
    assert flush(h).sent == 1
    [only] = api_messages(chat_server, chat_server.alerts.id)
    row = post_row(h, post.id)
    assert (
        (row.status, row.remote_id, row.attempts)
        == ("sent", landed.remote_id, 2)
        == (
            "sent",
            only["ts"],
            2,
        )
    )
    assert any("found there after an interrupted attempt" in r for _, r in history(h, post.id))
    assert notices(h) == []


def test_slack_api_an_interrupted_post_that_did_not_land_is_posted_once(
    h: Harness, chat_server: FakeChat
) -> None:
    post = _claimed(h, queue_post(h, h.add_deal(), "bot"))
    assert flush(h).sent == 1
    assert len(api_messages(chat_server, chat_server.alerts.id)) == 1
    assert any(
        "conversations.history" in path for kind, _, path, _, _ in chat_server.requests if kind == "api"
    )
    assert any("was not there" in r for _, r in history(h, post.id))


def test_a_webhook_post_interrupted_becomes_unknown_is_not_posted_again_and_is_told(
    h: Harness, chat_server: FakeChat
) -> None:
    post = _claimed(h, queue_post(h, h.add_deal(), "webhook"))
    SlackWebhook(chat_server.webhook_url).post("webhook", _message(post))
    result = flush(h)
    assert (result.unknown, result.sent) == (1, 0)
    assert len(chat_server.webhook_posts) == 1  # the one that landed; no second
    assert post_row(h, post.id).status == "unknown"
    [notice] = notices(h)
    assert "may or may not have been posted to #webhook" in notice.body_text
    assert "Nobody can log in since 9:00." in notice.body_text
    h.clock.advance(timedelta(hours=2))
    flush(h)
    assert len(chat_server.webhook_posts) == 1 and len(notices(h)) == 1  # told once, never re-posted


CRASH = """
import sys
from pathlib import Path

from agent.chat.queue import ChatOutbox
from agent.clock import SystemClock
from agent.config import load_config
from agent.store.db import open_store

config = load_config(Path(sys.argv[1]))
ChatOutbox(open_store(config.store_url), config, SystemClock()).flush()
"""


def _kill_mid_post(cfg: Path, fake: FakeChat, kind: str, landed: Any) -> None:
    """A real process posts while the service holds its answer; it is SIGKILLed once the post landed."""
    fake.hang(kind)
    proc = subprocess.Popen([sys.executable, "-c", CRASH, str(cfg)], cwd=ROOT, env=agent_env())
    try:
        wait_until(lambda: landed() or proc.poll() is not None, timeout=30)
        assert landed(), f"the process ended ({proc.returncode}) before its post landed"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        proc.kill()
        fake.release()


@pytest.mark.integration
def test_sigkill_while_slack_holds_the_answer_then_the_post_is_looked_up_not_doubled(
    tmp_path: Path, h: Harness, chat_server: FakeChat
) -> None:
    post = queue_post(h, h.add_deal(), "bot")
    _kill_mid_post(
        tmp_path / "agent.toml",
        chat_server,
        "chat.postMessage",
        lambda: len(api_messages(chat_server, chat_server.alerts.id)) == 1,
    )
    assert post_row(h, post).status == "sending"  # the claim was committed before the call
    assert flush(h).sent == 1
    [only] = api_messages(chat_server, chat_server.alerts.id)
    assert post_row(h, post).remote_id == only["ts"]


@pytest.mark.integration
def test_sigkill_while_a_webhook_holds_the_answer_then_unknown_and_told(
    tmp_path: Path, h: Harness, chat_server: FakeChat
) -> None:
    post = queue_post(h, h.add_deal(), "webhook")
    _kill_mid_post(
        tmp_path / "agent.toml", chat_server, "webhook", lambda: len(chat_server.webhook_posts) == 1
    )
    assert post_row(h, post).status == "sending"
    assert flush(h).unknown == 1
    assert len(chat_server.webhook_posts) == 1 and post_row(h, post).status == "unknown"
    assert len(notices(h)) == 1


# --- a deal's own channel ----------------------------------------------------------------------
def _invite(h: Harness, deal_id: int, purpose: str, emails: list[str]) -> None:
    """What the rules' open_channel writes on the deal (agent.handling.coordination)."""
    with h.agent.sessions.begin() as s:
        deal = Repo(s).deal(deal_id)
        assert deal is not None
        deal.chat_channels = {**deal.chat_channels, purpose: {"invite": emails}}


def test_a_deal_channel_is_created_once_its_people_invited_and_recorded_on_the_deal(
    tmp_path: Path, chat_server: FakeChat
) -> None:
    h = harness(tmp_path, chat_server, chat='deal_channels = "bot"')
    try:
        sam, olivia = chat_server.add_user("sam@example.com"), chat_server.add_user("olivia@example.com")
        deal = h.add_deal()
        _invite(h, deal, "escalation", ["sam@example.com", "olivia@example.com", "nobody@example.com"])
        first = queue_post(h, deal, "deal:escalation")
        second = queue_post(h, deal, "deal:escalation", title="Acme Radio: the fix is live")
        assert flush(h).sent == 2
        channel = chat_server.channels["onb-acme-radio-escalation"]
        assert channel.private and {sam, olivia} <= channel.members
        creates = [p for kind, _, p, _, _ in chat_server.requests if p.endswith("conversations.create")]
        assert len(creates) == 1
        assert [x["metadata"]["event_payload"]["key"] for x in api_messages(chat_server, channel.id)] == [
            post_row(h, first).idempotency_key,
            post_row(h, second).idempotency_key,
        ]
        with h.agent.sessions.begin() as s:
            recorded = Repo(s).deal(deal).chat_channels["escalation"]  # type: ignore[union-attr]
        assert recorded == {
            "invite": ["sam@example.com", "olivia@example.com", "nobody@example.com"],
            "id": channel.id,
            "name": "onb-acme-radio-escalation",
            "service": "bot",
        }
        opened = [r for k, r in history(h, first) if k == "chat_channel_created"]
        assert opened == [
            "opened #onb-acme-radio-escalation for the deal (escalation); invited sam@example.com, "
            "olivia@example.com; no Slack user for nobody@example.com"
        ]
        assert (
            "chat_posted",
            "posted to #onb-acme-radio-escalation: Acme Radio: the fix is live",
        ) in history(h, second)
    finally:
        h.agent.close()


def test_a_deal_channel_without_deal_channels_falls_back_to_the_entry_named_like_it(
    tmp_path: Path, chat_server: FakeChat
) -> None:
    hook = _secret(tmp_path, "escalation-hook", chat_server.webhook_url)
    entry = f'\n[[chat.channels]]\nname = "escalation"\nservice = "slack-webhook"\npassword_file = "{hook}"\n'
    h = harness(tmp_path, chat_server, entries=entry)
    try:
        post = queue_post(h, h.add_deal(), "deal:escalation")
        assert flush(h).sent == 1 and len(chat_server.webhook_posts) == 1
        assert chat_server.channels.keys() == {"csm-alerts"}  # nothing created
        assert ("chat_posted", f"posted to #escalation: {TITLE}") in history(h, post)
    finally:
        h.agent.close()


def test_a_deal_channel_nothing_can_carry_fails_with_what_to_configure(
    h: Harness, chat_server: FakeChat
) -> None:
    post = queue_post(h, h.add_deal(), "deal:escalation")
    assert flush(h).failed == 1
    assert chat_server.requests == []
    error = post_row(h, post).last_error
    assert "set [chat] deal_channels" in error and "[[chat.channels]] entry named 'escalation'" in error
    [notice] = notices(h)
    assert "could not be posted" in notice.body_text


def test_a_dry_run_posts_nothing(tmp_path: Path, h: Harness, chat_server: FakeChat) -> None:
    post = queue_post(h, h.add_deal(), "webhook")
    dry = Runner(h.config, clock=h.clock, dry_run=True, sessions=h.agent.sessions)
    try:
        dry.run_once()
        assert dry.chat is not None and dry.chat.dry_run
        assert chat_server.requests == [] and post_row(h, post).status == "queued"
        assert dry._until_next_due() > 0  # a post a dry run holds does not make the loop spin
    finally:
        dry.close()
    plain = ChatOutbox(h.agent.sessions, h.config, h.clock)
    assert plain.flush().sent == 1 and len(chat_server.webhook_posts) == 1


def test_no_chat_channels_no_chat_part(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    runner = Runner(config, clock=ManualClock(datetime.now(UTC)))
    try:
        assert runner.chat is None
        runner.run_once()
        with runner.sessions.begin() as s:
            assert Repo(s).health("chat") == {}
    finally:
        runner.close()
