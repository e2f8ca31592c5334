"""Processes the test session started and did not stop: found by a mark in their environment.

Every process a test starts (a daemon, a server, a parsing helper, multiprocessing's resource
tracker) inherits the session's environment, also when its parent died and it was re-parented:
so a process carrying the session's mark after the last test is one the suite left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Collection
from pathlib import Path

MARK = "CSM_TEST_SESSION"


def mark_session() -> str:
    """The mark every process started from now on inherits (set once per test session)."""
    os.environ[MARK] = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    return os.environ[MARK]


def left_behind(mark: str, wait: float = 5.0, ignore: Collection[int | None] = ()) -> list[tuple[int, str]]:
    """(pid, command line) of the live processes carrying `mark` (but `ignore`), after `wait` s to end."""
    deadline = time.monotonic() + wait
    while True:
        found = [(pid, cmd) for pid, cmd in _carrying(mark) if pid not in ignore]
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def stop(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _carrying(mark: str) -> list[tuple[int, str]]:
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if _state(entry) == "Z":
                continue  # a zombie has ended: only its parent's wait is missing
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                found.append((int(entry.name), cmd))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def _state(entry: Path) -> str:
    stat = (entry / "stat").read_text()
    return stat[stat.rindex(")") + 2]
