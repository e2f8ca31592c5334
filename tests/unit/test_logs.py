from __future__ import annotations

import json
import logging

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
