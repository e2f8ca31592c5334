"""One daemon per state folder: a second one on the same mailbox and database refuses to start.

An advisory `flock` on <state>/agent.lock: the kernel releases it when the
process dies, even by SIGKILL, so a crash never leaves a stale lock behind.
(Several workers on one PostgreSQL database are a different set-up, with
leases in the database.)
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.config import private_dir


class AlreadyRunning(Exception):
    pass


@contextmanager
def instance_lock(state_dir: Path) -> Iterator[None]:
    path = private_dir(state_dir) / "agent.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text().strip() or "?"
            raise AlreadyRunning(
                f"another agent (pid {holder}) is running on {state_dir}; stop it first, "
                "or give this one its own state folder (--state)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
