"""`chat ...` on the command line: the posts and their status, and a person's retry and cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.chat import status
from agent.config import load_config
from agent.store.audit import Trail
from agent.store.db import open_store
from agent.store.repo import Repo
from tests.chat_server import FakeChat, chat_server
from tests.integration.cli_helpers import add_acme, as_json, run
from tests.integration.test_chat_outbox import chat_config, store_post

__all__ = ["chat_server"]  # the fixture, imported to be found


def queue(cfg: Path, channel: str, title: str, *, claimed: bool = False) -> int:
    """A post on deal 1, as the rules store one; `claimed`: as a process that died mid-post left it."""
    now = datetime.now(UTC)
    with open_store(load_config(cfg).store_url).begin() as s:
        repo = Repo(s)
        post = store_post(repo, now, 1, channel, title)
        if claimed:
            status.claim(Trail(repo, now), post, "#webhook")
        return post.id


@pytest.fixture
def chat_cfg(tmp_path: Path, chat_server: FakeChat, capsys: pytest.CaptureFixture[str]) -> Path:
    cfg = chat_config(tmp_path, chat_server)
    add_acme(cfg, capsys)
    return cfg


def test_chat_list_show_and_the_retry_of_a_failed_post(
    chat_cfg: Path, chat_server: FakeChat, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(chat_cfg, "chat", "list", capsys=capsys)
    assert code == 0 and out.strip() == "no chat posts"
    sent = queue(chat_cfg, "webhook", "Acme Radio: SSO down")
    failed = queue(chat_cfg, "nowhere", "Acme Radio: to a channel nobody configured")
    code, out, err = run(chat_cfg, "run", "--once", capsys=capsys)
    assert code == 0, err
    assert len(chat_server.webhook_posts) == 1
    rows = as_json(chat_cfg, capsys, "chat", "list")
    assert [(r["id"], r["channel"], r["status"]) for r in rows] == [
        (sent, "webhook", "sent"),
        (failed, "nowhere", "failed"),
    ]
    [only] = as_json(chat_cfg, capsys, "chat", "list", "--status", "failed")
    assert only["id"] == failed and "no [[chat.channels]] entry named 'nowhere'" in only["last_error"]
    code, out, _ = run(chat_cfg, "chat", "list", capsys=capsys)
    assert "webhook" in out and "Acme Radio: SSO down" in out

    shown = as_json(chat_cfg, capsys, "chat", "show", str(sent))
    assert [h["kind"] for h in shown["history"]] == ["chat_queued", "chat_attempt", "chat_posted"]
    assert shown["history"][-1]["reason"] == "posted to #webhook: Acme Radio: SSO down"
    assert (
        shown["facts"] == [["Stage", "Introduction Call"], ["Severity", "critical"]]
        and shown["attempts"] == 1
    )

    code, _, err = run(chat_cfg, "chat", "retry", str(sent), capsys=capsys)
    assert code == 2 and "only failed or unknown posts can be retried" in err  # a sent post would double
    code, out, _ = run(chat_cfg, "chat", "retry", str(failed), capsys=capsys)
    assert code == 0 and "queued again" in out
    shown = as_json(chat_cfg, capsys, "chat", "show", str(failed))
    assert shown["status"] == "queued" and shown["attempts"] == 0 and shown["last_error"] == ""
    assert shown["history"][-1]["reason"].endswith("queued again by the command line")
    code, _, err = run(chat_cfg, "chat", "show", "42", capsys=capsys)
    assert code == 2 and "no chat post 42" in err


def test_an_unknown_post_is_posted_again_only_when_a_person_says_so(
    chat_cfg: Path, chat_server: FakeChat, capsys: pytest.CaptureFixture[str]
) -> None:
    post = queue(chat_cfg, "webhook", "Acme Radio: SSO down", claimed=True)  # died mid-post
    run(chat_cfg, "run", "--once", capsys=capsys)
    [row] = as_json(chat_cfg, capsys, "chat", "list", "--status", "unknown")
    assert row["id"] == post and chat_server.webhook_posts == []  # not posted on a guess
    emails = as_json(chat_cfg, capsys, "outbox", "list")
    assert [e["to"] for e in emails if e["template"] == "notice"] == [["sam@example.com"]]
    code, out, _ = run(chat_cfg, "chat", "retry", str(post), capsys=capsys)
    assert code == 0 and "the next pass posts it" in out
    run(chat_cfg, "run", "--once", capsys=capsys)
    assert len(chat_server.webhook_posts) == 1
    shown = as_json(chat_cfg, capsys, "chat", "show", str(post))
    assert shown["status"] == "sent"
    assert [h["kind"] for h in shown["history"]] == [
        "chat_queued",
        "chat_attempt",
        "chat_unknown",
        "chat_requeued",
        "chat_attempt",
        "chat_posted",
    ]


def test_a_cancelled_post_never_goes_and_a_bad_status_is_refused(
    chat_cfg: Path, chat_server: FakeChat, capsys: pytest.CaptureFixture[str]
) -> None:
    post = queue(chat_cfg, "webhook", "Acme Radio: SSO down")
    code, out, _ = run(chat_cfg, "chat", "cancel", str(post), capsys=capsys)
    assert code == 0 and "cancelled" in out
    run(chat_cfg, "run", "--once", capsys=capsys)
    assert chat_server.requests == []
    [row] = as_json(chat_cfg, capsys, "chat", "list")
    assert row["status"] == "withdrawn"
    code, _, err = run(chat_cfg, "chat", "cancel", str(post), capsys=capsys)
    assert code == 2 and "chat post 1 is withdrawn" in err
    with pytest.raises(SystemExit) as exited:
        run(chat_cfg, "chat", "list", "--status", "lost", capsys=capsys)
    assert exited.value.code == 2


def test_a_deals_existing_channel_is_recorded_and_its_posts_go_there_with_none_created(
    tmp_path: Path, chat_server: FakeChat, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = chat_config(tmp_path / "no-bot", chat_server)
    add_acme(cfg, capsys)
    code, _, err = run(cfg, "chat", "channel", "1", "--id", "C0EXISTING", capsys=capsys)
    assert code == 2 and "[chat] deal_channels names no Slack bot" in err

    cfg = chat_config(tmp_path / "bot", chat_server, chat='deal_channels = "bot"')
    add_acme(cfg, capsys)
    existing = chat_server.add_channel("acme-radio-onboarding")
    code, _, err = run(cfg, "chat", "channel", "1", "--id", "not-an-id", capsys=capsys)
    assert code == 2 and "expected a Slack channel id" in err
    code, out, err = run(
        cfg, "chat", "channel", "1", "--id", existing.id, "--name", existing.name, capsys=capsys
    )
    assert code == 0, err
    assert f"deal 1: its deal channel is {existing.id}" in out
    queue(cfg, "deal:deal", "A low issue on Acme Radio")
    code, _, err = run(cfg, "run", "--once", capsys=capsys)
    assert code == 0, err
    [posted] = chat_server.api_posts[existing.id]
    assert posted["text"].startswith("A low issue on Acme Radio")
    assert set(chat_server.channels) == {"csm-alerts", "acme-radio-onboarding"}  # none created
    shown = as_json(cfg, capsys, "deals", "show", "1")
    assert shown["chat_channels"]["deal"]["id"] == existing.id
    assert any(e["kind"] == "chat_channel_set" for e in shown["events"])
