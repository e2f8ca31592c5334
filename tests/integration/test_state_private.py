"""The state folder and everything in it is for the agent's owner only (0700 folders, 0600 files),
however it was made: a folder an older demo or a person made open is closed on the next start."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from agent.cli import main
from tests.conftest import write_config


def loose(root: Path) -> list[str]:
    """What in `root` others may read or enter."""
    found = [root, *root.rglob("*")]
    return [
        f"{p} {stat.S_IMODE(p.stat().st_mode):o}"
        for p in found
        if not p.is_symlink() and p.stat().st_mode & 0o077
    ]


def test_a_first_run_writes_everything_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    state = tmp_path / "state"
    assert list(state.rglob("*.eml")) and list(state.rglob("*.db"))
    assert loose(state) == []


def test_an_open_state_folder_is_closed_with_everything_in_it(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    state = tmp_path / "state"
    (state / "sent").mkdir(parents=True)
    state.chmod(0o755)
    (state / "sent").chmod(0o755)
    old = state / "sent" / "old.eml"
    old.write_text("Subject: made before\n\nhello\n")
    old.chmod(0o644)
    assert main(["--config", str(cfg), "run", "--once"]) == 0
    assert loose(state) == []
    assert stat.S_IMODE(old.stat().st_mode) == 0o600


def test_a_store_in_a_folder_others_share_closes_its_file_not_the_folder(tmp_path: Path) -> None:
    shared = tmp_path / "shared"  # like /srv/data, or /tmp (sticky)
    shared.mkdir()
    shared.chmod(0o1777)
    neighbour = shared / "someone-elses.txt"
    neighbour.write_text("not the agent's\n")
    neighbour.chmod(0o644)
    cfg = write_config(tmp_path, f'[store]\nurl = "sqlite:///{shared / "agent.db"}"\n')
    assert main(["--config", str(cfg), "run", "--once"]) == 0
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777  # what others share stays open to them
    assert stat.S_IMODE(neighbour.stat().st_mode) == 0o644
    assert stat.S_IMODE((shared / "agent.db").stat().st_mode) == 0o600  # the agent's own file is not

    opened = tmp_path / "sticky-state"  # a state folder set to a shared one is left open, not walked
    opened.mkdir()
    opened.chmod(0o1777)
    (opened / "theirs.txt").write_text("x")
    (opened / "theirs.txt").chmod(0o644)
    cfg = write_config(tmp_path / "b")
    assert main(["--config", str(cfg), "--state", str(opened), "run", "--once"]) == 0
    assert stat.S_IMODE((opened / "theirs.txt").stat().st_mode) == 0o644
    assert loose(opened / "agent.db") == []
