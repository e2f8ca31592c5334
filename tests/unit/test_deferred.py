"""A backend that cannot be built at start-up is tried again later, with back-off, and says why meanwhile."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from agent.deferred import BACKOFF_MAX, BackendUnavailable, Later, LaterMailbox, LaterTransport
from agent.errors import ConfigError
from agent.mailboxes.base import MailboxUnavailable
from agent.outbox.transports.base import SendResult, TransportError


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Builder:
    """Fails while `down`; counts its tries."""

    def __init__(self) -> None:
        self.down = True
        self.tries = 0

    def __call__(self) -> str:
        self.tries += 1
        if self.down:
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        return "built"


def test_tries_again_after_a_doubling_wait_and_is_built_once_the_server_is_back() -> None:
    clock, build = Clock(), Builder()
    later = Later("calendar graph", build, ConnectionRefusedError("refused at start"), clock)
    with pytest.raises(BackendUnavailable, match=r"refused at start; trying again in 2 s"):
        later.get()
    assert build.tries == 0  # within the wait: not tried
    clock.t += 2
    with pytest.raises(
        BackendUnavailable, match=r"ConnectionRefusedError: .*Connection refused; trying again in 4"
    ):
        later.get()
    assert build.tries == 1
    for _ in range(10):  # the wait doubles up to its ceiling
        clock.t += BACKOFF_MAX
        with pytest.raises(BackendUnavailable):
            later.get()
    assert later.retry_at - clock.t == BACKOFF_MAX
    build.down = False
    clock.t += BACKOFF_MAX
    assert later.get() == "built" and later.get() == "built" and build.tries == 12


def test_a_config_error_is_not_retried_away() -> None:
    def build() -> str:
        raise ConfigError("[graph] tenant_id: missing")

    clock = Clock()
    later = Later("calendar graph", build, OSError("away"), clock)
    clock.t += 2
    with pytest.raises(ConfigError):
        later.get()


def test_the_stand_ins_speak_their_kinds_errors() -> None:
    clock = Clock()
    mailbox = LaterMailbox(Later("mailbox graph", Builder(), OSError("away"), clock), "graph", "graph:x")  # type: ignore[arg-type]
    with pytest.raises(MailboxUnavailable, match="mailbox graph could not be set up: OSError: away"):
        mailbox.fetch()
    mailbox.wait(0.01, lambda: False)  # nothing to wait on: returns after the timeout
    mailbox.close()

    class Sent:
        name = "graph"

        def send(self, message: EmailMessage, recipients: list[str], outbox_id: int) -> SendResult:
            return SendResult(accepted=tuple(recipients))

        def probe(self) -> str:
            return "ok"

    tries = [OSError("away")]

    def build() -> Sent:
        if tries:
            raise tries.pop()
        return Sent()

    transport = LaterTransport(Later("transport graph", build, OSError("away at start"), clock), "graph")
    with pytest.raises(TransportError) as refused:
        transport.send(EmailMessage(), ["a@example.com"], 1)
    assert not refused.value.permanent and refused.value.retry_after == 2.0  # the outbox retries it
    clock.t += 2
    with pytest.raises(TransportError):
        transport.send(EmailMessage(), ["a@example.com"], 1)
    clock.t += 4
    assert transport.send(EmailMessage(), ["a@example.com"], 1).accepted == ("a@example.com",)
