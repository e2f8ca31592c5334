"""Microsoft 365 mailbox through Microsoft Graph: a delta query on the folder, each message as MIME.

The cursor is the link to go on from: @odata.nextLink after each page whose messages
were all processed, @odata.deltaLink at the end of a round. It moves only after the
messages before it are acknowledged, so a crash replays at most one page, and natural
keys make the replay a no-op. An expired link starts a new round from the beginning,
which the same keys make safe.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import NoReturn

from agent.config import Config
from agent.graph_client import DeltaExpired, GraphClient, GraphError, GraphUnavailable
from agent.mailboxes import CursorStore, MailboxUnavailable, RawMail, arrival

log = logging.getLogger(__name__)
# immutable ids survive a move between folders; 50 per page keeps a page's replay cheap
PREFER = {"Prefer": 'IdType="ImmutableId", odata.maxpagesize=50'}


class GraphMailbox:
    name = "graph"

    def __init__(self, config: Config, cursors: CursorStore, client: GraphClient | None = None) -> None:
        self.settings = config.mailbox
        self.cursors = cursors
        self.client = client or GraphClient(config.graph, config.agent.address)
        self.folder = config.mailbox.folder if config.mailbox.folder != "INBOX" else "inbox"
        self.source = f"graph:{self.client.mailbox}/{self.folder}"
        self.failures = 0
        self.retry_at = 0.0
        self._pending_cursor = ""  # the link to store once the message just handed out is acknowledged

    def fetch(self) -> Iterator[RawMail]:
        wait = self.retry_at - time.monotonic()
        if wait > 0:
            raise MailboxUnavailable(f"{self.source}: trying again in {wait:.0f} s")
        try:
            yield from self._round(self.cursors.get(self.source) or self._first())
        except DeltaExpired as exc:
            log.warning(
                "%s: the delta link expired (%s); reading the folder again from the start", self.source, exc
            )
            self.cursors.set(self.source, "")
            yield from self._guarded(self._first())
            return
        except GraphUnavailable as exc:
            self._back_off(exc, exc.retry_after)
        except GraphError as exc:
            self._back_off(exc, 0.0)
        self.failures = 0

    def _guarded(self, link: str) -> Iterator[RawMail]:
        try:
            yield from self._round(link)
        except GraphError as exc:
            self._back_off(exc, exc.retry_after if isinstance(exc, GraphUnavailable) else 0.0)

    def _back_off(self, exc: GraphError, retry_after: float) -> NoReturn:
        self.failures += 1
        delay = max(retry_after, min(self.settings.reconnect_max_seconds, 2.0 ** min(self.failures, 10)))
        self.retry_at = time.monotonic() + delay * random.uniform(1.0, 1.2)
        log.warning("%s: %s; trying again in %.0f s", self.source, exc, delay)
        raise MailboxUnavailable(f"{self.source}: {exc}") from exc

    def _first(self) -> str:
        return self.client.user_path(
            f"/mailFolders/{self.folder}/messages/delta?$select=id,internetMessageId,receivedDateTime"
        )

    def _round(self, link: str) -> Iterator[RawMail]:
        for items, next_link, _ in self.client.rounds(link, PREFER):
            messages = [i for i in items if "@removed" not in i]  # moved or deleted: nothing to read
            for n, item in enumerate(messages):
                mime = self.client.request(
                    "GET", self.client.user_path(f"/messages/{item['id']}/$value"), headers=PREFER
                ).content
                # the page's link is stored with its last message: a replay never skips one
                self._pending_cursor = next_link if n == len(messages) - 1 else ""
                yield RawMail(
                    f"{self.source}:{item['id']}",
                    mime,
                    next_link,
                    arrival(_parse_time(item.get("receivedDateTime"))),
                )
            if not messages and next_link:
                self.cursors.set(self.source, next_link)

    def ack(self, mail: RawMail, outcome: str) -> None:
        if self._pending_cursor:
            self.cursors.set(self.source, self._pending_cursor)
            self._pending_cursor = ""

    def wait(self, timeout: float, should_stop: Callable[[], bool]) -> None:
        # Graph has change notifications, but they need a public HTTPS endpoint: poll instead.
        deadline = time.monotonic() + min(timeout, float(self.settings.poll_seconds))
        while time.monotonic() < deadline and not should_stop():
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

    def probe(self) -> str:
        folder = self.client.request("GET", self.client.user_path(f"/mailFolders/{self.folder}")).json()
        name = folder.get("displayName", self.folder)
        return f"{self.source}: signed in; {folder.get('totalItemCount', '?')} messages in {name}"

    def close(self) -> None:
        self.client.http.close()


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
