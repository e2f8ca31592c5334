"""`unmatched ...` and `quarantine ...` on the command line: inputs a person places by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.cli_helpers import add_acme, as_json, run


def test_unmatched_list_and_assign_runs_the_rules(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_acme(cfg, capsys)
    maildir = cfg.parent / "state" / "mail"
    (maildir / "new").mkdir(parents=True, exist_ok=True)
    (maildir / "new" / "1.x.test").write_bytes(
        b"From: Someone <someone@gmail.com>\r\nTo: onboarding@example.com\r\nSubject: Who am I\r\n"
        b"Message-ID: <who@gmail.com>\r\n\r\nHi.\r\n"
    )
    run(cfg, "run", "--once", capsys=capsys)
    [item] = as_json(cfg, capsys, "unmatched", "list")
    assert item["subject"] == "Who am I" and item["from"] == "someone@gmail.com"
    code, _, _ = run(cfg, "unmatched", "assign", str(item["id"]), "Acme Radio", capsys=capsys)
    assert code == 0
    assert as_json(cfg, capsys, "unmatched", "list") == []
    show = as_json(cfg, capsys, "deals", "show", "1")
    [msg] = show["messages"]
    assert msg["match_reason"] == "assigned by the command line"
    code, _, _ = run(cfg, "unmatched", "assign", "999", "1", capsys=capsys)
    assert code == 2


def test_quarantine_list_and_retry(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_acme(cfg, capsys)
    maildir = cfg.parent / "state" / "mail" / "new"
    maildir.mkdir(parents=True, exist_ok=True)
    (maildir / "2.x.test").write_bytes(b"")
    run(cfg, "run", "--once", capsys=capsys)
    [q] = as_json(cfg, capsys, "quarantine", "list")
    assert q["source"] == "mail" and "cannot parse" in q["error"]
    code, out, _ = run(cfg, "quarantine", "retry", str(q["id"]), capsys=capsys)
    assert code == 1 and "quarantined" in out  # still broken: it goes back, nothing lost
    assert len(as_json(cfg, capsys, "quarantine", "list")) == 1
