"""A time budget for one item: work that runs past it is stopped and the item quarantined.

Anyone can send the agent an email, so no single input may hold the mailbox (and the store's
write lock) for long. The budget is a real-time alarm (SIGALRM): its handler raises in the
middle of the item's Python code, the item's transaction rolls back, and the unit of work
quarantines it with the reason. Signals reach only the main thread, so elsewhere (a daemon
embedded in another program's thread, the tests' background runs) no budget is set.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class BudgetExceeded(Exception):
    """The item's work ran past its time budget."""


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Raise BudgetExceeded in the block once `seconds` have passed (0: no budget)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: FrameType | None) -> None:
        raise BudgetExceeded(f"exceeded the processing budget of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
