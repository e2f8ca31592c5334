"""Parse a backlog's next messages in a helper process while the agent commits the earlier ones.

Parsing is pure CPU work (half of a backlog's ingest, bench/ingest.py) and the
database work is serial: on a machine with a second core the two can overlap.
A few new messages are parsed in place: a round trip to the helper would only
add latency, and starting it takes a second. Order is kept: messages are still processed, acknowledged and
committed one by one, in the mailbox's order.

The helper is started on the first backlog and kept. If it dies (killed, out of
memory) or its answer cannot come back, the rest of that backlog is parsed in
place and a new helper is started for the next one: a broken helper never
loses a message.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import chain, islice
from typing import Protocol, TypeVar

from agent.domain import InboundMessage
from agent.mime.parse import parse_message

log = logging.getLogger(__name__)
DEPTH = 16  # messages parsed ahead: enough to keep the helper busy, little memory
BACKLOG = 32  # from this many waiting messages on, the helper is worth its start


class Raw(Protocol):
    """A message's bytes as a mailbox hands them over (its RawMail); what else it carries comes back untouched."""

    @property
    def data(self) -> bytes: ...


R = TypeVar("R", bound=Raw)


@dataclass(frozen=True)
class Parsed:
    """A message's parse, or the error that parsing raised (the item is then quarantined with it)."""

    message: InboundMessage | None = None
    error: Exception | None = None

    def get(self) -> InboundMessage:
        if self.error is not None:
            raise self.error
        assert self.message is not None
        return self.message


class ParseAhead:
    def __init__(self, agent_addresses: tuple[str, ...], max_bytes: int, processes: int) -> None:
        self.options = (agent_addresses, max_bytes)
        self.processes = processes
        self.pool: ProcessPoolExecutor | None = None
        self.broken = False  # the helper failed during this backlog: the rest is parsed in place

    def parse(self, data: bytes) -> Parsed:
        return _parse(data, *self.options)

    def iterate(self, raws: Iterable[R]) -> Iterator[tuple[R, Parsed]]:
        """The messages with their parses, in order; parsed ahead when they are a backlog."""
        it = iter(raws)
        head = list(islice(it, BACKLOG))
        if len(head) < BACKLOG or not self.processes:
            for raw in chain(head, it):  # never a list of the rest: a backlog can be gigabytes
                yield raw, self.parse(raw.data)
            return
        self.broken = False
        window: deque[tuple[R, Future[Parsed] | None]] = deque()
        for raw in chain(head, it):
            window.append((raw, self._submit(raw.data)))
            if len(window) >= DEPTH:
                yield self._take(window)
        while window:
            yield self._take(window)

    def close(self) -> None:
        if self.pool is not None:
            # Waits for the message in hand (milliseconds). Without waiting, a helper of a process that
            # is itself a multiprocessing child is never told to stop, and that process never exits.
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def _submit(self, data: bytes) -> Future[Parsed] | None:
        if self.broken:
            return None
        try:
            if self.pool is None:
                # spawn, not fork: the daemon has threads (dashboard, health), which fork does not copy safely
                context = multiprocessing.get_context("spawn")
                self.pool = ProcessPoolExecutor(self.processes, mp_context=context)
            return self.pool.submit(_parse, data, *self.options)
        except (BrokenProcessPool, RuntimeError) as exc:
            self._broken(exc)
            return None

    def _take(self, window: deque[tuple[R, Future[Parsed] | None]]) -> tuple[R, Parsed]:
        raw, future = window.popleft()
        if future is not None:
            try:
                return raw, future.result()
            except Exception as exc:  # the helper died, or its answer could not be pickled back
                self._broken(exc)
        return raw, self.parse(raw.data)

    def _broken(self, exc: Exception) -> None:
        if not self.broken:
            log.warning(
                "the parsing helper failed (%s); parsing in place, a new one for the next backlog", exc
            )
        self.broken = True
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = None


def _parse(data: bytes, agent_addresses: tuple[str, ...], max_bytes: int) -> Parsed:
    # In the helper (or in place): an exception is returned, not raised, so that it reaches the
    # item's transaction and quarantines that message alone.
    try:
        return Parsed(message=parse_message(data, agent_addresses=agent_addresses, max_bytes=max_bytes))
    except Exception as exc:
        return Parsed(error=exc)
