from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from agent import logs


def test_secrets_never_reach_the_log_and_json_lines_parse(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup("INFO", "json", secrets=["hunter2-secret", "ya29.token"])
    logging.getLogger("agent.test").info("login %s with %s", "agent@example.com", "hunter2-secret")
    logging.getLogger("imapclient").warning("> b'0001 AUTHENTICATE XOAUTH2 ya29.token'")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [e["message"] for e in lines] == [
        "login agent@example.com with ***",
        "> b'0001 AUTHENTICATE XOAUTH2 ***'",
    ]
    assert {"at", "level", "logger", "message"} <= set(lines[0])


def test_plain_lines_are_redacted_too(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup("INFO", "plain", secrets=["hunter2-secret"])
    logs.setup("INFO", "plain", secrets=["hunter2-secret"])  # set again: one line per record, not two
    logging.getLogger("agent.test").error("password is hunter2-secret")
    err = capsys.readouterr().err
    assert err.count("password is ***") == 1 and "hunter2" not in err


def test_what_the_agent_did_is_logged_in_words_a_csm_reads_once_committed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import UTC, datetime, timedelta

    from agent.clock import ManualClock
    from agent.config import load_config
    from tests.conftest import Harness, write_config

    h = Harness(load_config(write_config(tmp_path)), ManualClock(datetime(2026, 11, 30, 9, tzinfo=UTC)))
    h.add_deal()
    intro = datetime(2026, 12, 1, 14, tzinfo=UTC)
    h.meeting("intro", "Acme Radio introduction call", intro)
    h.run()
    h.at(intro + timedelta(hours=1))
    with caplog.at_level(logging.INFO, logger="agent.decisions"):
        h.run()
    lines = [r.getMessage() for r in caplog.records if r.name == "agent.decisions"]
    assert (
        "Acme Radio: sent recap to jane@acme-radio.example, sam@example.com, alex@example.com via file "
        "(rule recap-after-intro)" in lines
    )
    assert any(
        line.startswith("Acme Radio: introduction-call → set-up: rule recap-after-intro") for line in lines
    )

    caplog.clear()
    from agent.store.repo import Repo

    with (
        caplog.at_level(logging.INFO, logger="agent.decisions"),
        pytest.raises(RuntimeError),
        h.agent.sessions.begin() as s,
    ):
        Repo(s).audit(intro, "note", deal_id=1, event_id=None, reason="never happened")
        raise RuntimeError("rolled back")
    assert not [r for r in caplog.records if "never happened" in r.getMessage()]  # a rollback tells nothing


def test_chat_webhook_urls_and_bot_tokens_are_secrets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.config import Config

    url = "https://prod-12.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=SeCrEt123"
    monkeypatch.setenv("TEAMS_URL", url)
    monkeypatch.setenv("BOT", "xoxb-111-222-secret")
    config = Config.model_validate(
        {
            "chat": {
                "channels": [
                    {"name": "fmc", "service": "teams", "password_env": "TEAMS_URL"},
                    {"name": "bot", "service": "slack", "channel": "C1", "password_env": "BOT"},
                ]
            }
        }
    )
    logs.setup("DEBUG", "plain", secrets=logs.secrets_of(config))
    log = logging.getLogger("urllib3.connectionpool")
    log.debug('https://prod-12.westus.logic.azure.com:443 "POST %s HTTP/1.1" 202 0', url.split(".com", 1)[1])
    log.debug("posting to %s with Bearer xoxb-111-222-secret", url)
    err = capsys.readouterr().err
    assert "SeCrEt123" not in err and "xoxb-111-222-secret" not in err and "/workflows/abc" not in err
    assert err.count("***") == 3  # the path alone, the whole URL, the token
