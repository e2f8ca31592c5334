"""The database failing under the agent: locked by another program, or its disk full.

What must hold: the transaction rolls back, the input is neither lost nor quarantined (it
was not at fault), nothing is acknowledged to the source, and once the store works again
each item is processed exactly once.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.clock import ManualClock
from agent.config import load_config
from agent.daemon.ingest import PassReport
from agent.health import status_data
from agent.store.db import StoreUnavailable
from agent.store.repo import Repo
from tests.conftest import CLIENT, CSM, MONDAY, Harness, start_daemon, stop_daemon, wait_until, write_config
from tests.servers import REQUIRE

FAST_LOCK = "[store]\nbusy_timeout_seconds = 0.2\n[calendar]\ncompletion_grace_minutes = 0\n"


def hold_write_lock(db: Path) -> sqlite3.Connection:
    """Another program takes SQLite's write lock and keeps it (as a backup tool or a stuck script would)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def new_mail(h: Harness) -> list[str]:
    return sorted(os.listdir(h.config.maildir_path / "new"))


def recorded(h: Harness) -> tuple[int, int, list[str]]:
    """(messages on the deal, quarantined inputs, emails sent)."""
    with h.agent.sessions.begin() as s:
        repo = Repo(s)
        return len(repo.messages_for(1)), len(repo.quarantined()), h.sent_templates()


def test_a_locked_database_rolls_back_keeps_the_mail_and_processes_it_once_unlocked(tmp_path: Path) -> None:
    h = Harness(load_config(write_config(tmp_path, FAST_LOCK)), ManualClock(MONDAY))
    deal = h.add_deal()
    h.run()  # the intro
    h.meeting("intro", "Acme Radio introduction call", MONDAY + timedelta(hours=1), 30)
    h.run()
    h.mail(CLIENT, [CSM], "Re: Welcome to onboarding", "Thanks, see you at the call.")
    h.at(MONDAY + timedelta(hours=2))  # the call is over: its recap comes due during the lock
    before = recorded(h)

    lock = hold_write_lock(h.config.state_dir / "agent.db")
    try:
        with pytest.raises(StoreUnavailable, match="database is locked"):
            h.run()
        assert len(new_mail(h)) == 1, "the message must stay unacknowledged in the Maildir"
        h.meeting("training", "Acme Radio training", MONDAY + timedelta(days=2), 60)  # booked meanwhile
        with pytest.raises(StoreUnavailable):
            h.agent.ingest_calendar(PassReport(), h.agent.inboxes[0])
        assert recorded(h) == before  # nothing half-written, nothing quarantined
    finally:
        lock.rollback()
        lock.close()

    h.run()
    h.run()
    messages, quarantined, sent = recorded(h)
    assert new_mail(h) == [] and quarantined == 0
    assert messages == before[0] + 1 and sent.count("recap") == 1 and h.stage(deal) == "set-up"
    assert "Acme Radio training" in [m["title"] for m in h.show(deal)["meetings"]]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 16 MB file system (tmpfs) for the state folder, so that a write can really find it full."""
    mount = tmp_path / "state"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        message = f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """Write until the file system says it is full (ENOSPC)."""
    filler = folder / "filler"
    # unbuffered: a buffered file would try the refused bytes again when closed, and raise there
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as exc:
        assert exc.errno == 28, exc  # ENOSPC
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_rolls_back_and_everything_goes_through_once_there_is_room(
    tmp_path: Path, small_disk: Path
) -> None:
    h = Harness(load_config(write_config(tmp_path, FAST_LOCK)), ManualClock(MONDAY))
    deal = h.add_deal()
    h.run()
    h.meeting("intro", "Acme Radio introduction call", MONDAY + timedelta(hours=1), 30)
    h.run()
    h.mail(CLIENT, [CSM], "Re: Welcome to onboarding", "Thanks, see you at the call.")
    h.at(MONDAY + timedelta(hours=2))
    before = recorded(h)
    # An empty write-ahead log must grow to take the next transaction: on a full disk it cannot.
    with sqlite3.connect(h.config.state_dir / "agent.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    filler = fill(small_disk)

    with pytest.raises(StoreUnavailable, match="disk is full"):
        h.run()
    assert len(new_mail(h)) == 1 and recorded(h) == before

    filler.unlink()
    h.run()
    h.run()
    messages, quarantined, sent = recorded(h)
    assert new_mail(h) == [] and quarantined == 0
    assert messages == before[0] + 1 and sent.count("recap") == 1 and h.stage(deal) == "set-up"
    assert len(list(h.config.sent_path.glob("*.eml"))) == len(sent)


def test_the_daemon_waits_out_a_locked_database_and_then_takes_the_mail_in(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "[store]\nbusy_timeout_seconds = 0.2\n[daemon]\npoll_seconds = 1\n")
    h = Harness(load_config(cfg), ManualClock(MONDAY))
    h.add_deal()
    proc = start_daemon(cfg)
    wait_until(lambda: daemon_status(h)["ready"], timeout=30)
    lock = hold_write_lock(h.config.state_dir / "agent.db")
    try:
        h.mail(CLIENT, [CSM], "Re: Welcome to onboarding", "Thanks!")
        # status says so within a pass or two (a reader is not blocked by the writer's lock)
        wait_until(lambda: "store" in daemon_status(h)["daemon"]["failing"], timeout=10)
        status = daemon_status(h)
        assert not status["ready"] and "locked" in status["daemon"]["parts"]["store"]["last_error"]
        time.sleep(2)  # a few passes meet the lock (the log, read at the end, shows they did)
        assert proc.poll() is None, "the daemon must survive a locked database"
        assert len(new_mail(h)) == 1
    finally:
        lock.rollback()
        lock.close()
    try:
        wait_until(lambda: new_mail(h) == [], timeout=90)  # retried with backoff of at most 60 s
        assert recorded(h)[:2] == (1, 0)
        wait_until(lambda: daemon_status(h)["ready"], timeout=10)
    finally:
        err = stop_daemon(proc)
    assert "the database refused a write" in err and "nothing was lost" in err
    stopped = daemon_status(h)
    assert not stopped["ready"] and not stopped["daemon"]["running"]


def daemon_status(h: Harness) -> dict[str, Any]:
    """`status --json` as the command line reads it: the store's records and the daemon's own note."""
    return status_data(h.config, h.agent.sessions)


def test_status_says_not_ready_while_the_state_folder_is_full(tmp_path: Path, small_disk: Path) -> None:
    cfg = write_config(tmp_path, "[store]\nbusy_timeout_seconds = 0.2\n[daemon]\npoll_seconds = 1\n")
    h = Harness(load_config(cfg), ManualClock(MONDAY))
    h.add_deal()
    proc = start_daemon(cfg)
    filler = None
    try:
        wait_until(lambda: daemon_status(h)["ready"], timeout=30)
        with sqlite3.connect(h.config.state_dir / "agent.db") as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the next write must grow the log
        filler = fill(small_disk)
        # the next pass's first write fails; before, nothing was reported while the disk stayed full
        waited = wait_until(lambda: "store" in daemon_status(h)["daemon"]["failing"], timeout=10)
        status = daemon_status(h)
        assert not status["ready"] and "full" in status["daemon"]["parts"]["store"]["last_error"]
        print(f"not ready shown {waited:.1f} s after the disk filled")
        filler.unlink()
        filler = None
        wait_until(lambda: daemon_status(h)["ready"], timeout=90)  # back off at most 60 s
    finally:
        if filler is not None:
            filler.unlink()
        stop_daemon(proc)
