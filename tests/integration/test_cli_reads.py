"""A command that only reads never makes a state folder or a database: a mistyped --state is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli import main
from tests.integration.cli_helpers import add_acme, as_json


@pytest.mark.parametrize(
    "args",
    [
        ["deals", "list"],
        ["deals", "show", "1"],
        ["outbox", "list"],
        ["unmatched", "list"],
        ["chat", "list"],
        ["status"],
        ["render", "intro", "--deal", "1"],
    ],
)
def test_a_read_of_a_state_folder_that_does_not_exist_creates_nothing_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    typo = tmp_path / "stat"
    code, _, err = run_state(typo, args, capsys)
    assert code == 2
    assert f"--state {typo}: no such folder, so nothing to read" in err
    assert not typo.exists()


@pytest.mark.parametrize(
    "args", [["deals", "list"], ["outbox", "list"], ["unmatched", "list"], ["chat", "list"]]
)
def test_a_read_before_anything_is_stored_says_nothing_is_there_and_makes_nothing(
    cfg: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert as_json(cfg, capsys, *args) == []
    assert not (cfg.parent / "state").exists()


def run_state(state: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--state", str(state), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_reads_work_once_the_store_exists(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_acme(cfg, capsys)
    assert [d["name"] for d in as_json(cfg, capsys, "deals", "list")] == ["Acme Radio"]


def test_the_commands_that_change_something_say_it_as_json_too(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    added = as_json(
        cfg,
        capsys,
        "deals",
        "add",
        "--name",
        "Hooli",
        "--csm",
        "sam@example.com",
        "--contact",
        "Gavin,gavin@hooli.example,client_admin",
    )
    assert (added["name"], added["pipeline"], added["stage"]) == (
        "Hooli",
        "standard-onboarding",
        "introduction-call",
    )
    assert added["message"].startswith(f"deal {added['id']} Hooli")
    moved = as_json(
        cfg, capsys, "deals", "advance", str(added["id"]), "--force", "--reason", "intro held by phone"
    )
    assert moved["stage"] == "set-up" and moved["id"] == added["id"]
    done = as_json(cfg, capsys, "deals", "task-done", str(added["id"]), "receive-set-up-info")
    assert done["task"] == "receive-set-up-info" and done["status"] in ("done", "awaiting_approval")
    withdrawn = [e for e in as_json(cfg, capsys, "outbox", "list") if e["status"] == "withdrawn"]
    again = as_json(cfg, capsys, "outbox", "retry", str(withdrawn[0]["id"]))
    assert again["id"] == withdrawn[0]["id"] and "queued again" in again["message"]
    cancelled = as_json(cfg, capsys, "outbox", "cancel", str(withdrawn[0]["id"]))
    assert cancelled["id"] == withdrawn[0]["id"] and "cancelled" in cancelled["message"]


def test_check_and_render_say_it_as_json(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checked = as_json(cfg, capsys, "check")
    assert checked["ok"] is True and checked["problems"] == [] and "hybrid-onboarding" in checked["pipelines"]
    assert any("chat channel 'deal'" in w for w in checked["warnings"])
    add_acme(cfg, capsys)
    rendered = as_json(cfg, capsys, "render", "intro", "--deal", "1")
    assert rendered["template"] == "intro" and "Acme" in rendered["subject"] and rendered["text"]


def test_a_pass_says_held_only_in_a_dry_run(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(cfg), "run", "--once"]) == 0
    assert "held (dry run)" not in capsys.readouterr().out
    assert main(["--config", str(cfg), "run", "--once", "--dry-run"]) == 0
    assert "held (dry run)" in capsys.readouterr().out
