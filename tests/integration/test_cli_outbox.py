"""`outbox ...` on the command line: what is queued and sent, and a person's retry and cancel."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.cli_helpers import add_acme, as_json, run


def test_run_once_sends_what_is_queued_and_outbox_lists_it(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_acme(cfg, capsys)
    code, out, _ = run(cfg, "run", "--once", "--dry-run", capsys=capsys)
    assert code == 0 and "1 held (dry run)" in out
    assert not (cfg.parent / "state" / "sent").exists() or not list((cfg.parent / "state" / "sent").iterdir())
    code, out, _ = run(cfg, "run", "--once", capsys=capsys)
    assert "1 emails sent" in out
    [email] = as_json(cfg, capsys, "outbox", "list")
    assert email["template"] == "intro" and email["status"] == "sent" and email["to"] == ["jane@acme.example"]
    assert email["message_id"].startswith("<") and email["deal"] == 1
    assert len(list((cfg.parent / "state" / "sent").glob("*.eml"))) == 1


def test_outbox_show_cancel_and_retry(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_acme(cfg, capsys)
    shown = as_json(cfg, capsys, "outbox", "show", "1")
    assert (shown["template"], shown["status"], shown["to"]) == ("intro", "queued", ["jane@acme.example"])
    assert [h["kind"] for h in shown["history"]] == ["email_queued"]
    code, _, err = run(cfg, "outbox", "retry", "1", capsys=capsys)
    assert code == 2 and "only failed or withdrawn" in err
    code, out, _ = run(cfg, "outbox", "cancel", "1", capsys=capsys)
    assert code == 0 and "cancelled" in out
    run(cfg, "run", "--once", capsys=capsys)
    assert not (cfg.parent / "state" / "sent").exists() or not list((cfg.parent / "state" / "sent").iterdir())
    code, out, _ = run(cfg, "outbox", "retry", "1", capsys=capsys)
    assert code == 0
    run(cfg, "run", "--once", capsys=capsys)
    shown = as_json(cfg, capsys, "outbox", "show", "1")
    assert shown["status"] == "sent" and shown["delivery"] == {
        "jane@acme.example": "sent",
        "sam@example.com": "sent",
    }
    assert [h["kind"] for h in shown["history"]] == [
        "email_queued",
        "email_withdraw",
        "email_requeued",
        "email_sent",
    ]
    code, out, _ = run(cfg, "outbox", "show", "1", capsys=capsys)
    assert "jane@acme.example: sent" in out and "email_requeued" in out
    code, _, err = run(cfg, "outbox", "show", "42", capsys=capsys)
    assert code == 2 and "no email 42" in err


def test_cancel_of_a_sent_email_is_refused_and_changes_nothing(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_acme(cfg, capsys)
    run(cfg, "run", "--once", capsys=capsys)
    before = as_json(cfg, capsys, "outbox", "show", "1")
    assert before["status"] == "sent"
    code, out, err = run(cfg, "outbox", "cancel", "1", capsys=capsys)
    assert code == 2 and not out
    assert "error: email 1 is sent; only queued or failed emails can be cancelled" in err
    assert as_json(cfg, capsys, "outbox", "show", "1") == before  # status, error and history as they were


def test_retry_of_a_queued_email_is_refused_and_changes_nothing(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_acme(cfg, capsys)
    before = as_json(cfg, capsys, "outbox", "show", "1")
    assert before["status"] == "queued"
    code, out, err = run(cfg, "outbox", "retry", "1", capsys=capsys)
    assert code == 2 and not out
    assert "error: email 1 is queued; only failed or withdrawn emails can be retried" in err
    assert as_json(cfg, capsys, "outbox", "show", "1") == before  # not due again, no history line
