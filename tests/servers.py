"""Real servers for the integration tests, started on loopback ports in private folders.

Dovecot (IMAP + LMTP) runs from its own config file; mail is delivered with
LMTP one recipient per transaction (smtplib.LMTP does not read LMTP's
per-recipient replies after DATA). See ../shared/RECIPES.md.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

REQUIRE = (
    os.environ.get("CSM_REQUIRE_SERVERS") == "1"
)  # set by scripts/test: a missing server fails, not skips


def need(binary: str, package: str) -> str:
    path = shutil.which(binary) or (f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None)
    if path is None:
        message = f"{binary} is not installed (apt-get install {package}); scripts/test installs it"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class Dovecot:
    """A private Dovecot: IMAP (STARTTLS offered), IMAPS and LMTP on loopback ports."""

    def __init__(
        self, cert_file: Path | None = None, key_file: Path | None = None, introspection_url: str = ""
    ) -> None:
        self.binary = need("dovecot", "dovecot-imapd dovecot-lmtpd")
        # Not under pytest's tmp_path: that is 0700, and Dovecot's mail processes run as nobody.
        self.base = Path(tempfile.mkdtemp(prefix="csm-dovecot-", dir="/tmp"))
        self.base.chmod(0o755)
        self.imap_port, self.imaps_port, self.lmtp_port = free_port(), free_port(), free_port()
        self.config = self.base / "dovecot.conf"
        self.passwd = self.base / "passwd"
        self.passwd.write_text("")
        (self.base / "mail").mkdir(mode=0o755)
        shutil.chown(self.base / "mail", "nobody", "nogroup")
        tls = (
            f"ssl = yes\nssl_cert = <{cert_file}\nssl_key = <{key_file}\n"
            if cert_file and key_file
            else "ssl = no\n"
        )
        imaps = (
            f"  inet_listener imaps {{\n    port = {self.imaps_port}\n    ssl = yes\n  }}\n"
            if cert_file
            else ""
        )
        oauth2 = ""
        if introspection_url:
            # XOAUTH2: Dovecot asks a token introspection endpoint (RFC 7662) whether a token is good.
            (self.base / "oauth2.conf").write_text(
                f"introspection_mode = post\nintrospection_url = {introspection_url}\n"
                "username_attribute = username\nactive_attribute = active\nactive_value = true\n"
            )
            oauth2 = (
                "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                f"  args = {self.base}/oauth2.conf\n}}"
            )
        self.config.write_text(
            f"""
