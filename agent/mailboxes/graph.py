"""Microsoft 365 mailbox through Microsoft Graph: a delta query on the folder, each message as MIME.

The cursor is the link to go on from: @odata.nextLink after each page whose messages
were all processed, @odata.deltaLink at the end of a round (agent.mailboxes.polling).
An expired link starts a new round from the beginning, which natural keys make safe. What the
folder held before the agent first watched it is history, told by its received time
(agent.mailboxes.polling).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from agent.config import Config
from agent.connect.graph_client import DeltaExpired, GraphClient, GraphError, GraphUnavailable
from agent.cursors import CursorStore
from agent.mailboxes.base import RawMail, arrival
from agent.mailboxes.polling import PollingMailbox

log = logging.getLogger(__name__)
# immutable ids survive a move between folders; 50 per page keeps a page's replay cheap
PREFER = {"Prefer": 'IdType="ImmutableId", odata.maxpagesize=50'}


def from_config(config: Config, cursors: CursorStore) -> GraphMailbox:
    return GraphMailbox(config, cursors)


class GraphMailbox(PollingMailbox):
    name = "graph"

    def __init__(self, config: Config, cursors: CursorStore, client: GraphClient | None = None) -> None:
        super().__init__(config.mailbox, cursors)
        self.client = client or GraphClient(config.graph, config.agent.address)
        self.folder = config.mailbox.folder if config.mailbox.folder != "INBOX" else "inbox"
        self.source = f"graph:{self.client.mailbox}/{self.folder}"

    def fetch(self) -> Iterator[RawMail]:
        self.check_backoff()
        self.history_bound()  # before anything is handed out: no transaction is open yet
        try:
            try:
                yield from self._round(self.cursors.get(self.source) or self._first())
            except DeltaExpired as exc:
                log.warning(
                    "%s: the delta link expired (%s); reading the folder from the start", self.source, exc
                )
                self.cursors.set(self.source, "")
                yield from self._round(self._first())
        except GraphError as exc:
            self.back_off(exc, exc.retry_after if isinstance(exc, GraphUnavailable) else 0.0)
        self.failures = 0

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
                self.hand_out(n == len(messages) - 1, next_link)
                received = arrival(_parse_time(item.get("receivedDateTime")))
                yield RawMail(
                    f"{self.source}:{item['id']}",
                    mime,
                    next_link,
                    received,
                    history=self.is_history(received),
                )
            if not messages and next_link:
                self.cursors.set(self.source, next_link)

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
