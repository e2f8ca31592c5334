"""agent.backends: one table read by the loader and by config validation, and the Sent-folder copy."""

from __future__ import annotations

from email.message import EmailMessage
from importlib import import_module
from pathlib import Path

import pytest

from agent import backend_table
from agent.backends import load, load_calendar, load_mailbox, load_transport
from agent.config import load_config
from agent.cursors import MemoryCursors
from agent.errors import ConfigError
from agent.mailboxes.maildir import MaildirMailbox
from agent.outbox.transports.base import SendResult
from agent.outbox.transports.file import FileTransport
from agent.outbox.transports.sent_copy import SentCopy


@pytest.mark.parametrize(
    ("kind", "name", "module"),
    [(k, n, m) for k, names in backend_table.BACKENDS.items() for n, m in names.items() if m is not None],
)
def test_every_module_in_the_table_has_its_factory(kind: str, name: str, module: str) -> None:
    assert callable(getattr(import_module(module), "from_config", None)), f"{kind} {name}: {module}"


def test_an_unknown_name_names_the_kind_the_name_and_the_choices() -> None:
    with pytest.raises(ConfigError) as caught:
        load("mailbox", "pop3")
    assert str(caught.value) == (
        "[mailbox] backend = 'pop3': not available; expected one of maildir, imap, exchange, graph"
    )


def test_the_embedded_defaults_load_their_backends(tmp_path: Path) -> None:
    config = load_config(None, state_override=tmp_path / "state")
    assert isinstance(load_mailbox(config, MemoryCursors()), MaildirMailbox)
    assert load_calendar(config, MemoryCursors()) is not None
    assert isinstance(load_transport(config), FileTransport)  # no sent_folder: not wrapped


def test_invites_means_no_calendar_source(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text('[calendar]\nbackend = "invites"\n', encoding="utf-8")
    assert load_calendar(load_config(path), MemoryCursors()) is None


def test_a_sent_folder_wraps_the_transport_without_connecting(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(
        '[mailbox]\nbackend = "imap"\nhost = "imap.invalid"\n'
        '[transport]\nbackend = "smtp"\nhost = "smtp.invalid"\nsent_folder = "Sent"\n',
        encoding="utf-8",
    )
    transport = load_transport(load_config(path))
    assert isinstance(transport, SentCopy)
    assert transport.name == "smtp"  # the delivery is told as the inner transport's


def test_config_validation_reads_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "agent.toml"
    path.write_text('[mailbox]\nbackend = "pop3"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"'maildir', 'imap', 'exchange' or 'graph'"):
        load_config(path)
    monkeypatch.setitem(backend_table.BACKENDS["mailbox"], "pop3", "agent.mailboxes.pop3")
    assert load_config(path).mailbox.backend == "pop3"  # one line in the table, and config knows it


class Inner:
    name = "inner"

    def __init__(self, result: SendResult) -> None:
        self.result = result

    def send(self, message: EmailMessage, recipients: list[str], outbox_id: int) -> SendResult:
        return self.result

    def probe(self) -> str:
        return "inner: ok"


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "Hello"
    message.set_content("Hello")
    return message


def test_an_accepted_email_is_copied() -> None:
    copies: list[bytes] = []
    sent = SentCopy(Inner(SendResult(("b@example.com",))), copies.append, "Sent").send(_message(), [], 1)
    assert sent == SendResult(("b@example.com",))
    assert len(copies) == 1 and b"Subject: Hello" in copies[0]


def test_a_failed_copy_is_reported_and_the_email_still_counts_as_sent() -> None:
    def refuse(data: bytes) -> None:
        raise OSError("connection refused")

    sent = SentCopy(Inner(SendResult(("b@example.com",))), refuse, "Sent").send(_message(), [], 1)
    assert sent.accepted == ("b@example.com",)
    assert sent.copy_error == "no copy in Sent: connection refused"


def test_an_email_nobody_accepted_is_not_copied() -> None:
    copies: list[bytes] = []
    refused = SendResult((), refused={"b@example.com": "550 no such user"})
    sent = SentCopy(Inner(refused), copies.append, "Sent").send(_message(), ["b@example.com"], 1)
    assert sent == refused and copies == []
