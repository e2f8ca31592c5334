"""Reaction latency: a client's message delivered while the agent IDLEs, to the rule's email accepted by SMTP.

    .venv/bin/python bench/latency.py               # 200 messages (about two minutes)
    .venv/bin/python bench/latency.py --messages 50

Starts a private Dovecot and an SMTP server that delivers into it (as the tests
do), and the daemon as a process of its own (`daemon.py`, SQLite, IMAP IDLE,
SMTP with STARTTLS). A rule answers each client message with an email. One
message at a time is delivered over LMTP; the time runs until the SMTP server
has accepted the agent's answer (after its own delivery into Dovecot).

The baseline, measured in the same run against the same servers, is the least
any agent could do: a bare imapclient IDLEs, fetches the new message when
Dovecot announces it, and smtplib sends one email. The table prints p50, p95
and the worst of each, and their ratio. The target is p95 under 1 second.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import smtplib
import ssl
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the repository: agent/, tests/

from tests.servers import Dovecot, SmtpRelay  # noqa: E402

PASSWORD = "bench-secret"
SMTP_LOGIN = ("agent", "smtp-bench-secret")
RULE = """
  - id: answer-each-client-message
    description: the latency benchmark's rule; an answer to every client message
    when: {message_received: client}
    then:
      - {send: intro, to: [client_contacts]}
"""


def client_message(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Jane Doe <jane@acme-radio.example>"
    msg["To"] = "Onboarding <onboarding@example.com>"
    msg["Subject"] = f"Re: Welcome to onboarding ({n})"
    msg["Message-ID"] = f"<latency-{n}-{time.time_ns()}@acme-radio.example>"
    msg.set_content("Thanks, Tuesday at 10 works for us.\n" * 20)
    return msg.as_bytes()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))]


def accepted(relay: SmtpRelay, before: int, timeout: float = 30.0) -> float:
    """When the SMTP server accepted the next email after the first `before` ones."""
    deadline = time.monotonic() + timeout
    while len(relay.accepted_at) <= before:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no email came back within {timeout:.0f} s")
        time.sleep(0.002)
    return relay.accepted_at[before]


def setup(base: Path, dovecot: Dovecot, relay: SmtpRelay, ca: Path) -> Path:
    """A config, rules with the answering rule, and one deal whose intro has gone already."""
    rules = base / "rules"
    rules.mkdir()
    (rules / "standard-onboarding.yaml").write_text(
        (ROOT / "rules" / "standard-onboarding.yaml").read_text() + RULE
    )
    for name, secret in (("imap", PASSWORD), ("smtp", SMTP_LOGIN[1])):
        (base / name).write_text(secret + "\n")
        (base / name).chmod(0o600)
    cfg = base / "agent.toml"
    cfg.write_text(f"""
