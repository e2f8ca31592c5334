"""A mailbox's history, over a real Dovecot: what the folder held before the agent first watched it is
recorded (its row, its deal) but not acted on: no forward, no command, no question, no unmatched entry.
What arrives after the first watch is acted on, also after a restart in the middle of the first
backlog; `[mailbox] history = "act"` acts on the old mail as before (docs/mail.md, "History")."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.config import load_config
from agent.dashboard.deal_words import Words
from agent.dashboard.story import story
from agent.deals import ContactSpec
from agent.store.repo import Repo
from tests.conftest import CLIENT, CSM, Harness, agent_env
from tests.conftest import RealTime as Clock
from tests.integration.conftest import imap_config
from tests.servers import Dovecot

pytestmark = pytest.mark.integration
AGENT = ("Onboarding", "onboarding@example.com")
STRANGER = ("Pat Stranger", "pat@elsewhere.example")
_ids = iter(range(1, 10_000))


def mail(sender: tuple[str, str], to: tuple[str, str], subject: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{sender[0]} <{sender[1]}>"
    msg["To"] = f"{to[0]} <{to[1]}>"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<history-{next(_ids)}@{sender[1].split('@')[1]}>"
    msg["Date"] = "Tue, 03 Mar 2026 10:00:00 +0000"
    msg.set_content(body)
    return msg.as_bytes()


class World:
    """A team's mailbox over IMAP, two deals on which Jane is the client (so that her mail without the
    deal's address is in doubt), and the agent on real time."""

    def __init__(self, tmp_path: Path, dovecot: Dovecot, user: str, extra: str = "") -> None:
        self.cfg = imap_config(tmp_path, dovecot, user, extra)
        self.dovecot, self.user = dovecot, user
        self.h = Harness(load_config(self.cfg), Clock())
        jane = [ContactSpec(*CLIENT, "client_admin")]
        self.deal = self.h.add_deal("Acme Radio", stage="set-up", contacts=jane)
        self.other = self.h.add_deal("Acme Radio Europe", stage="set-up", contacts=jane)
        self.db = self.h.config.state_dir / "agent.db"

    def deal_address(self) -> tuple[str, str]:
        return ("Acme Radio", self.h.reply_address(self.deal))

    def deliver_old_mail(self) -> None:
        """What people handled before the agent came: a client's reply to the deal, a CSM's command,
        a stranger's question and Jane's mail that could be about either deal."""
        for data in (
            mail(CLIENT, self.deal_address(), "Re: our set-up", "Our IT lead is Tom; Tuesday 10:00 works."),
            mail(CSM, self.deal_address(), "Re: our set-up", "done create-training-users\n\nSam"),
            mail(STRANGER, AGENT, "Pricing", "What does it cost?"),
            mail(CLIENT, AGENT, "A question", "Which of our stations comes first?"),
        ):
            self.dovecot.deliver(self.user, data)

    def deliver_new_client_mail(self) -> None:
        new = mail(CLIENT, self.deal_address(), "Acme Radio: one more thing", "Add Tom too.")
        self.dovecot.deliver(self.user, new)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql).fetchall()

    def outbox(self) -> list[tuple[Any, ...]]:
        """(template, addresses it goes to) of each email the agent queued, in order."""
        rows = self.rows('select template, "to" from outbox order by id')
        return [(t, [a["email"] for a in json.loads(to)]) for t, to in rows]

    def task(self, key: str) -> str:
        [task] = [t for t in self.h.show(self.deal)["tasks"] if t["id"] == key]
        return str(task["status"])

    def unmatched(self) -> list[str]:
        with self.h.agent.sessions.begin() as s:
            return [m.subject for m in Repo(s).unmatched()]

    def story(self) -> list[str]:
        """The deal's story as its page tells it, one sentence a line."""
        with self.h.agent.sessions.begin() as s:
            repo = Repo(s)
            deal = repo.deal(self.deal)
            assert deal is not None
            pipeline = self.h.agent.runtime.pipelines[deal.pipeline]
            words = Words.of(deal, pipeline, ZoneInfo("UTC"), self.h.clock.now(), self.h.config.addresses())
            return [line.text for day in story(repo, deal, pipeline, words) for line in day.lines]

    def bound(self) -> str | None:
        source = self.h.agent.mailbox.source  # type: ignore[attr-defined]
        with self.h.agent.sessions.begin() as s:
            return Repo(s).cursor(f"{source}#history")


