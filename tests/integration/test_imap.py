"""The IMAP backend against a real Dovecot started by the tests (loopback ports, its own config)."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from agent.clock import ManualClock
from agent.config import load_config
from agent.mailboxes.base import MailboxUnavailable
from agent.simulation import ics_event
from agent.store.repo import Repo
from tests.conftest import CLIENT, Harness, agent_env, start_daemon, subjects, wait_until
from tests.conftest import client_email as email
from tests.integration.conftest import PASSWORD, imap_config
from tests.servers import Dovecot, TokenIntrospection


def harness_for(config_path: Path) -> Harness:
    return Harness(load_config(config_path), ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)))


# --- connecting -------------------------------------------------------------------------------------
@pytest.mark.integration
@pytest.mark.parametrize("tls", ["none", "starttls", "ssl"])
def test_reads_new_mail_over_each_tls_mode(
    tls: str, tmp_path: Path, dovecot: Dovecot, user: str, certs: dict[str, Path]
) -> None:
    port = dovecot.imaps_port if tls == "ssl" else dovecot.imap_port
    h = harness_for(
        imap_config(tmp_path, dovecot, user, f'tls_ca_file = "{certs["ca"]}"', tls=tls, port=port)
    )
    h.add_deal()
    dovecot.deliver(user, email("First question"))
    dovecot.deliver(user, email("Second question"))
    report = h.run()
    assert report.messages == 2
    assert subjects(h) == ["First question", "Second question"]
    h.run()
    assert subjects(h) == ["First question", "Second question"]  # nothing read twice


@pytest.mark.integration
def test_certificates_are_verified_by_default(tmp_path: Path, dovecot: Dovecot, user: str) -> None:
    h = harness_for(imap_config(tmp_path, dovecot, user, tls="ssl", port=dovecot.imaps_port))
    with pytest.raises(MailboxUnavailable, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        list(h.agent.mailbox.fetch())


@pytest.mark.integration
def test_wrong_password_is_reported_and_backs_off(tmp_path: Path, dovecot: Dovecot, user: str) -> None:
    cfg = imap_config(tmp_path, dovecot, user)
    (tmp_path / "imap-password").write_text("wrong\n")
    h = harness_for(cfg)
    report = h.run()  # the rest of the pass goes on without the mailbox
    assert report.messages == 0
    assert "authentication failed" in h.agent.last_mail_error.lower()
    with pytest.raises(MailboxUnavailable, match="reconnecting in"):
        list(h.agent.mailbox.fetch())


# --- cursor, flags and folders ----------------------------------------------------------------------
@pytest.mark.integration
def test_cursor_is_stored_mail_is_not_marked_read_and_a_restart_catches_up(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    cfg = imap_config(tmp_path, dovecot, user, "batch_size = 2")
    h = harness_for(cfg)
    for i in range(5):
        dovecot.deliver(user, email(f"Message {i}"))
    assert h.run().messages == 5  # three FETCH batches of at most 2
    with h.agent.sessions.begin() as s:
        cursor = Repo(s).cursor(h.agent.mailbox.source)  # type: ignore[attr-defined]
    assert cursor is not None and cursor.endswith(":5")
    with IMAPClient("127.0.0.1", dovecot.imap_port, ssl=False) as c:
        c.login(user, PASSWORD)
        c.select_folder("INBOX", readonly=True)
        flags = c.get_flags(c.search("ALL"))
        assert all(b"\\Seen" not in f for f in flags.values())  # BODY.PEEK[]: never marked read
    h.agent.mailbox.close()
    dovecot.deliver(user, email("While the agent was stopped"))
    restarted = harness_for(cfg)  # a new process: the cursor comes from the database
    assert restarted.run().messages == 1
    assert subjects(restarted)[-1] == "While the agent was stopped"


@pytest.mark.integration
def test_processed_and_unmatched_mail_is_filed_in_folders(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    extra = 'processed_folder = "Processed"\nunmatched_folder = "Unmatched"\nquarantine_folder = "Quarantine"'
    h = harness_for(imap_config(tmp_path, dovecot, user, extra))
    h.add_deal()
    dovecot.deliver(user, email("For Acme"))
    dovecot.deliver(user, email("From nobody we know", sender=("X", "x@unknown.example")))
    broken_invite = (
        b"From: sam@example.com\r\nTo: onboarding@example.com\r\nSubject: Invitation\r\n"
        b"Content-Type: text/calendar; method=REQUEST\r\n\r\nthis is not a calendar\r\n"
    )
    dovecot.deliver(user, broken_invite)  # cannot be processed: quarantined
    h.run()
    with IMAPClient("127.0.0.1", dovecot.imap_port, ssl=False) as c:
        c.login(user, PASSWORD)
        counts = {
            f: c.folder_status(f, ["MESSAGES"])[b"MESSAGES"]
            for f in ("INBOX", "Processed", "Unmatched", "Quarantine")
        }
    assert counts == {"INBOX": 0, "Processed": 1, "Unmatched": 1, "Quarantine": 1}


@pytest.mark.integration
def test_uidvalidity_change_resyncs_without_processing_anything_twice(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    h = harness_for(imap_config(tmp_path, dovecot, user))
    h.add_deal()
    for i in range(3):
        dovecot.deliver(user, email(f"Before {i}"))
    h.run()
    h.agent.mailbox.close()
    dovecot.stop()
    maildir = dovecot.maildir(user)
    for f in maildir.glob("dovecot*"):  # forget the UID list: Dovecot assigns a new UIDVALIDITY
        f.unlink()
    dovecot.start()
    dovecot.deliver(user, email("After the change"))
    report = h.run()
    assert report.messages == 1
    assert subjects(h) == ["Before 0", "Before 1", "Before 2", "After the change"]


# --- IDLE and reconnects ---------------------------------------------------------------------------
class Running:
    """The daemon loop in a thread, as in production (signals are not needed to stop it)."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.thread = threading.Thread(target=h.agent.run_forever, daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.h.agent.request_stop()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the agent did not stop within 15 s"


