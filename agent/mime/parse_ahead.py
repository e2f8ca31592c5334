"""Parse a backlog's next messages in a helper process while the agent commits the earlier ones.

Parsing is pure CPU work (half of a backlog's ingest, bench/ingest.py) and the
database work is serial: on a machine with a second core the two can overlap.
A few new messages are parsed in place: a round trip to the helper would only
add latency, and starting it takes a second. The helper is handed CHUNK messages a task: a task
each cost both processes more than a third of the parse. Order is kept: messages are still
processed, acknowledged and committed in the mailbox's order.

The helper is started on the first backlog and kept. If it dies (killed, out of
memory) or its answer cannot come back, the rest of that backlog is parsed in
place and a new helper is started for the next one: a broken helper never
loses a message.

Memory is bounded by bytes as well as by messages: the messages read ahead
(to tell a backlog, and waiting for their parse) stop at WINDOW_BYTES, and a
message over IN_PLACE_BYTES is parsed in place, never copied to the helper
(pickled, sent, unpickled: three more copies of a 25 MB message). Parsing
itself is bounded by agent.mime.limits.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from agent.domain import InboundMessage
from agent.mime.parse import parse_message

log = logging.getLogger(__name__)
CHUNK = 8  # messages handed to the helper in one task: a task each cost both processes 0.3 ms a message
DEPTH = 3 * CHUNK  # messages parsed ahead: the helper has the next chunk while the agent takes one
BACKLOG = 32  # from this many waiting messages on, the helper is worth its start
WINDOW_BYTES = 16_000_000  # of messages read ahead, whatever their number; so many bytes are a backlog too
PARENT_CHECK = 0.5  # seconds between a helper's looks at whether the agent that started it lives
IN_PLACE_BYTES = 4_000_000  # a bigger message is parsed in place: its parse is bounded, its copies are not


class Raw(Protocol):
    """A message's bytes as a mailbox hands them over (its RawMail); what else it carries comes back untouched."""

    @property
    def data(self) -> bytes: ...

    @property
    def size(self) -> int:  # > 0: data is only the headers of a message this big (agent.mime.parse)
        ...

    @property
    def history(self) -> bool:  # held before the agent first watched the mailbox: no step reads its text
        ...


R = TypeVar("R", bound=Raw)


@dataclass(frozen=True)
class Parsed:
    """A message's parse, or the error that parsing raised (the item is then quarantined with it);
    and what `read` made of the message, when the helper parsed it (None: read where needed)."""

    message: InboundMessage | None = None
    error: Exception | None = None
    reading: Any = None

    def get(self) -> InboundMessage:
        if self.error is not None:
            raise self.error
        assert self.message is not None
        return self.message