protocols = imap lmtp
listen = 127.0.0.1
base_dir = {self.base}/run
instance_name = csm-test-{self.imap_port}
{tls}
disable_plaintext_auth = no
auth_mechanisms = plain login{" xoauth2 oauthbearer" if introspection_url else ""}
auth_failure_delay = 0secs
# Failed logins (tests of wrong passwords) must not slow down the next tests from the same IP.
login_trusted_networks = 127.0.0.0/8
log_path = {self.base}/dovecot.log
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%n {self.passwd}
}}
{oauth2}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={self.base}/mail/%n allow_all_users=yes
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    port = {self.imap_port}
  }}
{imaps}}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
protocol lmtp {{
  auth_username_format = %n
}}
""",
            encoding="utf-8",
        )

    def add_user(self, name: str, password: str) -> None:
        with self.passwd.open("a", encoding="utf-8") as fh:
            fh.write(f"{name}:{{PLAIN}}{password}::::::\n")

    def start(self) -> None:
        # Dovecot forks into the background keeping its stdio: a pipe would never reach EOF.
        with open(self.base / "start.err", "wb") as err:
            done = subprocess.run(
                [self.binary, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=err, timeout=30
            )
        if done.returncode != 0:
            raise RuntimeError(f"dovecot did not start: {(self.base / 'start.err').read_text()}{self.log()}")
        wait_for_port(self.imap_port)
        wait_for_port(self.lmtp_port)

    def stop(self) -> None:
        """Stop the server as a machine going away would: the master and every client connection."""
        self._stop_master()
        # `dovecot stop` leaves running imap processes serving their clients (an IDLE goes on
        # unanswered but alive): end them too, or a test of an unreachable server tests nothing.
        subprocess.run(["pkill", "-KILL", "-f", f"^dovecot-csm-test-{self.imap_port}/"], check=False)

    def _stop_master(self) -> None:
        pid_file = self.base / "run" / "master.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text().strip())
        subprocess.run(
            [self.binary, "-c", str(self.config), "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, 9)

    def kick(self, user: str) -> None:
        subprocess.run(
            ["doveadm", "-c", str(self.config), "kick", user], check=True, capture_output=True, timeout=30
        )

    def deliver(self, user: str, data: bytes) -> None:
        self.deliver_many(user, [data])

    def deliver_many(self, user: str, messages: list[bytes]) -> None:
        with smtplib.LMTP("127.0.0.1", self.lmtp_port) as lmtp:
            for data in messages:
                lmtp.sendmail("sender@test.example", [f"{user}@example.com"], data)

    def maildir(self, user: str) -> Path:
        return self.base / "mail" / user / "Maildir"

    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


class TokenIntrospection:
    """A tiny OAuth2 token introspection endpoint (RFC 7662): token -> user, for Dovecot's XOAUTH2."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs

        from tests.token_endpoint import send_json

        tokens = self.tokens = {}  # type: dict[str, str]
        # the token endpoint (RFC 6749 section 6): refresh token -> user, and the access tokens issued
        refresh = self.refresh_tokens = {}  # type: dict[str, str]
        issued = self.issued = []  # type: list[str]
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                status = 200
                answer: dict[str, object]
                if self.path == "/token":
                    grant = form.get("refresh_token", [""])[0]
                    if form.get("grant_type") != ["refresh_token"] or grant not in refresh:
                        status, answer = (
                            400,
                            {
                                "error": "invalid_grant",
                                "error_description": "Token has been expired or revoked.",
                            },
                        )
                    else:
                        access = f"ya29.issued-{len(issued)}"
                        tokens[access] = refresh[grant]
                        issued.append(access)
                        answer = {
                            "access_token": access,
                            "expires_in": endpoint.expires_in,
                            "token_type": "Bearer",
                        }
                else:
                    token = form.get("token", [""])[0]
                    answer = {"active": token in tokens, "username": tokens.get(token, "")}
                send_json(self, status, answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/introspect"
        self.token_url = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        self.expires_in = 3599
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


class SmtpRelay:
    """aiosmtpd with STARTTLS (or implicit TLS) and AUTH that delivers each recipient into Dovecot over LMTP.

    Faults are injected per test: `rcpt_codes` answers RCPT for an address (kept until
    removed), `data_codes` answers the next DATA commands (consumed one by one), `refusing`
    answers every DATA while it is set.
    """

    def __init__(
        self,
        dovecot: Dovecot,
        cert_file: Path,
        key_file: Path,
        login: tuple[str, str],
        *,
        implicit: bool = False,
    ) -> None:
        import ssl

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        # aiosmtpd tells every dropped connection at INFO; a test's own log capture keeps them, but a
        # connection a session-wide relay sees between tests would reach the run's output
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.dovecot = dovecot
        self.port = free_port()
        self.rcpt_codes: dict[str, str] = {}
        self.data_codes: list[str] = []
        self.refusing = ""
        self.oauth_token = "ya29.smtp-test-token"  # the XOAUTH2 access token it accepts
        self.refused = 0  # DATA commands answered with `refusing`
        self.delay = 0.0
        self.accepted: list[tuple[str, list[str]]] = []  # (Message-ID, recipients) of each delivery
        self.accepted_at: list[float] = []  # time.monotonic() of each, when the 250 reply goes out
        relay = self

        class Handler:
            async def auth_XOAUTH2(self, server: Any, args: list[str]) -> Any:
                """SASL XOAUTH2 as Gmail and Microsoft 365 take it: user=...^Aauth=Bearer <token>^A^A."""
                from aiosmtpd.smtp import AuthResult

                fields = dict(
                    part.split("=", 1)
                    for part in base64.b64decode(args[1]).decode().split("\x01")
                    if "=" in part
                )
                ok = fields.get("auth") == f"Bearer {relay.oauth_token}" and fields.get("user") == login[0]
                return AuthResult(success=ok, handled=False)

            async def handle_RCPT(
                self,
                server: object,
                session: object,
                envelope: Any,
                address: str,
                rcpt_options: list[str],
            ) -> str:
                code = relay.rcpt_codes.get(address.lower())
                if code:
                    return code
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
                if relay.data_codes:
                    return relay.data_codes.pop(0)
                if relay.refusing:
                    relay.refused += 1
                    return relay.refusing
                if relay.delay:
                    await asyncio.sleep(relay.delay)  # a slow server: a send takes this long
                data = envelope.original_content or envelope.content
                with smtplib.LMTP("127.0.0.1", relay.dovecot.lmtp_port) as lmtp:
                    for rcpt in envelope.rcpt_tos:  # one recipient per LMTP transaction (RECIPES.md)
                        lmtp.sendmail(envelope.mail_from, [rcpt], data)
                mid = next(
                    (
                        line.split(":", 1)[1].strip()
                        for line in data.decode("utf-8", "replace").splitlines()
                        if line.lower().startswith("message-id:")
                    ),
                    "",
                )
                relay.accepted.append((mid, list(envelope.rcpt_tos)))
                relay.accepted_at.append(time.monotonic())
                return "250 Message accepted for delivery"

        def authenticate(
            server: object, session: object, envelope: object, mechanism: str, auth_data: object
        ) -> AuthResult:
            ok = (
                isinstance(auth_data, LoginPassword)
                and (auth_data.login.decode(), auth_data.password.decode()) == login
            )
            return AuthResult(success=ok)

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert_file), str(key_file))
        # A stopped Controller cannot start again (its event loop is closed): make one per start.
        tls: dict[str, Any] = (
            {"ssl_context": context} if implicit else {"tls_context": context, "require_starttls": True}
        )
        self._controller_args: dict[str, Any] = dict(
            handler=Handler(),
            hostname="127.0.0.1",
            port=self.port,
            authenticator=authenticate,
            # aiosmtpd does not count implicit TLS as TLS for AUTH; the channel is encrypted either way
            auth_require_tls=not implicit,
            **tls,
        )
        self._controller_class = Controller

    def start(self) -> None:
        self.controller = self._controller_class(**self._controller_args)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


