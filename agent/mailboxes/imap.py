"""IMAP (imapclient): fetch new mail by UID, wait with IDLE, survive servers that go away.

The cursor is (folder, UIDVALIDITY, last UID), kept in the database and moved
only after a message's transaction committed (`ack`). Rules of the trade that
shaped this module:

- `UID SEARCH UID n:*` always returns the highest UID, even when it is below
  n: results are filtered with `uid > last`.
- A UID means nothing without its UIDVALIDITY: when it changes the folder is
  read again from the start, and the store recognises what it has already
  handled by Message-ID and content hash.
- Mail is fetched with BODY.PEEK[] so reading never marks it \\Seen.
- Bodies are fetched in groups bounded by bytes, not by count: a batch's sizes come first
  (RFC822.SIZE), so that fifty 25 MB messages are never in memory at once, and a message over
  [mailbox] max_message_mb, of which only the headers are read, is never fetched whole.
- IDLE is re-issued well inside the 29 minutes servers allow, and a read
  timeout notices a dead connection: `idle_check` returns nothing on EOF, so
  an early empty answer means the socket is gone.
- What the folder held before the agent first watched it is history (RawMail.history), told
  by its UID: the first fetch with no cursor stores UIDVALIDITY and UIDNEXT as the bound, before
  it hands anything out. No clock is involved: mail delivered while the first backlog is read
  gets a higher UID and is acted on.
"""

from __future__ import annotations

import imaplib
import logging
import random
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from agent.config import Config, MailboxSection
from agent.connect.oauth2 import TokenRefused, access_token
from agent.connect.tls import client_context
from agent.cursors import CursorStore
from agent.mailboxes.base import MailboxUnavailable, RawMail, arrival

log = logging.getLogger(__name__)
NETWORK_ERRORS = (OSError, socket.timeout, ssl.SSLError, IMAPClientError, imaplib.IMAP4.error, EOFError)
CURSOR_EVERY = 50  # messages acknowledged between two writes of the cursor
# Bytes of messages asked for in one FETCH (a bigger message is fetched alone): what a fetch holds
# at once, with imaplib's copy of it. Fifty at a time was over a GB for a backlog of large mail.
FETCH_BYTES = 16_000_000
_LEADING = re.compile(rb"[\r\n]*")  # blank lines before the headers: agent.mime.parse does not count them


def from_config(config: Config, cursors: CursorStore) -> ImapMailbox:
    return ImapMailbox(config.mailbox, cursors)


