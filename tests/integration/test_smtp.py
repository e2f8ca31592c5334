"""Sending over real SMTP (aiosmtpd with STARTTLS and AUTH, relaying into Dovecot) and reading it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from agent.clock import ManualClock
from agent.config import load_config
from agent.store.repo import Repo
from tests.conftest import ACCOUNT_MANAGER, CLIENT, CSM, Harness, agent_env, start_daemon, wait_until
from tests.integration.conftest import PASSWORD, smtp_config
from tests.servers import Dovecot, SmtpRelay

MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
INTRO_AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
BOB = ("Bob Roe", "bob@acme-radio.example")
TIM = ("Tim Poe", "tim@acme-radio.example")


def received(dovecot: Dovecot, person: str, message_id: str) -> list[EmailMessage]:
    """What `person` has in their INBOX with this Message-ID, read over IMAP."""
    with IMAPClient("127.0.0.1", dovecot.imap_port, ssl=False) as client:
        client.login(person, PASSWORD)
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["HEADER", "Message-ID", message_id])
        fetched = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
    return [BytesParser(policy=default).parsebytes(v[b"BODY[]"]) for v in fetched.values()]


def outbox(h: Harness) -> list[dict[str, Any]]:
    with h.agent.sessions.begin() as s:
        return [
            {
                "id": e.id,
                "template": e.template,
                "status": e.status,
                "message_id": e.message_id,
                "delivery": dict(e.delivery or {}),
                "attempts": e.attempts,
                "error": e.last_error,
            }
            for e in Repo(s).outbox_all()
        ]


def harness(cfg: Path) -> Harness:
    return Harness(load_config(cfg), ManualClock(MONDAY))


@pytest.mark.integration
def test_recap_arrives_once_in_each_mailbox_with_threading_headers_and_raci_copies(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpRelay, certs: dict[str, Path]
) -> None:
    h = harness(smtp_config(tmp_path, smtp, certs))
    deal_id = h.add_deal(f"Acme Radio {tmp_path.name}")
    h.run()
    [intro] = outbox(h)
    h.meeting("intro", "Acme Radio introduction call", INTRO_AT, description="Agreed: go-live 15 January.")
    h.run()
    h.at(INTRO_AT + timedelta(hours=1))
    h.run()
    recap = next(e for e in outbox(h) if e["template"] == "recap")
    assert recap["status"] == "sent"
    assert recap["delivery"] == {CLIENT[1]: "sent", CSM[1]: "sent", ACCOUNT_MANAGER[1]: "sent"}
    for person in ("jane", "sam", "alex"):
        [copy] = received(dovecot, person, recap["message_id"])  # exactly one copy each
    token = h.show(deal_id)["token"]
    assert copy["Message-ID"] == recap["message_id"]
    assert [a.addr_spec for a in copy["To"].addresses] == [CLIENT[1]]
    assert sorted(a.addr_spec for a in copy["Cc"].addresses) == sorted([CSM[1], ACCOUNT_MANAGER[1]])
    assert copy["Reply-To"].addresses[0].addr_spec == f"onboarding+{token}@example.com"
    assert copy["Subject"].endswith(f"[ref:{token}]")
    assert copy["Auto-Submitted"] == "auto-generated"
    assert copy["In-Reply-To"] == intro["message_id"] and intro["message_id"] in copy["References"]
    assert [p.get_content_type() for p in copy.iter_parts()] == ["text/plain", "text/html"]
    assert "Agreed: go-live 15 January." in copy.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Agreed: go-live 15 January." in copy.get_body(("html",)).get_content()  # type: ignore[union-attr]


@pytest.mark.integration
def test_a_451_is_retried_later_and_delivers_once(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpRelay, certs: dict[str, Path]
) -> None:
    h = harness(smtp_config(tmp_path, smtp, certs))
    h.add_deal(f"Acme Radio {tmp_path.name}")
    smtp.data_codes.append("451 4.3.0 Try again later")
    h.run()
    [email] = outbox(h)
    assert email["status"] == "queued" and "451" in email["error"] and email["attempts"] == 1
    h.run()  # not due yet: the backoff holds it
    assert outbox(h)[0]["attempts"] == 1
    h.at(MONDAY + timedelta(minutes=2))
    h.run()
    [email] = outbox(h)
    assert email["status"] == "sent" and email["attempts"] == 2
    assert len(received(dovecot, "jane", email["message_id"])) == 1


@pytest.mark.integration
def test_a_server_refusing_for_three_hours_only_delays_the_email(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpRelay, certs: dict[str, Path]
) -> None:
    h = harness(smtp_config(tmp_path, smtp, certs))
    h.add_deal(f"Acme Radio {tmp_path.name}")
    smtp.refusing = "451 4.3.0 Temporarily refusing mail"
    try:
        for minute in range(0, 181, 5):  # the daemon's passes over three hours of refusals
            h.at(MONDAY + timedelta(minutes=minute))
            h.run()
        [email] = outbox(h)
        # 60 s doubling to at most 30 min between attempts: it keeps trying, for 24 hours
        assert email["status"] == "queued" and "451" in email["error"]
        assert smtp.refused == email["attempts"] >= 9
    finally:
        smtp.refusing = ""
    h.at(MONDAY + timedelta(hours=4))
    h.run()
    [email] = outbox(h)  # and no failure notice to the CSM: nothing failed
    assert email["status"] == "sent"
    assert len(received(dovecot, "jane", email["message_id"])) == 1


@pytest.mark.integration
def test_an_email_deferred_past_retry_for_hours_fails_and_the_csm_is_told_once(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpRelay, certs: dict[str, Path]
) -> None:
    cfg = smtp_config(tmp_path, smtp, certs)
    cfg.write_text(cfg.read_text().replace("[transport]", "[transport]\nretry_for_hours = 2"))
    h = harness(cfg)
    h.add_deal(f"Acme Radio {tmp_path.name}")
    smtp.refusing = "451 4.3.0 Temporarily refusing mail"
    try:
        for minute in range(0, 181, 10):
            h.at(MONDAY + timedelta(minutes=minute))
            h.run()
    finally:
        smtp.refusing = ""
    h.at(MONDAY + timedelta(hours=4))
    h.run()
    intro = next(e for e in outbox(h) if e["template"] == "intro")
    notices = [e for e in outbox(h) if e["template"] == "notice"]
    assert intro["status"] == "failed" and received(dovecot, "jane", intro["message_id"]) == []
    assert len(notices) == 1 and notices[0]["status"] == "sent"  # once, not on every retry


@pytest.mark.integration
def test_a_550_for_one_of_three_recipients_refuses_only_that_one(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpRelay, certs: dict[str, Path]
) -> None:
    from agent.deals import ContactSpec

    h = harness(smtp_config(tmp_path, smtp, certs))
    contacts = [
        ContactSpec(*CLIENT, "client_admin"),
        ContactSpec(*BOB, "client_sponsor"),
        ContactSpec(*TIM, "contact"),
    ]
    deal_id = h.add_deal(f"Acme Radio {tmp_path.name}", contacts=contacts)
    smtp.rcpt_codes[BOB[1]] = "550 5.1.1 <bob@acme-radio.example>: user unknown"
    try:
        h.run()
        h.at(MONDAY + timedelta(hours=2))
        h.run()  # a later pass must not send it again to anyone
    finally:
        del smtp.rcpt_codes[BOB[1]]
    intro = next(e for e in outbox(h) if e["template"] == "intro")
    assert intro["status"] == "sent" and intro["attempts"] == 1
    assert intro["delivery"][BOB[1]].startswith("refused: 550")
    assert len(received(dovecot, "jane", intro["message_id"])) == 1
    assert len(received(dovecot, "tim", intro["message_id"])) == 1
    assert received(dovecot, "bob", intro["message_id"]) == []
    notices = [e for e in outbox(h) if e["template"] == "notice"]
    assert len(notices) == 1 and notices[0]["status"] == "sent"  # the CSM is told, once
    [told] = received(dovecot, "sam", notices[0]["message_id"])
    assert "bob@acme-radio.example" in told.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    with h.agent.sessions.begin() as s:
        assert Repo(s).blocked([BOB[1]]) == {BOB[1]}  # no more mail goes to the refused address
    assert deal_id


@pytest.mark.integration
def test_a_certificate_that_does_not_verify_is_refused_then_works_once_trusted(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpRelay, certs: dict[str, Path]
) -> None:
    h = harness(smtp_config(tmp_path, smtp, certs, ca=False))  # the test CA is not trusted
    h.add_deal(f"Acme Radio {tmp_path.name}")
    h.run()
    h.at(MONDAY + timedelta(minutes=5))
    h.run()
    emails = outbox(h)
    intro = next(e for e in emails if e["template"] == "intro")
    assert intro["status"] == "queued" and "CERTIFICATE_VERIFY_FAILED" in intro["error"]
    assert [e["template"] for e in emails].count("notice") == 1  # told once, not on every retry
    assert smtp.accepted == [] or all(mid != intro["message_id"] for mid, _ in smtp.accepted)
    fixed = harness(smtp_config(tmp_path, smtp, certs))  # the operator adds the CA and restarts
    fixed.at(MONDAY + timedelta(hours=1))
    fixed.run()
    assert len(received(dovecot, "jane", intro["message_id"])) == 1


@pytest.mark.integration
def test_server_down_for_a_while_then_back(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpRelay, certs: dict[str, Path]
) -> None:
    h = harness(smtp_config(tmp_path, smtp, certs))
    h.add_deal(f"Acme Radio {tmp_path.name}")
    smtp.stop()
    try:
        h.run()
        h.at(MONDAY + timedelta(minutes=2))
        h.run()
        [email] = outbox(h)
        assert email["status"] == "queued" and email["attempts"] == 2 and "cannot reach" in email["error"]
    finally:
        smtp.start()
    h.at(MONDAY + timedelta(minutes=10))
    h.run()
    [email] = outbox(h)
    assert email["status"] == "sent"
    assert len(received(dovecot, "jane", email["message_id"])) == 1


@pytest.mark.integration
def test_sigkill_while_sending_a_batch_then_restart_delivers_every_email_once(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpRelay, certs: dict[str, Path]
) -> None:
    import collections
    import os
    import signal
    import sqlite3
    import subprocess
    import sys

    cfg = smtp_config(tmp_path, smtp, certs)
    cfg.write_text(cfg.read_text().replace("[agent]\n", "[agent]\nmax_emails_per_recipient_per_day = 1000\n"))
    total = 60
    csv = tmp_path / "deals.csv"
    csv.write_text(
        "deal,pipeline,contact_name,contact_email,contact_role,csm\n"
        + "".join(
            f"Batch {i},standard-onboarding,Jane,jane@acme-radio.example,client_admin,sam@example.com\n"
            for i in range(total)
        )
    )
    env = agent_env()
    cli = [sys.executable, "-m", "agent", "--config", str(cfg)]
    subprocess.run([*cli, "deals", "import", str(csv)], env=env, check=True, capture_output=True, timeout=120)
    db = tmp_path / "state" / "agent.db"

    def sent() -> int:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("select count(*) from outbox where status = 'sent'").fetchone()[0])

    proc = start_daemon(cfg, quiet=True)
    try:
        wait_until(lambda: sent() >= 10, timeout=60)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    at_kill = sent()
    assert 0 < at_kill < total, "the kill must land in the middle of the batch"
    done = subprocess.run([*cli, "run", "--once"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        ours = dict(conn.execute("select message_id, status from outbox").fetchall())
        resent = {
            row[0]
            for row in conn.execute(
                "select o.message_id from audit_log a join outbox o"
                " on json_extract(a.details, '$.outbox_id') = o.id"
                " where a.kind = 'email_resent'"
            )
        }
    assert len(ours) == total and set(ours.values()) == {"sent"}
    deliveries = collections.Counter(mid for mid, _ in smtp.accepted if mid in ours)
    assert set(deliveries) == set(ours)  # none lost
    # once each; a second copy only where the agent said it could not know (docs/outbox.md)
    assert all(count == 1 or mid in resent for mid, count in deliveries.items())


@pytest.mark.integration
def test_a_copy_of_each_sent_email_lands_in_the_mailboxs_sent_folder(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpRelay, certs: dict[str, Path], user: str
) -> None:
    from tests.integration.conftest import imap_config

    (tmp_path / "imap").mkdir()
    imap = imap_config(tmp_path / "imap", dovecot, user).read_text()
    mailbox = imap[imap.index("[mailbox]") :]
    cfg = smtp_config(tmp_path, smtp, certs, 'sent_folder = "Sent"')
    cfg.write_text(cfg.read_text() + mailbox)
    h = harness(cfg)
    h.add_deal(f"Acme Radio {tmp_path.name}")
    h.run()
    [email] = outbox(h)
    assert email["status"] == "sent"
    with IMAPClient("127.0.0.1", dovecot.imap_port, ssl=False) as client:
        client.login(user, PASSWORD)
        client.select_folder("Sent", readonly=True)
        uids = client.search(["HEADER", "Message-ID", email["message_id"]])
        assert len(uids) == 1
        assert b"\\Seen" in client.get_flags(uids)[uids[0]]
    assert len(received(dovecot, "jane", email["message_id"])) == 1


def test_a_sent_folder_needs_an_imap_mailbox(tmp_path: Path) -> None:
    from agent.errors import ConfigError
    from tests.conftest import write_config

    cfg = write_config(tmp_path, '[transport]\nbackend = "smtp"\nhost = "h"\nsent_folder = "Sent"\n')
    with pytest.raises(
        ConfigError, match=r"\[transport\] sent_folder = 'Sent': needs \[mailbox\] backend = 'imap'"
    ):
        load_config(cfg)


@pytest.mark.integration
def test_implicit_tls_on_its_own_port(
    tmp_path: Path, dovecot: Dovecot, smtps: SmtpRelay, certs: dict[str, Path]
) -> None:
    cfg = smtp_config(tmp_path, smtps, certs)
    cfg.write_text(cfg.read_text().replace('tls = "starttls"', 'tls = "ssl"'))
    h = harness(cfg)
    h.add_deal(f"Acme Radio {tmp_path.name}")
    h.run()
    [email] = outbox(h)
    assert email["status"] == "sent", email["error"]
    assert len(received(dovecot, "jane", email["message_id"])) == 1


@pytest.mark.integration
def test_xoauth2_login_with_an_access_token_as_gmail_and_microsoft_365_take_it(
    tmp_path: Path, dovecot: Dovecot, smtp: SmtpRelay, certs: dict[str, Path]
) -> None:
    cfg = smtp_config(tmp_path, smtp, certs, 'auth = "xoauth2"')
    (tmp_path / "smtp-password").write_text(smtp.oauth_token + "\n")  # the secret is the access token
    h = harness(cfg)
    h.add_deal(f"Acme Radio {tmp_path.name}")
    h.run()
    [email] = outbox(h)
    assert email["status"] == "sent" and len(received(dovecot, "jane", email["message_id"])) == 1

    (tmp_path / "smtp-password").write_text(
        "ya29.expired\n"
    )  # a token no longer valid: read at each connection
    second = h.add_deal(f"Bravo Books {tmp_path.name}")
    h.run()
    [refused] = [e for e in outbox(h) if e["id"] != email["id"] and e["template"] == "intro"]
    assert (
        refused["status"] == "queued" and "535" in refused["error"]
    )  # kept, retried once the token is renewed
    assert h.show(second)["emails"][0]["status"] == "queued"
