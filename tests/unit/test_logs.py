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


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_a_secret_in_an_exception_or_a_stack_is_redacted(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.setup("INFO", fmt, secrets=["s3cr3t-in-url"])
    log = logging.getLogger("agent.test")
    try:
        raise ValueError("https://agent:s3cr3t-in-url@dav.example.com/cal/")
    except ValueError:
        log.exception("caldav sync failed")
    try:  # a credential the agent never knew, in a URL a library echoes
        raise ConnectionError("GET https://bob:unknown-pw@proxy.example.com/ refused")
    except ConnectionError:
        log.error("proxy", exc_info=True, stack_info=True)
    err = capsys.readouterr().err
    assert "s3cr3t-in-url" not in err and "unknown-pw" not in err
    assert "https://agent:***@dav.example.com/cal/" in err and "https://bob:***@proxy.example.com/" in err
    if fmt == "json":
        first, second = (json.loads(line) for line in err.splitlines())
        assert "ValueError: https://agent:***@dav" in first["error"]
        assert "Traceback" in second["error"] and "Stack (most recent call last)" in second["stack"]


def test_a_token_learnt_at_run_time_is_redacted_from_then_on(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup("INFO", "plain")
    log = logging.getLogger("agent.test")
    log.info("before: %s", "eyJ0eXAi.run-time-token")
    logs.add_secret("eyJ0eXAi.run-time-token")
    logs.setup("INFO", "json", secrets=["other"])  # a new config's secrets do not drop a learnt token
    log.info("after: %s", "eyJ0eXAi.run-time-token")
    log.info("header: Authorization: Bearer abcdefghijkl.mnop")  # a token seen nowhere else
    before, after, header = capsys.readouterr().err.splitlines()
    assert before.endswith("before: eyJ0eXAi.run-time-token")
    assert json.loads(after)["message"] == "after: ***"
    assert json.loads(header)["message"] == "header: Authorization: Bearer ***"


def _secret_file(tmp_path: Path, name: str, value: str) -> str:
    path = tmp_path / name
    path.write_text(value + "\n")
    path.chmod(0o600)
    return str(path)


@pytest.mark.parametrize(
    "where",
    [
        "mailbox",
        "transport",
        "calendar",
        "graph",
        "exchange",
        "dashboard",
        "teams.mailbox",
        "teams.calendar",
        "mailbox.oauth2_client_secret_file",
        "transport.oauth2_client_secret_file",
        "chat.channels",
    ],
)
def test_every_configured_secret_is_redacted(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.config import Config

    secret = f"the-{where}-secret"
    monkeypatch.setenv("SECRET", secret)
    section, _, key = where.partition(".")
    data: dict[str, object]
    if section == "teams":
        data = {"teams": [{"name": "emea", "address": "emea@example.com", key: {"password_env": "SECRET"}}]}
    elif section == "chat":
        data = {
            "chat": {
                "channels": [{"name": "bot", "service": "slack", "channel": "C1", "password_env": "SECRET"}]
            }
        }
    elif key:
        data = {section: {key: _secret_file(tmp_path, "client-secret", secret)}}
    else:
        data = {section: {"password_env": "SECRET"}}
    logs.setup("INFO", "json", secrets=logs.secrets_of(Config.model_validate(data)))
    try:
        raise RuntimeError(f"the server echoed {secret}")
    except RuntimeError:
        logging.getLogger("agent.test").exception("using %s", secret)
    err = capsys.readouterr().err
    assert secret not in err
    entry = json.loads(err)
    assert entry["message"] == "using ***" and "RuntimeError: the server echoed ***" in entry["error"]