class ImapMailbox:
    name = "imap"

    def __init__(self, settings: MailboxSection, cursors: CursorStore) -> None:
        self.s = settings
        self.cursors = cursors
        self.client: IMAPClient | None = None
        self.failures = 0
        self.retry_at = 0.0  # monotonic time before which no reconnect is tried
        self.source = f"imap:{settings.username}@{settings.host}/{settings.folder}"
        self.unsaved: tuple[str, int] = ("", 0)  # the last acknowledged cursor not yet stored, and how many
        self.fetching = False  # a fetch is under way: it stores the cursor when it ends
        self.waiting: int | None = None  # messages found above the cursor, not yet acknowledged
        self.history: str | None = None  # "UIDVALIDITY:UID": UIDs below it are history; "" none

    # --- connection ------------------------------------------------------------------------
    def connect(self) -> IMAPClient:
        if self.client is not None:
            return self.client
        wait = self.retry_at - time.monotonic()
        if wait > 0:
            raise MailboxUnavailable(
                f"{self.source}: reconnecting in {wait:.0f} s after {self.failures} failures"
            )
        try:
            client = self._open()
        except (*NETWORK_ERRORS, TokenRefused) as exc:
            self._failed(exc)
            raise MailboxUnavailable(f"{self.source}: {type(exc).__name__}: {exc}") from exc
        self.client = client
        self.failures = 0
        return client

    def _open(self) -> IMAPClient:
        client = open_imap(self.s, self.source)
        log.info("%s: connected (%s)", self.source, self.s.tls)
        return client

    def _failed(self, exc: BaseException) -> None:
        """Drop the connection and back off exponentially, with jitter so many agents don't reconnect in step."""
        self.failures += 1
        delay = min(self.s.reconnect_max_seconds, 2.0 ** min(self.failures, 10)) * random.uniform(0.5, 1.0)
        self.retry_at = time.monotonic() + delay
        log.warning("%s: %s: %s; retrying in %.1f s", self.source, type(exc).__name__, exc, delay)
        if self.client is not None:
            _quietly(self.client.shutdown)
        self.client = None

    def close(self) -> None:
        self.save_cursor()  # acknowledged after a fetch that ended early (a stop, a dropped connection)
        if self.client is not None:
            _quietly(self.client.logout)
            self.client = None

    def probe(self) -> str:
        client = self._open()
        try:
            info = client.select_folder(self.s.folder, readonly=True)
            return f"{self.source}: logged in; {int(info.get(b'EXISTS', 0))} messages in {self.s.folder}"
        finally:
            _quietly(client.logout)

    # --- reading ---------------------------------------------------------------------------
    def fetch(self) -> Iterator[RawMail]:
        client = self.connect()
        # What was acknowledged after the last fetch ended early (a stop, a lost connection) and not
        # stored since: stored now, before anything new is read. Not when a fetch ends: the caller
        # may still hold a transaction open then (a group, agent.daemon.group), and the cursor is
        # written in a transaction of its own.
        self.save_cursor()
        self.fetching = True
        try:
            yield from self._fetch(client)
        except NETWORK_ERRORS as exc:
            self._failed(exc)
            raise MailboxUnavailable(f"{self.source}: lost the connection: {exc}") from exc
        finally:  # at the end of the backlog, on a lost connection, or when the agent stops mid-way
            self.fetching = False

    def _fetch(self, client: IMAPClient) -> Iterator[RawMail]:
        folder = self.s.folder
        info = client.select_folder(folder)
        uidvalidity = int(info[b"UIDVALIDITY"])
        stored = self.cursors.get(self.source)
        last = self._last_uid(stored, uidvalidity)
        history = self._history_below(client, info, uidvalidity, stored)
        # `UID n:*` returns the highest UID even when it is below n: filter.
        uids = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
        self.waiting = len(uids)  # the backlog `status` shows: counted down as each is acknowledged
        max_bytes = int(self.s.max_message_mb * 1e6)  # as agent.daemon.runner gives it to the parser
        for start in range(0, len(uids), self.s.batch_size):
            batch = uids[start : start + self.s.batch_size]
            # A few bytes a message: what the bodies' FETCHes are then planned by.
            meta: dict[int, dict[bytes, Any]] = client.fetch(batch, ["RFC822.SIZE", "INTERNALDATE"])
            # absent: expunged since the SEARCH; a size the server did not give: fetched alone, whole
            sizes = {uid: meta[uid].get(b"RFC822.SIZE") for uid in batch if uid in meta}
            for group in groups(list(sizes), sizes, FETCH_BYTES, max_bytes):
                for uid, data, whole in self._bodies(client, group, sizes, max_bytes):
                    # the key names the account too: another mailbox may reuse the same UIDVALIDITY and UIDs
                    yield RawMail(
                        f"{self.source}:{uidvalidity}:{uid}",
                        data,
                        f"{uidvalidity}:{uid}",
                        arrival(meta[uid].get(b"INTERNALDATE")),
                        size=whole,
                        history=uid < history,
                    )
                    del data  # not held by this frame while the next group is fetched

    def _bodies(
        self, client: IMAPClient, group: list[int], sizes: dict[int, int | None], max_bytes: int
    ) -> Iterator[tuple[int, bytes, int]]:
        """(UID, bytes, size) of each message of `group` still there, in order, each let go of as it is
        handed on; size > 0 when the bytes are only the headers of a message that big."""
        size = sizes[group[0]]
        if len(group) == 1 and size is not None and size > max_bytes:
            uid = group[0]
            head = self._header(client, uid, max_bytes)
            if head is None:
                return  # expunged since
            blank = _LEADING.match(head)
            if size - (blank.end() if blank else 0) > max_bytes:
                yield uid, head, size
                return
            # Over the limit only by the blank lines before its headers, which the parser does not
            # count: it reads this message's body, so it is fetched whole as any other.
        fetched: dict[int, dict[bytes, Any]] = client.fetch(group, ["BODY.PEEK[]"])
        for uid in group:
            data = fetched.pop(uid, {}).get(b"BODY[]")
            if data is not None:  # None: expunged since
                yield uid, bytes(data), 0

    def _header(self, client: IMAPClient, uid: int, max_bytes: int) -> bytes | None:
        # Cut at max_bytes: a message of nothing but headers costs no more than any other. A header
        # block that long is left out by the parser long before that (limits.header_block).
        fetched = client.fetch([uid], [f"BODY.PEEK[HEADER]<0.{max_bytes}>"])
        head = fetched.get(uid, {}).get(b"BODY[HEADER]<0>")
        return None if head is None else bytes(head)

    def _history_below(
        self, client: IMAPClient, info: dict[bytes, Any], uidvalidity: int, stored: str | None
    ) -> int:
        """The UID below which the folder's mail is history (0: none is).

        The bound is stored by the first fetch of a folder with no cursor, before anything is handed
        out, so that a restart in the middle of the first backlog keeps it. An install that read the
        folder before the bound existed has a cursor and none; under another UIDVALIDITY it does not
        apply (the folder is read again; what was handled is known by its keys).
        """
        if self.s.history == "act":
            return 0
        if self.history is None:
            key = f"{self.source}#history"
            self.history = self.cursors.get(key) or ""
            if not self.history and stored is None:
                uidnext = info.get(b"UIDNEXT")
                if uidnext is None:  # a server that did not say: one above the highest UID there
                    uidnext = max(client.search(["ALL"]), default=0) + 1
                self.history = f"{uidvalidity}:{int(uidnext)}"
                self.cursors.set(key, self.history)
                log.info("%s: first watch; UIDs below %s are recorded, not acted on", self.source, uidnext)
        validity, _, below = self.history.partition(":")
        return int(below) if validity and int(validity) == uidvalidity else 0

    def _last_uid(self, stored: str | None, uidvalidity: int) -> int:
        if not stored:
            return 0
        old_validity, _, last = stored.partition(":")
        if int(old_validity) != uidvalidity:
            log.warning(
                "%s: UIDVALIDITY changed from %s to %s: reading the folder again; messages already "
                "handled are recognised by Message-ID and content",
                self.source,
                old_validity,
                uidvalidity,
            )
            return 0
        return int(last)

    def ack(self, mail: RawMail, outcome: str) -> None:
        # The cursor is stored every CURSOR_EVERY messages (and when a fetch ends), not after each:
        # its own transaction per message was an eighth of a backlog's ingest. After a crash the
        # messages since are fetched again and known by their keys ("seen"): none is lost or doubled.
        # Messages parsed ahead, or run in a group, are acknowledged after the fetch has ended: their
        # cursor is stored with the last of them (or when the mailbox closes), not once each.
        self.unsaved = (mail.cursor, self.unsaved[1] + 1)
        self.waiting = max(0, (self.waiting or 0) - 1)
        if self.unsaved[1] >= CURSOR_EVERY or (not self.fetching and not self.waiting):
            self.save_cursor()
        target = {
            "processed": self.s.processed_folder,
            "unmatched": self.s.unmatched_folder,
            "quarantined": self.s.quarantine_folder,
        }.get(outcome, "")
        if target and self.client is not None:
            uid = int(mail.cursor.rsplit(":", 1)[1])
            try:
                self._move(self.client, uid, target)
            except NETWORK_ERRORS as exc:
                # the cursor has moved: the message is handled; only its filing failed
                log.warning("%s: could not move UID %d to %s: %s", self.source, uid, target, exc)

    def save_cursor(self) -> None:
        cursor, count = self.unsaved
        if count:
            self.cursors.set(self.source, cursor)
            self.unsaved = ("", 0)

    def _move(self, client: IMAPClient, uid: int, folder: str) -> None:
        if not client.folder_exists(folder):
            client.create_folder(folder)
        if client.has_capability("MOVE"):
            client.move([uid], folder)
        else:
            client.copy([uid], folder)
            client.delete_messages([uid])
            client.uid_expunge([uid]) if client.has_capability("UIDPLUS") else client.expunge()

    # --- waiting -----------------------------------------------------------------------------
    def wait(self, timeout: float, should_stop: Callable[[], bool]) -> None:
        """IDLE until the server says something, `timeout` passes, or we are asked to stop."""
        try:
            client = self.connect()
        except MailboxUnavailable:
            _sleep(min(timeout, max(0.0, self.retry_at - time.monotonic())), should_stop)
            return
        try:
            if not client.has_capability("IDLE"):
                _sleep(min(timeout, self.s.poll_seconds), should_stop)
                client.noop()  # a poll is also a liveness check
                return
            self._idle(client, timeout, should_stop)
        except NETWORK_ERRORS as exc:
            self._failed(exc)

    def _idle(self, client: IMAPClient, timeout: float, should_stop: Callable[[], bool]) -> None:
        client.select_folder(self.s.folder)
        client.idle()
        deadline = time.monotonic() + min(timeout, self.s.idle_renew_seconds)
        try:
            while not should_stop():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                slice_ = min(1.0, left)  # short slices: a stop request is noticed within a second
                started = time.monotonic()
                responses = client.idle_check(timeout=slice_)
                if any(_is_bye(r) for r in responses):
                    raise ConnectionResetError("the server said BYE")
                if not responses and time.monotonic() - started < slice_ * 0.5:
                    # idle_check swallows EOF and returns []: an early empty answer is a dead socket
                    raise ConnectionResetError("the connection closed during IDLE")
                if any(_is_news(r) for r in responses):
                    break
        finally:
            # raises on a dead socket, which `wait` turns into a reconnect
            client.idle_done()


