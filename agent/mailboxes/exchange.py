"""Exchange Server on-premises through EWS: SyncFolderItems on the inbox, each message's MIME.

The cursor is the SyncState after a page (at most 50 changes) whose messages were all
processed; a crash replays at most one page, which natural keys make harmless. A SyncState
the server refuses (ErrorInvalidSyncStateData) starts a full sync from nothing, and the
same keys keep it from processing anything twice. ErrorServerBusy is waited out for as long
as the server asks, while timers, the calendar and sending go on. What the folder held before
the agent first watched it is history, told by its received time (agent.mailboxes.polling).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from agent.config import Config
from agent.connect.exchange_account import connect, transient, utc
from agent.cursors import CursorStore
from agent.mailboxes.base import MailboxUnavailable, RawMail
from agent.mailboxes.polling import PollingMailbox

log = logging.getLogger(__name__)
PAGE = 50


def from_config(config: Config, cursors: CursorStore) -> ExchangeMailbox:
    return ExchangeMailbox(config, cursors)


class ExchangeMailbox(PollingMailbox):
    name = "exchange"

    def __init__(self, config: Config, cursors: CursorStore, account: Any = None) -> None:
        super().__init__(config.mailbox, cursors)
        self.config = config
        self.account = account
        mailbox = config.exchange.mailbox or config.agent.address
        self.source = f"ews:{mailbox}/{config.mailbox.folder}"
        self._folder: Any = None

    def fetch(self) -> Iterator[RawMail]:
        from exchangelib.errors import ErrorInvalidSyncStateData

        self.check_backoff()
        self.history_bound()  # before anything is handed out: no transaction is open yet
        try:
            try:
                yield from self._sync(self.cursors.get(self.source) or None)
            except ErrorInvalidSyncStateData as exc:
                log.warning(
                    "%s: the server refused the sync state (%s); syncing from the start", self.source, exc
                )
                self.cursors.set(self.source, "")
                yield from self._sync(None)
        except MailboxUnavailable:
            raise
        except Exception as exc:  # exchangelib's errors, requests' and the network's
            retry, asked = transient(exc)
            if not retry:
                self.account, self._folder = None, None  # sign in again next time (a password may change)
            self.back_off(exc, asked)
        self.failures = 0

    def _inbox(self) -> Any:
        if self.account is None:
            self.account = connect(self.config)
        if self._folder is None:
            folder = self.settings.folder
            self._folder = self.account.inbox if folder.upper() == "INBOX" else self.account.root / folder
        return self._folder

    def _sync(self, state: str | None) -> Iterator[RawMail]:
        from exchangelib import Message
        from exchangelib.fields import FieldPath
        from exchangelib.services import SyncFolderItems

        folder = self._inbox()
        received = {FieldPath(field=Message.get_field_by_fieldname("datetime_received"))}
        service = SyncFolderItems(account=self.account)
        while True:
            changes = list(
                service.call(
                    folder=folder,
                    shape="IdOnly",
                    additional_fields=received,
                    sync_state=state,
                    ignore=None,
                    max_changes_returned=PAGE,
                    sync_scope=None,
                )
            )
            ids = [(item.id, item.changekey) for kind, item in changes if kind == "create"]
            fetched = (
                list(self.account.fetch(ids=ids, only_fields=["mime_content", "datetime_received"]))
                if ids
                else []
            )
            # a message deleted between the sync and the fetch comes back as an error: nothing to read
            messages = [m for m in fetched if not isinstance(m, Exception) and m.mime_content]
            for n, message in enumerate(messages):
                self.hand_out(n == len(messages) - 1, service.sync_state)
                arrived = utc(message.datetime_received) if message.datetime_received else None
                yield RawMail(
                    f"{self.source}:{message.id}",
                    bytes(message.mime_content),
                    service.sync_state,
                    arrived,
                    history=self.is_history(arrived),
                )
            if not messages:
                self.cursors.set(self.source, service.sync_state)
            if service.includes_last_item_in_range or service.sync_state == state:
                return
            state = service.sync_state

    def probe(self) -> str:
        folder = self._inbox()
        return f"{self.source}: signed in; {folder.total_count} messages in {folder.name}"

    def close(self) -> None:
        if self.account is not None:
            self.account.protocol.close()