def daemon_harness(tmp_path: Path, dovecot: Dovecot, user: str) -> Harness:
    # Full passes only every 5 minutes: anything sooner must come from IDLE.
    cfg = imap_config(tmp_path, dovecot, user)
    cfg.write_text(cfg.read_text() + "\n[daemon]\npoll_seconds = 300\n")
    h = Harness(load_config(cfg), ManualClock(datetime.now(UTC)))
    h.add_deal()
    return h


@pytest.mark.integration
def test_mail_delivered_during_idle_is_processed_within_seconds(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    h = daemon_harness(tmp_path, dovecot, user)
    with Running(h):
        wait_until(lambda: h.agent.mailbox.client is not None)  # type: ignore[attr-defined]
        time.sleep(0.5)  # in IDLE now
        dovecot.deliver(user, email("Pushed by IDLE"))
        took = wait_until(lambda: "Pushed by IDLE" in subjects(h), timeout=10)
    assert took < 5


@pytest.mark.integration
def test_a_kicked_client_and_a_restarted_server_miss_nothing(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    h = daemon_harness(tmp_path, dovecot, user)
    with Running(h):
        wait_until(lambda: h.agent.mailbox.client is not None)  # type: ignore[attr-defined]
        time.sleep(0.5)
        dovecot.kick(user)  # BYE in the middle of IDLE
        dovecot.deliver(user, email("Arrived while kicked out"))
        wait_until(lambda: "Arrived while kicked out" in subjects(h), timeout=20)
        dovecot.stop()
        time.sleep(1.0)  # the agent notices, backs off and retries
        dovecot.start()
        dovecot.deliver(user, email("Arrived after the restart"))
        wait_until(lambda: "Arrived after the restart" in subjects(h), timeout=30)
    assert subjects(h) == ["Arrived while kicked out", "Arrived after the restart"]


@pytest.mark.integration
def test_while_the_imap_server_is_unreachable_timers_and_sending_go_on_and_mail_comes_after(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    from datetime import timedelta

    from agent.health import status_data
    from tests.conftest import RealTime

    cfg = imap_config(
        tmp_path, dovecot, user, "reconnect_max_seconds = 2\n[calendar]\ncompletion_grace_minutes = 0"
    )
    cfg.write_text(cfg.read_text() + "\n[daemon]\npoll_seconds = 300\n")
    h = Harness(load_config(cfg), RealTime())  # real time, as in production
    h.add_deal()
    call_end = datetime.now(UTC) + timedelta(seconds=6)
    h.meeting("intro", "Acme Radio introduction call", call_end - timedelta(minutes=30), 30)
    with Running(h):
        wait_until(lambda: h.agent.mailbox.client is not None)  # type: ignore[attr-defined]
        dovecot.stop()
        try:
            # the call ends while the server is away: its recap still goes (the file transport)
            wait_until(lambda: "recap" in h.sent_templates(), timeout=30)
            time.sleep(8)  # several reconnects fail meanwhile, 2 s apart at most
            mailbox = status_data(h.config, h.agent.sessions)["mailbox"]
            assert h.agent.mailbox.failures >= 3  # type: ignore[attr-defined]
            assert "Connection refused" in mailbox["last_error"] or "reconnecting" in mailbox["last_error"]
        finally:
            dovecot.start()
        dovecot.deliver(user, email("Sent while the server was down"))
        wait_until(lambda: "Sent while the server was down" in subjects(h), timeout=30)
        wait_until(lambda: not status_data(h.config, h.agent.sessions)["mailbox"]["last_error"], timeout=30)


# --- killed in the middle of a batch -----------------------------------------------------------------
@pytest.mark.integration
def test_sigkill_in_the_middle_of_a_batch_then_restart_processes_each_message_exactly_once(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    import os
    import signal
    import sqlite3
    import subprocess
    import sys

    cfg = imap_config(tmp_path, dovecot, user)
    env = agent_env()
    cli = [sys.executable, "-m", "agent", "--config", str(cfg)]
    add = [
        *cli,
        "deals",
        "add",
        "--name",
        "Acme Radio",
        "--contact",
        f"Jane,{CLIENT[1]},client_admin",
        "--csm",
        "sam@example.com",
    ]
    subprocess.run(add, env=env, check=True, capture_output=True, timeout=60)
    total = 600
    dovecot.deliver_many(user, [email(f"Batch message {i}", n=i) for i in range(total)])
    db = tmp_path / "state" / "agent.db"

    def processed() -> int:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("select count(*) from messages").fetchone()[0])

    proc = start_daemon(cfg, quiet=True)
    try:
        wait_until(lambda: processed() >= 25, timeout=60)
        os.kill(proc.pid, signal.SIGKILL)  # mid-batch: some of the batch committed, the rest not
    finally:
        proc.wait(timeout=30)
    at_kill = processed()
    assert 0 < at_kill < total, "the kill must land in the middle of the work"
    done = subprocess.run([*cli, "run", "--once"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select subject, count(*) from messages group by message_id").fetchall()
        events = conn.execute("select count(*) from inbound_events where source = 'mail'").fetchone()[0]
    assert len(rows) == total and all(count == 1 for _, count in rows)
    assert {s for s, _ in rows} == {f"Batch message {i}" for i in range(total)}
    assert events == total


@pytest.mark.integration
def test_xoauth2_login_with_an_access_token(
    tmp_path: Path, dovecot: Dovecot, user: str, oauth: TokenIntrospection
) -> None:
    oauth.tokens["ya29.good-token"] = user
    cfg = imap_config(tmp_path, dovecot, user, 'auth = "xoauth2"')
    (tmp_path / "imap-password").write_text("ya29.good-token\n")  # the secret is the access token
    h = harness_for(cfg)
    dovecot.deliver(user, email("Over OAuth"))
    assert h.run().messages == 1
    (tmp_path / "imap-password").write_text("ya29.expired\n")
    refused = harness_for(cfg)
    refused.run()
    assert "authentication" in refused.agent.last_mail_error.lower()


@pytest.mark.integration
def test_idle_is_reissued_before_the_renewal_time(tmp_path: Path, dovecot: Dovecot, user: str) -> None:
    h = harness_for(imap_config(tmp_path, dovecot, user))
    mailbox = h.agent.mailbox
    # the config allows no less than 30 s; a copy with 1 s shows the renewal without a long test
    mailbox.s = mailbox.s.model_copy(update={"idle_renew_seconds": 1})  # type: ignore[attr-defined]
    # Log in first: Dovecot slows logins from an address after failed ones (other tests), not IDLE.
    mailbox.connect()  # type: ignore[attr-defined]
    started = time.monotonic()
    mailbox.wait(20, lambda: False)  # nothing arrives: IDLE ends at the renewal time, not at the timeout
    took = time.monotonic() - started
    assert 0.9 < took < 5
    assert mailbox.client is not None  # type: ignore[attr-defined]  # still connected: IDLE done, ready again
    dovecot.deliver(user, email("After a renewal"))
    assert h.run().messages == 1  # the same connection goes on working


@pytest.mark.integration
def test_nothing_is_fetched_again_although_uid_n_star_returns_the_last_uid(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    h = harness_for(imap_config(tmp_path, dovecot, user))
    dovecot.deliver(user, email("Only one"))
    assert h.run().messages == 1
    # the server answers UID SEARCH UID 2:* with UID 1 (RFC 3501): the agent must not fetch it again
    assert list(h.agent.mailbox.fetch()) == []


@pytest.mark.integration
def test_an_invitation_delivered_to_the_mailbox_is_picked_up_by_the_watcher(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    from datetime import timedelta

    h = harness_for(imap_config(tmp_path, dovecot, user))
    h.add_deal()
    start = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    ics = ics_event(
        "imap-invite@google.com", "Acme Radio kick-off", start, stamp=start, organizer=CLIENT[1], attendees=()
    )
    dovecot.deliver(
        user,
        (
            f"From: Jane <{CLIENT[1]}>\r\nTo: onboarding@example.com\r\nSubject: Invitation: Acme Radio kick-off\r\n"
            "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
            'Content-Type: text/calendar; charset="UTF-8"; method=REQUEST\r\n\r\n' + ics
        ).encode(),
    )
    h.run()
    [meeting] = h.show(1)["meetings"]
    assert (meeting["type"], meeting["start"]) == ("introduction-call", "2026-12-01T14:00:00+00:00")
    h.at(start + timedelta(hours=1))
    h.run()
    assert h.sent_templates() == ["intro", "recap"]


@pytest.mark.integration
@pytest.mark.parametrize("auth", ["password", "xoauth2"])
def test_no_secret_appears_in_a_verbose_log(
    tmp_path: Path, dovecot: Dovecot, user: str, auth: str, oauth: TokenIntrospection
) -> None:
    import subprocess
    import sys

    secret = PASSWORD if auth == "password" else f"ya29.token-for-{user}"
    oauth.tokens[secret] = user
    cfg = imap_config(tmp_path, dovecot, user, f'auth = "{auth}"')
    (tmp_path / "imap-password").write_text(secret + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "agent", "-v", "--config", str(cfg), "run", "--once"],
        env=agent_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "LOGIN" in done.stderr or "AUTHENTICATE" in done.stderr  # the debug log shows the login ...
    # ... but never the secret. imapclient masks logins itself; test_logs.py shows the agent's own filter,
    # which also covers what any other library or our own code might log.
    assert secret not in done.stderr


@pytest.mark.integration
def test_arrival_time_is_the_servers_internaldate_in_utc(tmp_path: Path, dovecot: Dovecot, user: str) -> None:
    h = harness_for(imap_config(tmp_path, dovecot, user))
    before = datetime.now(UTC).replace(microsecond=0)
    dovecot.deliver(user, email("Timed"))
    [raw] = list(h.agent.mailbox.fetch())
    # where the reaction-time metric starts: when Dovecot got it, not the Date header (2026-11-30 09:00)
    assert raw.arrived_at is not None and raw.arrived_at.utcoffset() == UTC.utcoffset(None)
    assert before <= raw.arrived_at <= datetime.now(UTC)


@pytest.mark.integration
def test_a_50_mb_attachment_is_logged_by_its_headers_and_the_mail_after_it_goes_on(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    import os

    h = harness_for(imap_config(tmp_path, dovecot, user))
    deal = h.add_deal()
    big = EmailMessage()
    big["From"], big["To"], big["Subject"] = (
        f"{CLIENT[0]} <{CLIENT[1]}>",
        "onboarding@example.com",
        "Data export",
    )
    big["Message-ID"] = "<export@acme-radio.example>"
    big.set_content("Here is our export.")
    big.add_attachment(
        os.urandom(50 * 1024 * 1024), maintype="application", subtype="zip", filename="export.zip"
    )
    dovecot.deliver(user, big.as_bytes())
    dovecot.deliver(user, email("Did the export arrive?"))
    report = h.run()
    assert (report.messages, report.quarantined) == (2, 0)
    messages = {m["subject"]: m for m in h.show(deal)["messages"]}
    assert set(messages) == {"Data export", "Did the export arrive?"}  # both on the deal, by their sender
    assert "over the 25 MB of [mailbox] max_message_mb" in messages["Data export"]["excerpt"]


# --- large mail: what one fetch holds ----------------------------------------------------------------
@dataclass(frozen=True)
class Fetched:
    uids: list[int]
    items: list[str]
    size: int  # bytes of message data (bodies, headers) in the answer


def record_fetches(monkeypatch: pytest.MonkeyPatch) -> list[Fetched]:
    """Every FETCH the agent sends from now on, with the bytes of message data it got back."""
    calls: list[Fetched] = []
    original = IMAPClient.fetch

    def fetch(self: IMAPClient, messages: Any, data: Any, modifiers: Any = None) -> Any:
        got = original(self, messages, data, modifiers)
        size = sum(len(v) for item in got.values() for v in item.values() if isinstance(v, bytes))
        calls.append(Fetched(list(messages), [str(d) for d in data], size))
        return got

    monkeypatch.setattr(IMAPClient, "fetch", fetch)
    return calls


def attached(subject: str, mb: float) -> bytes:
    """A client's email with `mb` MB of attachment (a third more on the wire: base64)."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = f"{CLIENT[0]} <{CLIENT[1]}>", "onboarding@example.com", subject
    msg["Message-ID"] = f"<{subject.replace(' ', '-')}-{time.monotonic_ns()}@acme-radio.example>"
    msg.set_content(f"{subject}, attached.")
    if mb:
        blob = random.Random(subject).randbytes(int(mb * 1_000_000))
        msg.add_attachment(blob, maintype="application", subtype="pdf", filename="scan.pdf")
    return msg.as_bytes()


@pytest.mark.integration
def test_bodies_are_fetched_in_groups_bounded_by_bytes_in_order_up_to_the_last_uid(
    tmp_path: Path, dovecot: Dovecot, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.mailboxes import imap

    monkeypatch.setattr(imap, "FETCH_BYTES", 400_000)
    h = harness_for(imap_config(tmp_path, dovecot, user, "batch_size = 5\nmax_message_mb = 1"))
    h.add_deal()
    attachments = [0, 0.2, 0.2, 0, 1.5, 0, 0.5, 0.2, 0]  # MB: 0.27, 0.68 and 2 MB on the wire
    for i, mb in enumerate(attachments):
        dovecot.deliver(user, attached(f"Message {i}", mb))
    calls = record_fetches(monkeypatch)
    assert h.run().messages == len(attachments)
    assert subjects(h) == [f"Message {i}" for i in range(len(attachments))]  # the mailbox's order
    bodies = [c for c in calls if c.items == ["BODY.PEEK[]"]]
    # at most FETCH_BYTES a FETCH, or one message alone (UID 7, 0.68 MB); UID 5 is over max_message_mb
    assert [c.uids for c in bodies] == [[1, 2], [3, 4], [6], [7], [8, 9]]
    assert all(c.size <= 400_000 for c in bodies if len(c.uids) > 1)
    headers = [c for c in calls if c.items[0].startswith("BODY.PEEK[HEADER]")]
    assert [c.uids for c in headers] == [[5]] and headers[0].size < 10_000
    assert [c.items for c in calls if c not in bodies + headers] == [["RFC822.SIZE", "INTERNALDATE"]] * 2
    with h.agent.sessions.begin() as s:
        cursor = Repo(s).cursor(h.agent.mailbox.source)  # type: ignore[attr-defined]
    assert cursor is not None and cursor.endswith(":9")
    assert h.run().messages == 0


@pytest.mark.integration
def test_a_message_over_max_message_mb_is_fetched_by_its_headers_and_its_note_gives_its_real_size(
    tmp_path: Path, dovecot: Dovecot, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.mime.parse import parse_message

    h = harness_for(imap_config(tmp_path, dovecot, user, "max_message_mb = 1"))
    deal = h.add_deal()
    dovecot.deliver(user, attached("Scanned contract", 3))
    calls = record_fetches(monkeypatch)
    [raw] = list(h.agent.mailbox.fetch())  # not acknowledged: the run below reads it again
    assert sum(c.size for c in calls) < 10_000  # its body never crossed the network
    with IMAPClient("127.0.0.1", dovecot.imap_port, ssl=False) as c:
        c.login(user, PASSWORD)
        c.select_folder("INBOX", readonly=True)
        whole = c.fetch([1], ["BODY.PEEK[]"])[1][b"BODY[]"]
    assert len(whole) > 4_000_000 and raw.size == len(whole) and len(raw.data) < 10_000
    # the message the parser makes of the whole, bar the hash (of what was fetched: the headers)
    got = parse_message(raw.data, max_bytes=1_000_000, size=raw.size)
    want = parse_message(whole, max_bytes=1_000_000)
    assert replace(got, content_hash="") == replace(want, content_hash="")
    assert f"the message is {len(whole) / 1e6:.1f} MB, over the 1 MB of [mailbox] max_message_mb" in got.text
    report = h.run()
    assert (report.messages, report.quarantined) == (1, 0)
    [logged] = h.show(deal)["messages"]
    assert f"the message is {len(whole) / 1e6:.1f} MB, over the 1 MB" in logged["excerpt"]


@pytest.mark.integration
def test_a_fetched_message_is_held_once_not_also_formatted_for_a_debug_log(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    import tracemalloc

    h = harness_for(imap_config(tmp_path, dovecot, user))
    dovecot.deliver(user, attached("Site survey", 3))
    h.agent.mailbox.connect()  # type: ignore[attr-defined]
    tracemalloc.start()
    try:
        [raw] = list(h.agent.mailbox.fetch())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # At the debug level imapclient gives imaplib (5) the message was also formatted with %r: 3.3 times it.
    assert peak < 1.5 * len(raw.data)


@pytest.mark.integration
def test_draining_three_20_mb_messages_keeps_the_worker_under_the_memory_limit(dovecot: Dovecot) -> None:
    from bench.hostile import DEALS, LIMIT_MB, attachment, drain
    from bench.ingest import messages

    mail = messages(9, DEALS)
    for k in range(3):  # 15 MB attachments, 20 MB on the wire: under max_message_mb, fetched whole
        mail.insert(3 * k + 1, attachment(k + 1, 15))
    result = drain(mail, processes=0, imap=dovecot)  # a worker process of its own: its peak RSS is its own
    print(f"\nworker peak RSS {result.worker_mb:.0f} MB (limit {LIMIT_MB:.0f} MB) in {result.seconds:.1f} s")
    assert (result.processed, result.quarantined) == (len(mail), 0)
    # Fifty messages in one FETCH held all three at once, and imapclient's debug level had imaplib
    # format each of them with %r: 300 MB. One at a time, as from a Maildir: some 140 MB.
    assert result.worker_mb < LIMIT_MB


def test_an_attachment_under_the_limit_is_measured_without_decoding_it() -> None:
    import os

    from agent.mime.parse import parse_message

    msg = EmailMessage()
    msg["From"], msg["Subject"] = f"{CLIENT[0]} <{CLIENT[1]}>", "Logo"
    msg.set_content("Our logo.")
    for size in (1, 2, 3, 1_000_001):  # every base64 padding case
        msg.add_attachment(os.urandom(size), maintype="image", subtype="png", filename=f"{size}.png")
    parsed = parse_message(msg.as_bytes(), max_bytes=25_000_000)
    assert [a.size for a in parsed.attachments] == [1, 2, 3, 1_000_001]
    assert parsed.new_text.strip() == "Our logo."


@pytest.mark.integration
def test_check_connect_logs_in_reads_nothing_and_says_what_is_wrong(
    tmp_path: Path, dovecot: Dovecot, user: str, smtp: Any, certs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent.cli import main
    from tests.integration.conftest import smtp_config

    cfg = imap_config(tmp_path, dovecot, user)
    (tmp_path / "smtp").mkdir()
    transport = smtp_config(tmp_path / "smtp", smtp, certs).read_text().split("[transport]", 1)[1]
    cfg.write_text(cfg.read_text() + "\n[transport]" + transport)
    dovecot.deliver(user, email("Stays unread"))
    accepted = len(smtp.accepted)
    assert main(["--config", str(cfg), "check", "--connect"]) == 0
    out = capsys.readouterr().out
    assert f"ok: mailbox: imap:{user}@127.0.0.1/INBOX: logged in; 1 messages in INBOX" in out
    assert "ok: transport: SMTP 127.0.0.1: connected and logged in; nothing sent" in out
    assert len(smtp.accepted) == accepted
    with IMAPClient("127.0.0.1", dovecot.imap_port, ssl=False) as client:
        client.login(user, PASSWORD)
        client.select_folder("INBOX", readonly=True)
        assert client.search(["UNSEEN"])  # not marked read

    (tmp_path / "imap-password").write_text("wrong\n")
    assert main(["--config", str(cfg), "check", "--connect"]) == 1
    captured = capsys.readouterr()
    assert "error: mailbox: LoginError" in captured.err and "ok: transport" in captured.out  # each part tried


@pytest.mark.integration
def test_the_opt_in_live_scenario_itself_works_here_on_dovecot_and_smtp(
    tmp_path: Path, dovecot: Dovecot, user: str, smtp: Any, certs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tests/live runs against a real tenant only when asked; this runs its code on the local servers."""
    from tests.integration.conftest import smtp_config
    from tests.live import test_live

    cfg = imap_config(tmp_path, dovecot, user)
    (tmp_path / "smtp").mkdir()
    transport = smtp_config(tmp_path / "smtp", smtp, certs).read_text().split("[transport]", 1)[1]
    cfg.write_text(
        cfg.read_text().replace("onboarding@example.com", f"{user}@example.com") + "\n[transport]" + transport
    )
    monkeypatch.setattr(test_live, "POLL_SECONDS", 0.5)
    config = load_config(cfg)
    test_live.test_the_real_service_signs_in_sends_once_and_reads_it_back_once(config)


@pytest.mark.integration
def test_xoauth2_with_a_refresh_token_fetches_and_renews_access_tokens(
    tmp_path: Path, dovecot: Dovecot, user: str, oauth: TokenIntrospection
) -> None:
    from agent.connect import oauth2

    oauth2.forget()
    oauth.refresh_tokens[f"1//refresh-{user}"] = user
    (tmp_path / "client-secret").write_text("GOCSPX-test\n")
    (tmp_path / "client-secret").chmod(0o600)
    cfg = imap_config(
        tmp_path,
        dovecot,
        user,
        f'auth = "xoauth2"\noauth2_token_url = "{oauth.token_url}"\noauth2_client_id = "123.apps.example"\n'
        f'oauth2_client_secret_file = "{tmp_path / "client-secret"}"',
    )
    (tmp_path / "imap-password").write_text(f"1//refresh-{user}\n")  # the secret is now the refresh token
    h = harness_for(cfg)
    dovecot.deliver(user, email("Over a renewed token"))
    assert h.run().messages == 1
    assert len(oauth.issued) == 1  # one access token, reused while it is valid
    h.agent.mailbox.close()
    harness_for(cfg).run()
    assert len(oauth.issued) == 1

    oauth.expires_in = 60  # shorter than the renewal margin: each new connection gets a fresh token
    oauth2.forget()
    for _ in range(2):
        h = harness_for(cfg)
        dovecot.deliver(user, email("Again"))
        assert h.run().messages == 1
        h.agent.mailbox.close()
    assert len(oauth.issued) == 3
    oauth.expires_in = 3599

    (tmp_path / "imap-password").write_text("1//revoked\n")
    refused = harness_for(cfg)
    refused.run()
    assert "invalid_grant" in refused.agent.last_mail_error