def open_imap(s: MailboxSection, source: str) -> IMAPClient:
    """A logged-in connection: TLS as configured (verified), then password or XOAUTH2 login."""
    implicit = s.tls == "ssl"
    client = IMAPClient(
        s.host,
        port=s.port or (993 if implicit else 143),
        ssl=implicit,
        ssl_context=client_context(s, source) if implicit else None,
        timeout=s.timeout_seconds,
    )
    # imapclient sets imaplib's debug level to 5, at which imaplib formats every response with %r
    # before its logger decides to drop it: a fetched 25 MB message was formatted whole, twice more
    # in memory (57 MB for 25). At 4 it still logs every line and each literal's size, not its bytes.
    client._imap.debug = 4
    try:
        if s.tls == "starttls":
            client.starttls(client_context(s, source))
        if s.auth == "xoauth2":
            client.oauth2_login(s.username, access_token(s))
        else:
            client.login(s.username, s.password() or "")
    except BaseException:
        _quietly(client.logout)
        raise
    return client


def append_sent(s: MailboxSection, folder: str, data: bytes) -> None:
    """Put a copy of a sent email in the mailbox's Sent folder (created if missing), marked read."""
    client = open_imap(s, f"imap:{s.username}@{s.host}/{folder}")
    try:
        if not client.folder_exists(folder):
            client.create_folder(folder)
        client.append(folder, data, flags=[b"\\Seen"])
    finally:
        _quietly(client.logout)


def groups(uids: list[int], sizes: dict[int, int | None], budget: int, max_bytes: int) -> Iterator[list[int]]:
    """The UIDs in order, cut into runs fetched together: at most `budget` bytes a run, or one message.

    A message over `max_bytes` (only its headers are fetched) or of unknown size is a run of its own.
    """
    run: list[int] = []
    total = 0
    for uid in uids:
        size = sizes[uid]
        alone = size is None or size > max_bytes
        if run and (alone or total + (size or 0) > budget):
            yield run
            run, total = [], 0
        run.append(uid)
        total += size or 0
        if alone:
            yield run
            run, total = [], 0
    if run:
        yield run


def _is_bye(response: Any) -> bool:
    return isinstance(response, tuple) and len(response) > 0 and response[0] == b"BYE"


def _is_news(response: Any) -> bool:
    return isinstance(response, tuple) and len(response) > 1 and response[1] in (b"EXISTS", b"RECENT")


def _sleep(seconds: float, should_stop: Callable[[], bool]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not should_stop():
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def _quietly(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception:  # closing a broken connection may fail in many ways; it is being dropped anyway
        log.debug("ignored error while closing", exc_info=True)