def test_old_mail_is_recorded_not_acted_on_and_new_mail_is(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    w = World(tmp_path, dovecot, user)
    w.deliver_old_mail()
    queued = w.outbox()  # what adding the deals queued
    assert w.h.run().messages == 4
    assert w.rows("select subject, deal_id, status from messages order by id") == [
        ("Re: our set-up", w.deal, "history"),  # on its deal, where its story shows it
        ("Re: our set-up", w.deal, "history"),
        ("Pricing", None, "history"),
        ("A question", None, "history"),
    ]
    assert w.outbox() == queued  # no forward to the CSM, no question to Jane or the CSMs
    assert w.task("create-training-users") == "open"  # the command was not obeyed
    assert w.unmatched() == []  # nobody is asked to find a deal for mail handled long ago
    events = [e for e in w.h.show(w.deal)["events"] if e["kind"] == "message_history"]
    assert len(events) == 2 and "not acted on" in events[0]["reason"]
    shown = w.h.show(w.deal)["messages"]
    assert [m["status"] for m in shown] == ["history", "history"]  # `deals show` tells them apart
    assert shown[0]["match_reason"]  # how it was matched, as for any message
    told = [line for line in w.story() if "before the agent first watched" in line]
    assert len(told) == 2 and "Jane Doe" in told[0] and "Tue 3 Mar" in told[0]  # the deal's story tells them

    w.deliver_new_client_mail()
    assert w.h.run().messages == 1
    [(template, to)] = w.outbox()[len(queued) :]
    assert (template, to) == ("client-reply", [CSM[1]])  # forwarded to the CSM, as new mail is
    assert w.rows("select status from messages where subject = 'Acme Radio: one more thing'") == [
        ("matched",)
    ]


def test_a_run_killed_in_the_first_backlog_keeps_the_rest_of_it_history(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    w = World(tmp_path, dovecot, user, "\n[daemon]\ngroup_items = 1\n")
    w.h.agent.close()  # the deals are there for the processes below
    for n in range(8):
        dovecot.deliver(user, mail(CLIENT, w.deal_address(), f"Acme Radio: old news {n}", "Tuesday 10:00?"))
    queued = w.outbox()
    # killed as it stores the 4th message: 3 committed one by one, no cursor stored (it is every 50)
    child = [sys.executable, "-m", "tests.integration.killed_run", str(w.cfg), "INSERT INTO messages", "4"]
    done = subprocess.run(child, env=agent_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    assert w.rows("select count(*), min(status), max(status) from messages") == [(3, "history", "history")]
    w.deliver_new_client_mail()  # after the first watch began, before the restart
    again = subprocess.run(
        [sys.executable, "-m", "agent", "--config", str(w.cfg), "run", "--once"],
        env=agent_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    statuses = w.rows("select status, count(*) from messages group by status order by status")
    assert statuses == [("history", 8), ("matched", 1)]  # the rest of the old mail stayed history
    assert [t for t, _ in w.outbox()[len(queued) :]] == ["client-reply"]  # only the new mail forwarded


def test_with_history_act_the_old_mail_is_acted_on_as_new(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    w = World(tmp_path, dovecot, user, 'history = "act"')
    w.deliver_old_mail()
    queued = w.outbox()
    w.h.run()
    assert w.rows("select status from messages order by id") == [
        ("matched",),
        ("matched",),
        ("unmatched",),
        ("held",),
    ]
    new = [template for template, _ in w.outbox()[len(queued) :]]
    assert "client-reply" in new and len(new) >= 2  # the forward, and the question which deal
    assert w.task("create-training-users") == "done"
    assert w.unmatched() == ["Pricing", "A question"]
    assert w.bound() is None  # nothing to tell history by: switching to "record" later marks none


def test_an_install_that_read_the_folder_before_has_no_history(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    w = World(tmp_path, dovecot, user, 'history = "act"')
    dovecot.deliver(user, mail(CLIENT, w.deal_address(), "Acme Radio: read long ago", "Hello"))
    w.h.run()
    w.h.agent.close()
    w.cfg.write_text(w.cfg.read_text().replace('history = "act"', ""))  # the default again: record
    w.h = Harness(load_config(w.cfg), Clock())  # a restart, its cursor stored
    w.deliver_new_client_mail()  # while the agent was down: news, not history
    queued = w.outbox()
    w.h.run()
    assert w.bound() is None
    assert [t for t, _ in w.outbox()[len(queued) :]] == ["client-reply"]


def test_a_new_uidvalidity_leaves_the_history_bound_behind(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    w = World(tmp_path, dovecot, user)
    w.deliver_old_mail()
    w.h.run()
    assert w.bound() is not None
    w.h.agent.mailbox.close()
    dovecot.stop()
    for f in dovecot.maildir(user).glob("dovecot*"):  # Dovecot forgets its UIDs: a new UIDVALIDITY
        f.unlink()
    dovecot.start()
    w.deliver_new_client_mail()
    queued = w.outbox()
    assert w.h.run().messages == 1  # the old mail is known by its content
    assert [t for t, _ in w.outbox()[len(queued) :]] == ["client-reply"]
    assert w.rows("select count(*) from messages where status = 'history'") == [(4,)]
