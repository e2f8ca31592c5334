"""A command that only reads never makes a state folder or a database: a mistyped --state is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli import main
from tests.integration.cli_helpers import add_acme, as_json


@pytest.mark.parametrize(
    "args",
    [["deals", "list"], ["deals", "show", "1"], ["outbox", "list"], ["unmatched", "list"], ["chat", "list"]],
)
def test_a_read_of_a_state_folder_that_does_not_exist_creates_nothing_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    typo = tmp_path / "stat"
    code, _, err = run_state(typo, args, capsys)
    assert code == 2
    assert f"no store at {typo / 'agent.db'} (state folder {typo}, which does not exist)" in err
    assert not typo.exists()


def run_state(state: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--state", str(state), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_reads_work_once_the_store_exists(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_acme(cfg, capsys)
    assert [d["name"] for d in as_json(cfg, capsys, "deals", "list")] == ["Acme Radio"]