class Radicale:
    """A private Radicale (CalDAV) on a loopback port, with one htpasswd user."""

    def __init__(self, user: str, password: str) -> None:
        import sys

        self.base = Path(tempfile.mkdtemp(prefix="csm-radicale-"))
        self.port = free_port()
        self.user, self.password = user, password
        (self.base / "users").write_text(f"{user}:{password}\n")
        self.config = self.base / "radicale.conf"
        # Radicale 3's default auth is `denyall`: set it (RECIPES.md).
        self.config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n"
            f"[auth]\ntype = htpasswd\nhtpasswd_filename = {self.base / 'users'}\nhtpasswd_encryption = plain\n"
            f"[storage]\nfilesystem_folder = {self.base / 'collections'}\n"
            "[logging]\nlevel = warning\n"
        )
        self.command = [sys.executable, "-m", "radicale", "--config", str(self.config)]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.user}/"

    def start(self) -> None:
        with open(self.base / "radicale.log", "ab") as log:  # the child keeps its own copy of the handle
            self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=log)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=15)
            self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


class Postgres:
    """A private PostgreSQL in a temporary folder, on a loopback port (initdb + pg_ctl, as the postgres user)."""

    def __init__(self) -> None:
        import glob
        import pwd

        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            message = "PostgreSQL is not installed (apt-get install postgresql); scripts/test installs it"
            if REQUIRE:
                pytest.fail(message)
            pytest.skip(message)
        self.bin = Path(found[-1]).parent
        self.base = Path(tempfile.mkdtemp(prefix="csm-postgres-"))
        self.base.chmod(0o755)
        self.data = self.base / "data"
        self.port = free_port()
        self.user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self.user is not None:
            os.chown(self.base, self.user.pw_uid, self.user.pw_gid)
        self._run(
            [str(self.bin / "initdb"), "-D", str(self.data), "--auth=trust", "-U", "postgres", "-E", "UTF8"]
        )

    def _run(self, command: list[str]) -> None:
        # initdb refuses to run as root: as root, run it as the postgres user
        prefix = ["runuser", "-u", "postgres", "--"] if self.user is not None else []
        subprocess.run(prefix + command, check=True, capture_output=True, timeout=120)

    def start(self, *, durable: bool = False) -> None:
        """Tests run without fsync (their data is thrown away); a benchmark measures the durable default."""
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1"
        options += "" if durable else " -c fsync=off"
        self._run(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.base / "log"),
                "-w",
                "start",
            ]
        )

    def stop(self) -> None:
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def create(self, name: str) -> str:
        """A new, empty database; its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