class ParseAhead:
    def __init__(
        self,
        agent_addresses: tuple[str, ...],
        max_bytes: int,
        processes: int,
        read: Callable[[InboundMessage], Any] | None = None,
    ) -> None:
        """`read`: pure text work on a parsed message (agent.replies.reading), done by the helper beside
        the parse: a module's function, since the helper is handed it by name."""
        self.options = (agent_addresses, max_bytes)
        self.read = read
        self.processes = processes
        self.pool: ProcessPoolExecutor | None = None
        self.broken = False  # the helper failed during this backlog: the rest is parsed in place

    def parse(self, data: bytes, size: int = 0) -> Parsed:
        return _parse(data, size, *self.options)

    def iterate(self, raws: Iterable[R]) -> Iterator[tuple[R, Parsed]]:
        """The messages with their parses, in order; parsed ahead when they are a backlog."""
        it = iter(raws)
        seen = 0
        while True:
            head, full = _read_ahead(it)
            seen += len(head)
            if seen >= BACKLOG and self.processes:
                yield from self._ahead(head, it)
                return
            while head:  # popped as handed on: nothing holds a message the caller is done with
                raw = head.popleft()
                yield raw, self.parse(raw.data, raw.size)
            if not full:  # the mailbox has no more
                return
            # WINDOW_BYTES were read ahead before a backlog's number of messages (large ones): those
            # are parsed in place, and the messages counted on, for the rest may still be a backlog.

    def _ahead(self, head: deque[R], rest: Iterator[R]) -> Iterator[tuple[R, Parsed]]:
        self.broken = False
        window: deque[tuple[R, _Slot | None]] = deque()
        chunk: list[tuple[R, _Slot]] = []  # read, not yet handed to the helper
        for raw in _drain(head, rest):
            if self.broken or len(raw.data) > IN_PLACE_BYTES:  # None: parsed in place when its turn comes
                window.append((raw, None))
            else:
                slot = _Slot(len(chunk))
                chunk.append((raw, slot))
                window.append((raw, slot))
            # A chunk of large messages goes before it has CHUNK of them: a quarter of the window at most.
            if len(chunk) >= CHUNK or _size(r for r, _ in chunk) > WINDOW_BYTES // 4:
                self._submit(chunk)
            while len(window) >= DEPTH or _size(r for r, _ in window) > WINDOW_BYTES:
                if window[0][1] is not None and window[0][1].future is None:
                    self._submit(chunk)  # the next to be taken is still in the chunk: it goes now
                yield self._take(window)
        self._submit(chunk)
        while window:
            yield self._take(window)

    def close(self) -> None:
        if self.pool is not None:
            # Waits for the message in hand (milliseconds). Without waiting, a helper of a process that
            # is itself a multiprocessing child is never told to stop, and that process never exits.
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def _submit(self, chunk: list[tuple[R, _Slot]]) -> None:
        """Hand the chunk's messages to the helper in one task (the chunk is emptied). A chunk the helper
        cannot take keeps no task: each of its messages is parsed in place when its turn comes."""
        if not chunk:
            return
        todo = [(raw.data, raw.size, None if raw.history else self.read) for raw, _ in chunk]
        slots = [slot for _, slot in chunk]
        chunk.clear()
        if self.broken:
            return
        try:
            if self.pool is None:
                # spawn, not fork: the daemon has threads (dashboard, health), which fork does not copy safely
                context = multiprocessing.get_context("spawn")
                self.pool = ProcessPoolExecutor(
                    self.processes, mp_context=context, initializer=_exit_with, initargs=(os.getpid(),)
                )
            future = self.pool.submit(_parse_all, todo, *self.options)
        except (BrokenProcessPool, RuntimeError) as exc:
            self._broken(exc)
            return
        for slot in slots:
            slot.future = future

    def _take(self, window: deque[tuple[R, _Slot | None]]) -> tuple[R, Parsed]:
        raw, slot = window.popleft()
        if slot is not None and slot.future is not None:  # None: in place (its chunk got no task)
            try:
                return raw, slot.future.result()[slot.index]
            except Exception as exc:  # the helper died, or its answer could not be pickled back
                self._broken(exc)
        return raw, self.parse(raw.data, raw.size)

    def _broken(self, exc: Exception) -> None:
        if not self.broken:
            log.warning(
                "the parsing helper failed (%s); parsing in place, a new one for the next backlog", exc
            )
        self.broken = True
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = None


class _Slot:
    """Where a message read ahead stands: its chunk's task once handed to the helper, and its place there."""

    __slots__ = ("future", "index")

    def __init__(self, index: int) -> None:
        self.index = index
        self.future: Future[list[Parsed]] | None = None  # None: in the chunk being filled, or no task


def _read_ahead(it: Iterator[R]) -> tuple[deque[R], bool]:
    """Up to BACKLOG messages or WINDOW_BYTES of them; and whether it stopped there (True) or ran out."""
    head: deque[R] = deque()
    size = 0
    for raw in it:
        head.append(raw)
        size += len(raw.data)
        if len(head) >= BACKLOG or size >= WINDOW_BYTES:
            return head, True
    return head, False


def _size(raws: Iterable[Raw]) -> int:
    return sum(len(raw.data) for raw in raws)


def _drain(head: deque[R], rest: Iterator[R]) -> Iterator[R]:
    """The messages read ahead, each let go of as it is handed on, then the rest."""
    while head:
        yield head.popleft()
    yield from rest


def _exit_with(parent: int) -> None:
    """In the helper: end when the agent that started it has died (a SIGKILL, the OOM killer).

    A pool's worker holds both ends of its own task pipe, so it never sees the agent go, and it keeps
    multiprocessing's resource tracker alive with it: without this, both would run on for ever.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _parse_all(
    todo: list[tuple[bytes, int, Callable[[InboundMessage], Any] | None]],
    agent_addresses: tuple[str, ...],
    max_bytes: int,
) -> list[Parsed]:
    """In the helper: a chunk's messages, each parsed (and read) as `_parse` does it."""
    return [_parse(data, size, agent_addresses, max_bytes, read) for data, size, read in todo]


def _parse(
    data: bytes,
    size: int,
    agent_addresses: tuple[str, ...],
    max_bytes: int,
    read: Callable[[InboundMessage], Any] | None = None,
) -> Parsed:
    # In the helper (or in place): an exception is returned, not raised, so that it reaches the
    # item's transaction and quarantines that message alone.
    try:
        message = parse_message(data, agent_addresses=agent_addresses, max_bytes=max_bytes, size=size)
    except Exception as exc:
        return Parsed(error=exc)
    try:
        return Parsed(message=message, reading=read(message) if read else None)
    except Exception:  # read again where a step needs it: its error then quarantines the message there
        return Parsed(message=message)
