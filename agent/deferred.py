"""The daemon's backends, built again later when a server cannot be reached at start-up.

Some backends talk to a server while they are built: the Graph ones ask the Microsoft sign-in
endpoint for its configuration, Exchange's may look the server up. A network outage at that
moment must not stop the daemon (systemd would restart it into the same outage, and the parts
that work, mail and sending among them, would stop too). So the daemon builds its backends
through these loaders, with the same signatures as agent.backends': a backend that builds is
returned as it is; one that fails is replaced by a stand-in that answers each use with the
kind's own "unavailable" error, which the runner already records as that part's health (so
/readyz names it, with the error), and tries building again at its next use, 2, 4 ... 300 s apart.

A config error is not a server being away: it still stops the start-up, as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from functools import partial
from typing import Generic, TypeVar

from agent import backends
from agent.calendars.base import CalendarObject, CalendarSource
from agent.clock import Clock
from agent.config import Config
from agent.cursors import CursorStore
from agent.errors import ConfigError
from agent.mailboxes.base import Mailbox, MailboxUnavailable, RawMail
from agent.outbox.transports.base import SendResult, Transport, TransportError

log = logging.getLogger(__name__)
BACKOFF_MAX = 300.0  # seconds between two tries at most, as for a part that keeps crashing

T = TypeVar("T")


class BackendUnavailable(Exception):
    """A backend not set up yet; a mailbox's stand-in says it as MailboxUnavailable, a transport's as TransportError."""


class Later(Generic[T]):
    """A backend to build on its next use, no sooner than its back-off allows."""

    def __init__(
        self, what: str, build: Callable[[], T], error: Exception, monotonic: Callable[[], float]
    ) -> None:
        self.what = what  # "calendar graph", for the messages
        self.build = build
        self.monotonic = monotonic
        self.built: T | None = None
        self.failures = 0
        self.retry_at = 0.0
        self.error = ""
        self._failed(error)

    def get(self) -> T:
        """The backend, built now if it is time to try again; BackendUnavailable, with the last error, if not."""
        if self.built is not None:
            return self.built
        wait = self.retry_at - self.monotonic()
        if wait > 0:
            raise BackendUnavailable(
                f"{self.what} could not be set up: {self.error}; trying again in {wait:.0f} s"
            )
        try:
            self.built = self.build()
        except ConfigError:
            raise
        except Exception as exc:
            self._failed(exc)
            raise BackendUnavailable(
                f"{self.what} could not be set up: {self.error}; "
                f"trying again in {self.retry_at - self.monotonic():.0f} s"
            ) from exc
        log.info("%s set up after %d failed tries", self.what, self.failures)
        return self.built

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        self.error = f"{type(exc).__name__}: {exc}"
        delay = min(BACKOFF_MAX, 2.0**self.failures)
        self.retry_at = self.monotonic() + delay
        log.warning("%s could not be set up (%s); trying again in %.0f s", self.what, self.error, delay)


class LaterMailbox:
    def __init__(self, later: Later[Mailbox], name: str, source: str) -> None:
        self.later = later
        self.name = name
        # What a lease is taken on until it is built (the backend's own name is known only then).
        self.source = source

    def _get(self) -> Mailbox:
        try:
            mailbox = self.later.get()
        except BackendUnavailable as exc:
            raise MailboxUnavailable(str(exc)) from exc
        self.name, self.source = mailbox.name, str(getattr(mailbox, "source", self.source))
        return mailbox

    def fetch(self) -> Iterator[RawMail]:
        return self._get().fetch()  # not a generator: the error is raised at the call, as a pass expects

    def ack(self, mail: RawMail, outcome: str) -> None:
        self._get().ack(mail, outcome)  # only after fetch, so always built

    def wait(self, timeout: float, should_stop: Callable[[], bool]) -> None:
        if self.later.built is not None:
            self.later.built.wait(timeout, should_stop)
            return
        deadline = time.monotonic() + timeout  # nothing to wait on: the next pass tries building it
        while not should_stop() and time.monotonic() < deadline:
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

    def close(self) -> None:
        if self.later.built is not None:
            self.later.built.close()

    def probe(self) -> str:
        return self._get().probe()


class LaterCalendar:
    def __init__(self, later: Later[CalendarSource], name: str, source: str) -> None:
        self.later = later
        self.name = name
        self.source = source

    def poll(self) -> Iterator[CalendarObject]:
        calendar = self.later.get()  # BackendUnavailable: the runner records any calendar error as its health
        self.name, self.source = calendar.name, str(getattr(calendar, "source", self.source))
        return calendar.poll()

    def probe(self) -> str:
        return self.later.get().probe()


class LaterTransport:
    def __init__(self, later: Later[Transport], name: str) -> None:
        self.later = later
        self.name = name

    def _get(self) -> Transport:
        try:
            transport = self.later.get()
        except BackendUnavailable as exc:
            # not permanent: the outbox postpones the email with its own back-off, as for an SMTP 4xx
            wait = max(0.0, self.later.retry_at - self.later.monotonic())
            raise TransportError(str(exc), permanent=False, retry_after=wait) from exc
        self.name = transport.name
        return transport

    def send(self, message: EmailMessage, recipients: list[str], outbox_id: int) -> SendResult:
        return self._get().send(message, recipients, outbox_id)

    def probe(self) -> str:
        return self._get().probe()


def load_mailbox(
    config: Config, cursors: CursorStore, monotonic: Callable[[], float] = time.monotonic
) -> Mailbox:
    build = partial(backends.load_mailbox, config, cursors)
    try:
        return build()
    except ConfigError:
        raise
    except Exception as exc:
        backend = config.mailbox.backend
        later = Later[Mailbox](f"mailbox {backend} of {config.agent.address}", build, exc, monotonic)
        return LaterMailbox(later, backend, f"{backend}:{config.agent.address}")


def load_calendar(
    config: Config,
    cursors: CursorStore,
    clock: Clock | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> CalendarSource | None:
    try:
        return backends.load_calendar(config, cursors, clock)
    except ConfigError:
        raise
    except Exception as exc:
        backend = config.calendar.backend
        build = partial(_calendar, config, cursors, clock)
        later = Later[CalendarSource](f"calendar {backend} of {config.agent.address}", build, exc, monotonic)
        return LaterCalendar(later, backend, f"{backend}:{config.agent.address}")


def load_transport(config: Config, monotonic: Callable[[], float] = time.monotonic) -> Transport:
    build = partial(backends.load_transport, config)
    try:
        return build()
    except ConfigError:
        raise
    except Exception as exc:
        backend = config.transport.backend
        return LaterTransport(Later[Transport](f"transport {backend}", build, exc, monotonic), backend)


def _calendar(config: Config, cursors: CursorStore, clock: Clock | None) -> CalendarSource:
    calendar = backends.load_calendar(config, cursors, clock)
    assert calendar is not None  # a choice without a calendar ("invites") builds nothing, so never fails
    return calendar
