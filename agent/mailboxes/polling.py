"""What the mailboxes read over HTTP APIs share (Graph, EWS): polling, back-off, a cursor per page.

Their cursor is the server's position after a page of changes (a delta link, a SyncState);
it is stored when the page's last message is acknowledged, so a crash replays at most one
page, which natural keys make harmless.

What the folder held before the agent first watched it is history (RawMail.history): with no
UIDs to draw the line by, it is drawn by time. The first fetch with no cursor stores the time
it began; a message received more than HISTORY_MARGIN before it is history.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from agent.config import MailboxSection
from agent.cursors import CursorStore
from agent.mailboxes.base import MailboxUnavailable, RawMail

log = logging.getLogger(__name__)
# The server's clock and ours differ a little: a message received around the first watch is acted on.
HISTORY_MARGIN = timedelta(minutes=5)


class PollingMailbox:
    source: str

    def __init__(self, settings: MailboxSection, cursors: CursorStore) -> None:
        self.settings = settings
        self.cursors = cursors
        self.failures = 0
        self.retry_at = 0.0  # monotonic time before which the server is not asked again
        self._pending_cursor = ""  # stored once the message just handed out is acknowledged
        self._history_before: datetime | None = None  # a message received before it is history
        self._history_read = False  # the bound is read once a process

    def check_backoff(self) -> None:
        wait = self.retry_at - time.monotonic()
        if wait > 0:
            raise MailboxUnavailable(f"{self.source}: trying again in {wait:.0f} s")

    def back_off(self, exc: BaseException, asked: float = 0.0) -> NoReturn:
        """Wait before the next try: as long as the server asked, else 2, 4, 8 … s up to reconnect_max_seconds."""
        self.failures += 1
        delay = max(asked, min(self.settings.reconnect_max_seconds, 2.0 ** min(self.failures, 10)))
        self.retry_at = time.monotonic() + delay * random.uniform(1.0, 1.2)
        log.warning("%s: %s: %s; trying again in %.0f s", self.source, type(exc).__name__, exc, delay)
        raise MailboxUnavailable(f"{self.source}: {type(exc).__name__}: {exc}") from exc

    def history_bound(self) -> None:
        """Before a fetch hands anything out: the time before which the folder's mail is history.

        Stored by the first fetch of a folder the agent never read (no cursor, not even one a
        refused sync state or an expired link emptied), so that a restart in the middle of the first
        backlog keeps it; an install that read the folder before this bound existed has none.
        """
        if self._history_read or self.settings.history == "act":
            return
        key = f"{self.source}#history"
        stored = self.cursors.get(key)
        if not stored and self.cursors.get(self.source) is None:
            stored = datetime.now(UTC).isoformat()
            self.cursors.set(key, stored)
            log.info(
                "%s: first watch; mail received before %s is recorded, not acted on", self.source, stored
            )
        if stored:
            self._history_before = datetime.fromisoformat(stored) - HISTORY_MARGIN
        self._history_read = True

    def is_history(self, received: datetime | None) -> bool:
        """Received before the agent first watched the folder (by the bound `history_bound` read)."""
        before = self._history_before
        return before is not None and received is not None and received < before

    def hand_out(self, is_last_of_page: bool, page_cursor: str) -> None:
        self._pending_cursor = page_cursor if is_last_of_page else ""

    def ack(self, mail: RawMail, outcome: str) -> None:
        if self._pending_cursor:
            self.cursors.set(self.source, self._pending_cursor)
            self._pending_cursor = ""

    def wait(self, timeout: float, should_stop: Callable[[], bool]) -> None:
        # No push here (Graph's change notifications need a public HTTPS endpoint; EWS streaming
        # needs a held connection per mailbox): poll every poll_seconds.
        deadline = time.monotonic() + min(timeout, float(self.settings.poll_seconds))
        while time.monotonic() < deadline and not should_stop():
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
