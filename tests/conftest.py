"""Shared fixtures: a real agent on the embedded defaults in a temporary folder, with a manual clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.clock import ManualClock
from agent.config import load_config
from agent.simulation import ACCOUNT_MANAGER, CLIENT, CSM, MANAGER, Simulation

__all__ = ["ACCOUNT_MANAGER", "CLIENT", "CSM", "MANAGER", "Harness", "write_config"]

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def write_config(folder: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "agent.toml"
    path.write_text(
        f"""
[agent]
address = "onboarding@example.com"
internal_domains = ["example.com"]
timezone = "Europe/London"

[review]
templates = []  # the flows are tested without review; test_review.py turns it on

[paths]
state = "{folder / "state"}"
rules = "{ROOT / "rules"}"
templates = "{ROOT / "templates" / "emails"}"
{extra}
""",
        encoding="utf-8",
    )
    return path


class Harness(Simulation):
    """The simulation, as the tests use it."""


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    config = load_config(write_config(tmp_path))
    yield Harness(config, ManualClock(MONDAY))