[agent]
address = "onboarding@example.com"
internal_domains = ["example.com"]
max_emails_per_deal_per_day = 100000
max_emails_per_recipient_per_day = 100000
[mailbox]
backend = "imap"
host = "127.0.0.1"
port = {dovecot.imap_port}
tls = "none"
username = "agent"
password_file = "{base / "imap"}"
[transport]
backend = "smtp"
host = "127.0.0.1"
port = {relay.port}
tls = "starttls"
tls_ca_file = "{ca}"
username = "{SMTP_LOGIN[0]}"
password_file = "{base / "smtp"}"
[calendar]
backend = "invites"
[review]
templates = []
[daemon]
poll_seconds = 300
log_level = "WARNING"
[paths]
state = "{base / "state"}"
rules = "{rules}"
templates = "{ROOT / "templates" / "emails"}"
""")
    agent = [sys.executable, "-m", "agent", "--config", str(cfg)]
    subprocess.run([*agent, "deals", "add", "--name", "Acme Radio", "--stage", "set-up",
                    "--contact", "Jane Doe,jane@acme-radio.example", "--csm", "sam@example.com"],
                   check=True, cwd=ROOT, capture_output=True)  # fmt: skip
    subprocess.run([*agent, "run", "--once"], check=True, cwd=ROOT, capture_output=True)
    return cfg


def agent_latencies(dovecot: Dovecot, relay: SmtpRelay, cfg: Path, count: int) -> list[float]:
    daemon = subprocess.Popen(
        [sys.executable, "daemon.py", "--config", str(cfg)], cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(3)  # connected, caught up, and in IDLE
        out = []
        for n in range(count):
            before = len(relay.accepted)
            started = time.monotonic()
            dovecot.deliver("agent", client_message(n))
            out.append(accepted(relay, before) - started)
            time.sleep(0.2)  # back in IDLE before the next one
        return out
    finally:
        daemon.terminate()
        _, err = daemon.communicate(timeout=30)
        if err.strip():
            print(err[-2000:], file=sys.stderr)


def bare_latencies(dovecot: Dovecot, relay: SmtpRelay, ca: Path, count: int) -> list[float]:
    """The floor: IDLE, fetch the message when it is announced, send one email with smtplib."""
    from imapclient import IMAPClient

    context = ssl.create_default_context(cafile=str(ca))
    out = []
    with IMAPClient("127.0.0.1", dovecot.imap_port, ssl=False) as imap:
        imap.login("bare", PASSWORD)
        imap.select_folder("INBOX")
        last = max(imap.search(["ALL"]) or [0])
        for n in range(count):
            before = len(relay.accepted)
            imap.idle()
            started = time.monotonic()
            dovecot.deliver("bare", client_message(n))
            while not imap.idle_check(timeout=5):
                pass
            imap.idle_done()
            uids = [u for u in imap.search(["UID", f"{last + 1}:*"]) if u > last]
            imap.fetch(uids, ["BODY.PEEK[]"])
            last = max(uids)
            answer = EmailMessage()
            answer["From"], answer["To"], answer["Subject"] = (
                "bare@example.com",
                "jane@acme-radio.example",
                "Re",
            )
            answer["Message-ID"] = f"<bare-{n}-{time.time_ns()}@example.com>"
            answer.set_content("Thanks")
            with smtplib.SMTP("127.0.0.1", relay.port) as smtp:
                smtp.starttls(context=context)
                smtp.login(*SMTP_LOGIN)
                smtp.send_message(answer)
            out.append(accepted(relay, before) - started)
    return out


def main() -> None:
    import trustme

    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's per-session chatter
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="csm-latency-"))
    authority = trustme.CA()
    cert = authority.issue_cert("127.0.0.1")
    ca, cert_file, key_file = base / "ca.pem", base / "cert.pem", base / "key.pem"
    authority.cert_pem.write_to_path(str(ca))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    dovecot = Dovecot()
    for user in ("agent", "bare", "jane", "sam"):
        dovecot.add_user(user, PASSWORD)
    dovecot.start()
    relay = SmtpRelay(dovecot, cert_file, key_file, SMTP_LOGIN)
    relay.start()
    try:
        cfg = setup(base, dovecot, relay, ca)
        bare = bare_latencies(dovecot, relay, ca, args.messages)
        agent = agent_latencies(dovecot, relay, cfg, args.messages)
        print(f"{args.messages} client messages, one at a time, each answered by one email")
        print(f"{'':<40}{'p50':>8}{'p95':>8}{'max':>8}")
        for name, values in (("bare IDLE + fetch + SMTP send", bare), ("the agent (daemon.py)", agent)):
            p50, p95, worst = percentile(values, 0.5), percentile(values, 0.95), max(values)
            print(f"{name:<40}{p50 * 1000:>6.0f}ms{p95 * 1000:>6.0f}ms{worst * 1000:>6.0f}ms")
        ratio50 = percentile(agent, 0.5) / percentile(bare, 0.5)
        ratio95 = percentile(agent, 0.95) / percentile(bare, 0.95)
        print(f"{'ratio, agent to bare':<40}{ratio50:>8.1f}{ratio95:>8.1f}")
        print(f"target: p95 under 1 s: {'met' if percentile(agent, 0.95) < 1.0 else 'NOT met'}")
    finally:
        relay.stop()
        dovecot.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
