"""`status` tells the truth during an outage: an error stays until the same work succeeds again."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

from agent.health import status_data
from agent.outbox.transports.base import SendResult, TransportError
from tests.conftest import Harness


class Flaky:
    """A transport that refuses while `down`, as an SMTP server in an outage does (a 4xx)."""

    name = "smtp"

    def __init__(self) -> None:
        self.down = True

    def send(self, message: EmailMessage, recipients: list[str], email_id: int) -> SendResult:
        if self.down:
            raise TransportError("451 4.3.0 try again later", permanent=False)
        return SendResult(accepted=tuple(recipients))

    def probe(self) -> str:
        return "flaky"


def test_an_outbox_error_stays_in_status_until_a_send_succeeds(harness: Harness) -> None:
    transport = Flaky()
    harness.agent.outbox.transport = transport
    harness.add_deal()  # its intro is due at once
    harness.run()
    outbox = status_data(harness.config, harness.agent.sessions, harness.clock.now())["outbox"]
    assert "451" in outbox["last_error"] and "last_ok" not in outbox
    harness.clock.advance(timedelta(seconds=5))
    harness.run()  # the retry is not due yet: nothing is sent, nothing fails
    outbox = status_data(harness.config, harness.agent.sessions, harness.clock.now())["outbox"]
    assert "451" in outbox["last_error"]  # before: "" after the first empty pass
    assert outbox["oldest_due_seconds"] == 0  # not overdue: waiting for its retry
    harness.clock.advance(timedelta(hours=2))
    outbox = status_data(harness.config, harness.agent.sessions, harness.clock.now())["outbox"]
    assert outbox["oldest_due_seconds"] > 3600  # overdue while the pass has not run
    transport.down = False
    harness.run()
    outbox = status_data(harness.config, harness.agent.sessions, harness.clock.now())["outbox"]
    assert outbox["last_error"] == "" and outbox["last_ok"] and outbox["oldest_due_seconds"] == 0
    assert [e["status"] for e in harness.show(1)["emails"]] == ["sent"]
