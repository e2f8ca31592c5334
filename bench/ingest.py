"""Backlog ingest over IMAP: the whole pipeline against a bare fetch-and-parse of the same mailbox.

    .venv/bin/python bench/ingest.py                      # 2,000 messages, 1,000 deals (a few minutes)
    .venv/bin/python bench/ingest.py --messages 10000 --deals 10000

Starts a private Dovecot (as the tests do), fills a mailbox with realistic mail
(plain replies from deal contacts, some with a 100 KB attachment, some with a
meeting invitation; about 50 KB on average), and measures in the same run:

- the baseline: imapclient fetching BODY.PEEK[] in batches of 50 and the
  standard library parsing each message, parts decoded;
- the agent: the same mailbox taken in by Agent.run_once (fetch, parse, match
  against the deals and their contacts, rules, one commit per message, the
  cursor), on SQLite; the target is at least 0.6 times the baseline's rate;
- peak memory (RSS) of the agent's process ingesting a tenth of the messages
  and all of them, each in a process of its own: it should stay flat.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository: agent/, tests/

from bench.matching import NOW, build
from tests.servers import Dovecot

PASSWORD = "bench-secret"


def messages(count: int, deals: int) -> list[bytes]:
    """Replies from deal contacts; every 5th with a 100 KB attachment, every 10th with an invitation."""
    out = []
    for n in range(count):
        i = n % deals
        msg = EmailMessage()
        msg["From"] = f"Person 3 <p3@client{i}.example>"
        msg["To"] = "Onboarding <onboarding@example.com>"
        msg["Subject"] = f"Re: Client {i} Ltd rollout, item {n}"
        msg["Message-ID"] = f"<bench-{n}@client{i}.example>"
        msg["Date"] = "Mon, 30 Nov 2026 09:00:00 +0000"
        msg.set_content(("Thanks for the update on the rollout. " * 60 + "\n") * (8 + n % 12))
        if n % 5 == 0:
            msg.add_attachment(
                os.urandom(100_000), maintype="application", subtype="pdf", filename="plan.pdf"
            )
        if n % 10 == 0:
            start = datetime(2026, 12, 1, 14, tzinfo=UTC) + timedelta(days=n % 30)
            ics = (
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
                f"UID:bench-{n}@client{i}.example\r\nDTSTAMP:20261130T090000Z\r\n"
                f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\n"
                f"SUMMARY:Client {i} Ltd training\r\nORGANIZER:mailto:p3@client{i}.example\r\n"
                "END:VEVENT\r\nEND:VCALENDAR\r\n"
            )
            msg.add_attachment(ics.encode(), maintype="text", subtype="calendar", filename="invite.ics")
        out.append(msg.as_bytes())
    return out


def baseline(dovecot: Dovecot, user: str) -> float:
    """Messages per second: fetch in batches of 50 and parse, parts decoded."""
    from imapclient import IMAPClient

    started = time.perf_counter()
    with IMAPClient("127.0.0.1", dovecot.imap_port, ssl=False) as client:
        client.login(user, PASSWORD)
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["ALL"])
        for first in range(0, len(uids), 50):
            for data in client.fetch(uids[first : first + 50], ["BODY.PEEK[]"]).values():
                parsed = BytesParser(policy=default).parsebytes(data[b"BODY[]"])
                for part in parsed.walk():
                    if not part.is_multipart():
                        part.get_content()
    return len(uids) / (time.perf_counter() - started)


def pipeline(port: int, user: str, deals: int, folder: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """In a process of its own: ingest the mailbox with the agent; reports (messages/s, count, peak RSS MB)."""
    from agent.config import load_config
    from agent.service import Agent
    from agent.store import models as m

    base = Path(folder)
    repo = build(base, deals)  # deals with 10 contacts and a client domain each
    for i in range(deals):
        repo.s.add(m.RoleAssignment(deal_id=i + 1, role="csm", email="sam@example.com", name="Sam"))
        repo.s.add(m.StageVisit(deal_id=i + 1, stage="set-up", entered_at=NOW))
    repo.s.commit()
    (base / "password").write_text(PASSWORD + "\n")
    (base / "password").chmod(0o600)
    (base / "agent.toml").write_text(
        f'[agent]\naddress = "onboarding@example.com"\ninternal_domains = ["example.com"]\n'
        f'[store]\nurl = "sqlite:///{base / f"bench-{deals}.db"}"\n'
        f'[mailbox]\nbackend = "imap"\nhost = "127.0.0.1"\nport = {port}\ntls = "none"\n'
        f'username = "{user}"\npassword_file = "{base / "password"}"\n'
        f'[calendar]\nbackend = "invites"\n[review]\ntemplates = []\n[paths]\nstate = "{base / "state"}"\n'
    )
    agent = Agent(load_config(base / "agent.toml"))
    started = time.perf_counter()
    count = 0
    while True:
        report = agent.run_once(calendar=False)
        count += report.messages + report.quarantined
        if report.messages + report.quarantined == 0:
            break
    elapsed = time.perf_counter() - started
    queue.put((count / elapsed, count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def run_agent(dovecot: Dovecot, user: str, deals: int) -> tuple[float, int, float]:
    queue: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as folder:
        child = multiprocessing.get_context("spawn").Process(
            target=pipeline, args=(dovecot.imap_port, user, deals, folder, queue)
        )
        child.start()
        result: tuple[float, int, float] = queue.get(timeout=3600)
        child.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--deals", type=int, default=1000)
    args = parser.parse_args()
    dovecot = Dovecot()
    for user in ("small", "full"):
        dovecot.add_user(user, PASSWORD)
    dovecot.start()
    try:
        mail = messages(args.messages, args.deals)
        print(
            f"{len(mail)} messages, {sum(map(len, mail)) / len(mail) / 1000:.0f} KB on average; {args.deals} deals"
        )
        dovecot.deliver_many("full", mail)
        dovecot.deliver_many("small", mail[: max(1, len(mail) // 10)])
        base = baseline(dovecot, "full")
        rate, count, rss_full = run_agent(dovecot, "full", args.deals)
        _, small_count, rss_small = run_agent(dovecot, "small", args.deals)
        assert count == len(mail), f"the agent took in {count} of {len(mail)} messages"
        print(f"{'':<34}{'msg/s':>10}{'ratio':>8}")
        print(f"{'bare fetch + parse':<34}{base:>10.0f}{1.0:>8.2f}")
        print(f"{'agent: fetch, parse, match, commit':<34}{rate:>10.0f}{rate / base:>8.2f}   target >= 0.60")
        print(f"peak RSS: {rss_small:.0f} MB for {small_count} messages, {rss_full:.0f} MB for {count} "
              f"(ratio {rss_full / rss_small:.2f}; target flat, under 200 MB)")  # fmt: skip
    finally:
        dovecot.stop()


if __name__ == "__main__":
    main()
