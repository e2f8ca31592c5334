"""Fixtures for integration tests: real servers, started once per test run on loopback ports."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.integration.browser import signed_in
from tests.servers import Dovecot, Postgres, Radicale, SmtpRelay, TokenIntrospection

PASSWORD = "s3cret"
PEOPLE = (
    "jane",
    "bob",
    "tim",
    "sam",
    "alex",
    "olivia",
)  # <name>@<any domain> delivers to Dovecot user <name>
SMTP_LOGIN = ("agent", "smtp-s3cret")
_users = itertools.count(1)


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import trustme

    folder = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    paths = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    server.private_key_pem.write_to_path(str(paths["key"]))
    for p in paths.values():
        p.chmod(0o644)
    return paths


@pytest.fixture(scope="session")
def oauth() -> Iterator[TokenIntrospection]:
    endpoint = TokenIntrospection()
    yield endpoint
    endpoint.close()


@pytest.fixture(scope="session")
def dovecot(certs: dict[str, Path], oauth: TokenIntrospection) -> Iterator[Dovecot]:
    server = Dovecot(certs["cert"], certs["key"], introspection_url=oauth.url)
    for i in range(1, 100):  # Dovecot reads its passwd-file at start: one fresh mailbox per test
        server.add_user(f"agent{i}", PASSWORD)
    for person in PEOPLE:  # recipients of the agent's email, to read it back over IMAP
        server.add_user(person, PASSWORD)
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def user(dovecot: Dovecot) -> str:
    return next_user()


def next_user() -> str:
    """A Dovecot user no other test has used: an empty mailbox."""
    return f"agent{next(_users)}"


def imap_config(
    tmp_path: Path,
    dovecot: Dovecot,
    user: str,
    extra: str = "",
    *,
    tls: str = "none",
    port: int | None = None,
) -> Path:
    (tmp_path / "imap-password").write_text(PASSWORD + "\n")
    (tmp_path / "imap-password").chmod(0o600)
    return write_config(
        tmp_path,
        f"""
[mailbox]
backend = "imap"
host = "127.0.0.1"
port = {port or dovecot.imap_port}
tls = "{tls}"
username = "{user}"
password_file = "{tmp_path / "imap-password"}"
timeout_seconds = 10
{extra}
""",
    )


@pytest.fixture(scope="session")
def smtp(dovecot: Dovecot, certs: dict[str, Path]) -> Iterator[SmtpRelay]:
    relay = SmtpRelay(dovecot, certs["cert"], certs["key"], SMTP_LOGIN)
    relay.start()
    yield relay
    relay.stop()


@pytest.fixture(scope="session")
def smtps(dovecot: Dovecot, certs: dict[str, Path]) -> Iterator[SmtpRelay]:
    relay = SmtpRelay(dovecot, certs["cert"], certs["key"], SMTP_LOGIN, implicit=True)
    relay.start()
    yield relay
    relay.stop()


def smtp_config(
    tmp_path: Path, smtp: SmtpRelay, certs: dict[str, Path], extra: str = "", *, ca: bool = True
) -> Path:
    (tmp_path / "smtp-password").write_text(SMTP_LOGIN[1] + "\n")
    (tmp_path / "smtp-password").chmod(0o600)
    ca_line = f'tls_ca_file = "{certs["ca"]}"' if ca else ""
    return write_config(
        tmp_path,
        f"""
[transport]
backend = "smtp"
host = "127.0.0.1"
port = {smtp.port}
tls = "starttls"
{ca_line}
username = "{SMTP_LOGIN[0]}"
password_file = "{tmp_path / "smtp-password"}"
timeout_seconds = 10
retry_base_seconds = 60
{extra}
""",
    )


@pytest.fixture(scope="session")
def radicale() -> Iterator[Radicale]:
    server = Radicale("csm", "dav-s3cret")
    server.start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    server = Postgres()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    """A config on the embedded defaults in the test's folder (the command-line tests' starting point)."""
    return write_config(tmp_path)


# The dashboard's browser tests: each module defines `site` (the address its daemon serves); one
# browser per module opens it with the token, and `driver` is that browser (a module may override
# `driver`, e.g. to set the window's size before each test).
@pytest.fixture(scope="module")
def browser(site: str) -> Iterator[Any]:
    chrome = signed_in(site)
    yield chrome
    chrome.quit()


@pytest.fixture(scope="module")
def driver(browser: Any) -> Any:
    return browser
