"""Three workers on one PostgreSQL store, one killed mid-run.

Nothing lost, nothing sent twice, and the dead worker's mailbox taken over.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from agent.clock import ManualClock
from agent.config import load_config
from agent.deals import ContactSpec
from agent.store import models as m
from agent.store.db import open_store
from tests.conftest import Harness, start_daemon, stop_daemon, wait_until
from tests.integration.conftest import imap_config, smtp_config
from tests.servers import Dovecot, Postgres, SmtpRelay

DEALS, MESSAGES = 12, 60


def email(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Someone <someone@elsewhere.example>"
    msg["To"] = "onboarding@example.com"
    msg["Subject"] = f"Worker test {n}"
    msg["Message-ID"] = f"<worker-test-{n}-{time.monotonic_ns()}@elsewhere.example>"
    msg.set_content("Hello")
    return msg.as_bytes()


def worker_config(
    folder: Path, name: str, url: str, dovecot: Dovecot, user: str, smtp: SmtpRelay, certs: dict[str, Path]
) -> Path:
    folder.mkdir(parents=True)
    cfg = imap_config(folder, dovecot, user)
    (folder / "smtp").mkdir()
    transport = smtp_config(folder / "smtp", smtp, certs).read_text().split("[transport]", 1)[1]
    cfg.write_text(
        cfg.read_text()
        + "\n[transport]"
        + transport
        + f'\n[store]\nurl = "{url}"\n[calendar]\nbackend = "invites"\n'
        + f'[daemon]\npoll_seconds = 1\nworker_id = "{name}"\nlease_seconds = 3\nclaim_seconds = 5\n'
    )
    return cfg


@pytest.mark.integration
def test_three_workers_one_killed_lose_nothing_and_send_nothing_twice(
    tmp_path: Path, postgres: Postgres, dovecot: Dovecot, user: str, smtp: SmtpRelay, certs: dict[str, Path]
) -> None:
    url = postgres.create("workers")
    configs = [worker_config(tmp_path / f"w{i}", f"w{i}", url, dovecot, user, smtp, certs) for i in (1, 2, 3)]
    seed = Harness(load_config(configs[0]), ManualClock(datetime.now(UTC)))
    for n in range(DEALS):  # each hand-over queues an intro for the workers to send
        seed.add_deal(
            f"Client {n}", contacts=[ContactSpec(f"C{n}", f"client{n}@example.net", "client_admin")]
        )
    sessions = open_store(url)

    def holder() -> str:
        with sessions.begin() as s:
            lease = s.scalars(select(m.Lease).where(m.Lease.name.like("mailbox:%"))).first()
            return lease.holder if lease is not None else ""

    def processed() -> Counter[str]:
        with sessions.begin() as s:
            return Counter(
                s.scalars(select(m.Message.subject).where(m.Message.subject.like("Worker test %")))
            )

    smtp.delay = 0.3  # a slow server: three workers flushing at once would race for each email
    workers: dict[str, Any] = {
        f"w{i}": start_daemon(cfg, quiet=True) for i, cfg in enumerate(configs, start=1)
    }
    try:
        wait_until(lambda: holder() != "", timeout=30)
        dovecot.deliver_many(user, [email(n) for n in range(MESSAGES // 2)])
        wait_until(lambda: len(processed()) >= 5, timeout=30)
        dead = holder()
        workers.pop(dead).send_signal(signal.SIGKILL)  # in the middle of the batch, as a crash would
        dovecot.deliver_many(user, [email(n) for n in range(MESSAGES // 2, MESSAGES)])
        took_over = wait_until(lambda: holder() not in ("", dead), timeout=30)
        wait_until(lambda: len(processed()) == MESSAGES, timeout=90)
        with sessions.begin() as s:
            intros = list(s.scalars(select(m.OutboxEmail).where(m.OutboxEmail.template == "intro")))
        wait_until(lambda: all(_status(sessions, e.id) == "sent" for e in intros), timeout=60)
    finally:
        smtp.delay = 0.0
        for proc in workers.values():
            stop_daemon(proc)
    counts = processed()
    assert set(counts.values()) == {1} and len(counts) == MESSAGES  # each message once, none lost
    assert took_over < 10  # the dead worker's mailbox was taken over within its lease (3 s) and a pass
    delivered = Counter(mid for mid, _ in smtp.accepted)
    with sessions.begin() as s:
        resends = list(s.scalars(select(m.AuditEntry).where(m.AuditEntry.kind == "email_resent")))
        resent = {a.details.get("outbox_id") for a in resends}
        # only what the dead worker was in the middle of sending is sent again, never a live worker's
        assert {a.details.get("claimed_by") for a in resends} <= {dead}
        ids = {
            e.id: e.message_id
            for e in s.scalars(select(m.OutboxEmail).where(m.OutboxEmail.template == "intro"))
        }
    for outbox_id, message_id in ids.items():
        # once each; twice only where a worker died between handing it to the server and recording it
        assert delivered[message_id] == 1 or (delivered[message_id] == 2 and outbox_id in resent), message_id


def _status(sessions: Any, email_id: int) -> str:
    with sessions.begin() as s:
        return str(s.get(m.OutboxEmail, email_id).status)
