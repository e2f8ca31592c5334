"""A budget for one item, in time and in memory: work that runs past it is stopped and the item quarantined.

Anyone can send the agent an email, so no single input may hold the mailbox (and the store's
write lock) for long, or take the process over its memory. A watchdog checks the item's work
every tick: a real-time alarm (SIGALRM) whose handler raises in the middle of the item's Python
code once the time is up or the process has grown by more than the memory budget since the
item began; the item's transaction rolls back, and the unit of work quarantines it with the
reason. Growth, not size: memory freed by an earlier item is not always given back to the
system, and must not count against the next one.

What the watchdog cannot stop is one long call inside C (decoding one huge string): the input
limits (agent.mime, [mailbox] max_message_mb, [calendar] max_occurrences) bound those. Signals
reach only the main thread, so elsewhere (a daemon embedded in another program's thread, the
tests' background runs) no budget is set.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

TICK = 0.02  # seconds between the watchdog's looks (reading /proc: about 20 µs each); most items end before the first
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class BudgetExceeded(Exception):
    """The item's work ran past its time or memory budget."""


class _Statm:
    """/proc/self/statm kept open and read again in place: 2 µs where opening it each time took 15,
    read at every item of a backlog and at every tick."""

    def __init__(self) -> None:
        self.pid, self.fd = 0, -1

    def resident(self) -> int:
        if self.pid != os.getpid():  # first use, or a forked child: /proc/self was the parent's
            self.pid, self.fd = os.getpid(), os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        return int(os.pread(self.fd, 128, 0).split()[1]) * _PAGE


_STATM = _Statm()


def resident_bytes() -> int:
    """The process's resident memory now (0 where /proc is not there to say)."""
    try:
        return _STATM.resident()
    except (OSError, ValueError, IndexError):
        return 0


@contextmanager
def item_budget(seconds: float, memory_mb: float = 0.0) -> Iterator[None]:
    """Raise BudgetExceeded in the block after `seconds`, or once the process grew by `memory_mb` (0: none)."""
    if (seconds <= 0 and memory_mb <= 0) or threading.current_thread() is not threading.main_thread():
        yield
        return
    started, base = time.monotonic(), resident_bytes()
    limit = int(memory_mb * 1e6)

    def tick(signum: int, frame: FrameType | None) -> None:
        if seconds > 0 and time.monotonic() - started >= seconds:
            raise BudgetExceeded(f"exceeded the processing budget of {seconds:g} s")
        grown = resident_bytes() - base
        if limit > 0 and base and grown > limit:
            raise BudgetExceeded(
                f"exceeded the processing budget of {memory_mb:g} MB of memory (grew by {grown / 1e6:.0f} MB)"
            )

    first = min(seconds, TICK) if seconds > 0 else TICK
    previous = signal.signal(signal.SIGALRM, tick)
    signal.setitimer(signal.ITIMER_REAL, first, TICK)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
