"""The command line driven in-process, as the tests/integration/test_cli_*.py files share it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main


def run(cfg: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--config", str(cfg), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def as_json(cfg: Path, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = run(cfg, *args, "--json", capsys=capsys)
    assert code == 0, err
    return json.loads(out)


def add_acme(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        cfg,
        "deals",
        "add",
        "--name",
        "Acme Radio",
        "--contact",
        "Jane Doe,jane@acme.example,client_admin",
        "--csm",
        "sam@example.com",
        "--role",
        "onboarding_manager=olivia@example.com",
        capsys=capsys,
    )
    assert code == 0, err
    assert "stage introduction-call" in out
