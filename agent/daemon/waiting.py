"""Waiting for mail on several mailboxes at once: one thread a mailbox, the first to hear of mail wakes the rest."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from agent.mailboxes.base import Mailbox

log = logging.getLogger(__name__)


def wait_for_mail(mailboxes: Sequence[Mailbox], timeout: float, should_stop: Callable[[], bool]) -> None:
    """Return when one mailbox has news, when `should_stop()`, or after `timeout` seconds."""
    if len(mailboxes) == 1:
        mailboxes[0].wait(timeout, should_stop)
        return
    woke = threading.Event()

    def wait_on(mailbox: Mailbox) -> None:
        try:
            mailbox.wait(timeout, lambda: should_stop() or woke.is_set())
        except Exception:  # a thread's exception would vanish: log it, and let the pass find out
            log.exception("%s: waiting for mail failed", source_of(mailbox))
        woke.set()

    # each IDLEs on its own connection
    threads = [threading.Thread(target=wait_on, args=(mb,), daemon=True) for mb in mailboxes]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    while not (woke.is_set() or should_stop()) and time.monotonic() < deadline:
        woke.wait(min(1.0, max(0.0, deadline - time.monotonic())))
    woke.set()
    for t in threads:
        t.join()


def source_of(watched: object) -> str:
    """What a lease is taken on: the backend's own cursor name where it has one (server, account, folder)."""
    return str(getattr(watched, "source", getattr(watched, "name", "")))
