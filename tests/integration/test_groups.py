"""A backlog taken in groups (agent.daemon.group): one transaction for many messages, each run bare
and, after a failure, in a savepoint, acknowledged after the commit; a failing message alone
quarantined; a kill inside a group loses and doubles nothing; one new message still commits alone."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from agent.clock import ManualClock
from agent.config import load_config
from agent.daemon import group as group_module
from agent.handling.mail.pipeline import MailItem
from tests.conftest import MONDAY, Harness, agent_env
from tests.conftest import client_email as email
from tests.integration.conftest import imap_config
from tests.servers import Dovecot

pytestmark = pytest.mark.integration
TOTAL = 120


def harness(cfg: Path) -> Harness:
    h = Harness(load_config(cfg), ManualClock(MONDAY))
    h.add_deal()
    return h


def event_commits(h: Harness) -> list[int]:
    """A counter of the commits, from now on, of transactions that stored inbound events (the outbox's
    own commits around each email it sends are not the ingest's)."""
    engine = h.agent.sessions.kw["bind"]
    counted: list[int] = []
    carrying: set[int] = set()

    def statement(conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if sql.startswith("INSERT INTO inbound_events"):
            carrying.add(id(conn))

    def commit(conn: Any) -> None:
        if id(conn) in carrying:
            carrying.discard(id(conn))
            counted.append(1)

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    return counted


def savepoints(h: Harness) -> list[str]:
    """The SAVEPOINT statements run from now on."""
    seen: list[str] = []
    engine = h.agent.sessions.kw["bind"]
    event.listen(
        engine,
        "before_cursor_execute",
        lambda _c, _cur, sql, *_: seen.append(sql) if sql.startswith("SAVEPOINT") else None,
    )
    return seen


def long_groups(tmp_path: Path, dovecot: Dovecot, user: str) -> Path:
    """The mailbox's config with groups that end by their size alone (not by time): exact counts."""
    cfg = imap_config(tmp_path, dovecot, user)
    cfg.write_text(cfg.read_text() + "\n[daemon]\ngroup_seconds = 10\n")
    return cfg


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_a_backlog_commits_in_groups_and_each_message_once(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    cfg = long_groups(tmp_path, dovecot, user)
    h = harness(cfg)
    dovecot.deliver_many(user, [email(f"Backlog {i}", n=i) for i in range(TOTAL)])
    counted = event_commits(h)
    saved = savepoints(h)
    assert h.run().messages == TOTAL
    assert len(counted) == 3  # 50, 50 and 20 messages
    assert saved == []  # nothing failed: each message ran bare, no SAVEPOINT and RELEASE for it
    db = h.agent.config.state_dir / "agent.db"
    assert rows(db, "select count(distinct source_key), count(*) from messages") == [(TOTAL, TOTAL)]
    assert h.run().messages == 0  # the cursor moved with the commits: nothing comes twice


def test_a_groups_look_ups_are_shared_and_a_copy_in_it_is_acted_on_once(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    cfg = long_groups(tmp_path, dovecot, user)
    h = harness(cfg)
    batch = [email(f"Backlog {i}", n=i) for i in range(TOTAL)]
    batch.insert(12, batch[10])  # the same message twice, two apart: in one look-ahead
    dovecot.deliver_many(user, batch)
    engine = h.agent.sessions.kw["bind"]
    look_ups: list[str] = []
    id_look_ups: list[str] = []  # a message's own Message-ID look-up (MessageQueries.message_known)
    contact_look_ups: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if sql.lstrip().startswith("SELECT") and "FROM inbound_events" in sql:
            look_ups.append(sql)
        if " ".join(sql.split()).startswith("SELECT messages.id FROM messages WHERE messages.message_id"):
            id_look_ups.append(sql)
        if " ".join(sql.split()).startswith("SELECT contacts.deal_id FROM contacts WHERE contacts.email ="):
            contact_look_ups.append(sql)  # a sender's own (DirectoryQueries.deals_by_email)

    event.listen(engine, "before_cursor_execute", statement)
    # Delivered twice, the copy has headers of its own (Received, Delivered-To): a new input, whose
    # Message-ID the group's first copy already recorded, uncommitted, in the same transaction
    assert h.run().messages == TOTAL + 1
    db = h.agent.config.state_dir / "agent.db"
    assert rows(db, "select count(*) from inbound_events where source = 'mail'") == [(TOTAL + 1,)]
    assert rows(db, "select count(*) from messages where subject = 'Backlog 10'") == [(1,)]
    assert rows(db, "select count(*) from audit_log where kind = 'duplicate'") == [(1,)]
    assert len(look_ups) < TOTAL / 4  # a look-ahead for many messages, not a look-up for each
    assert 0 < len(id_look_ups) < TOTAL / 4  # their Message-IDs too (the copy's own is looked up)
    # and who their senders are: read ahead for the group, and each message still tied to its deal
    assert len(contact_look_ups) < TOTAL / 4
    assert rows(db, "select count(*) from messages where deal_id is not null") == [(TOTAL,)]


@pytest.mark.parametrize(
    "replay_bytes", [group_module.REPLAY_BYTES, 1], ids=["run-again", "savepoints-past-limit"]
)
def test_a_failing_message_in_a_group_is_rolled_back_and_quarantined_alone(
    tmp_path: Path, dovecot: Dovecot, user: str, replay_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # run-again: the five before it ran bare, and run again in savepoints after the group is rolled
    # back; savepoints-past-limit: the messages kept to run again were over the limit after the
    # first, so the rest ran each in a savepoint, and the failure rolls back to its own
    monkeypatch.setattr(group_module, "REPLAY_BYTES", replay_bytes)
    cfg = long_groups(tmp_path, dovecot, user)
    h = harness(cfg)
    pipeline = h.agent.runtime.handlers.mail
    real = pipeline.process

    def breaks_after_writing(item: MailItem) -> str | None:
        label = real(item)  # its message row, its audit lines: written, then a bug strikes
        if item.msg.subject == "Breaks":
            raise RuntimeError("a bug met half-way")
        return label

    pipeline.process = breaks_after_writing  # type: ignore[method-assign]
    batch = [email(f"Around {i}", n=i) for i in range(10)]
    batch.insert(5, email("Breaks"))
    dovecot.deliver_many(user, batch)
    counted = event_commits(h)
    saved = savepoints(h)
    report = h.run()
    assert (report.messages, report.quarantined) == (10, 1)
    assert len(counted) == 1  # one group: the failure did not split it
    # run again: the second to the fifth, and the five after it (SQLite: the first ran again bare, as
    # nothing was written yet); past the limit: each message from the second on
    assert len(saved) == (9 if replay_bytes > 1 else 10)
    db = h.agent.config.state_dir / "agent.db"
    assert rows(db, "select count(*) from messages where subject = 'Breaks'") == [(0,)]  # rolled back
    assert rows(db, "select count(*) from messages") == [(10,)]  # each once, those run again too
    assert rows(db, "select count(*) from inbound_events where source = 'mail'") == [(11,)]
    of_mail = "from audit_log a join inbound_events e on a.event_id = e.id where e.source = 'mail'"
    assert rows(db, f"select count(*) {of_mail} and e.status = 'processed'") == [(10,)]  # a line each
    assert rows(db, f"select a.event_id {of_mail} group by a.event_id, a.kind having count(*) > 1") == []
    [(error,)] = rows(db, "select error from inbound_events where status = 'quarantined'")
    assert error == "RuntimeError: a bug met half-way"
    again = h.run()
    assert (again.messages, again.quarantined) == (0, 0)  # acknowledged with its group: not retried forever


def test_a_message_that_fails_only_when_run_again_is_quarantined_and_counted_so(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    cfg = long_groups(tmp_path, dovecot, user)
    h = harness(cfg)
    pipeline = h.agent.runtime.handlers.mail
    real = pipeline.process
    runs: dict[str, int] = {}

    def flaky(item: MailItem) -> str | None:
        runs[item.msg.subject] = runs.get(item.msg.subject, 0) + 1
        if item.msg.subject == "Breaks" or (item.msg.subject == "Flaky" and runs["Flaky"] > 1):
            raise RuntimeError(f"{item.msg.subject} broke")
        return real(item)

    pipeline.process = flaky  # type: ignore[method-assign]
    batch = [email(f"Around {i}", n=i) for i in range(6)]
    batch.insert(2, email("Flaky"))  # went through bare, then fails when run again after "Breaks"
    batch.insert(5, email("Breaks"))
    dovecot.deliver_many(user, batch)
    report = h.run()
    assert (report.messages, report.quarantined) == (6, 2)  # as the group committed, not as first run
    assert runs["Flaky"] == 2 and runs["Around 0"] == 2 and runs["Around 5"] == 1
    db = h.agent.config.state_dir / "agent.db"
    assert rows(db, "select error from inbound_events where status = 'quarantined' order by id") == [
        ("RuntimeError: Flaky broke",),
        ("RuntimeError: Breaks broke",),
    ]
    assert rows(db, "select count(*) from messages") == [(6,)]
    assert h.run().messages == 0


def test_a_message_kept_aside_untried_stays_so_when_a_later_one_fails(
    tmp_path: Path, dovecot: Dovecot, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = long_groups(tmp_path, dovecot, user)
    h = harness(cfg)
    poison = h.agent.work.poison
    assert poison is not None
    real_begin = poison.begin
    died = "the agent stopped 5 times in a row while processing it"
    # the third message (UID 3) is one the process died on before: kept aside untried, in the group
    monkeypatch.setattr(poison, "begin", lambda key, h: died if key.endswith(":3") else real_begin(key, h))
    pipeline = h.agent.runtime.handlers.mail
    real = pipeline.process

    def breaks(item: MailItem) -> str | None:
        if item.msg.subject == "Breaks":
            raise RuntimeError("a bug")
        return real(item)

    pipeline.process = breaks  # type: ignore[method-assign]
    batch = [email(f"Around {i}", n=i) for i in range(6)]
    batch.insert(5, email("Breaks"))  # after it: the group rolls back, the kept one with it
    dovecot.deliver_many(user, batch)
    report = h.run()
    assert (report.messages, report.quarantined) == (5, 2)
    db = h.agent.config.state_dir / "agent.db"
    assert rows(db, "select error from inbound_events where status = 'quarantined' order by id") == [
        (died,),
        ("RuntimeError: a bug",),
    ]  # kept aside again after the rollback: not lost
    assert rows(db, "select count(*) from messages") == [(5,)]


def test_one_message_at_a_time_when_groups_are_off(tmp_path: Path, dovecot: Dovecot, user: str) -> None:
    cfg = imap_config(tmp_path, dovecot, user)
    cfg.write_text(cfg.read_text() + "\n[daemon]\ngroup_items = 1\n")
    alone = harness(cfg)
    dovecot.deliver_many(user, [email(f"Alone {i}", n=i) for i in range(20)])
    counted = event_commits(alone)
    assert alone.run().messages == 20
    assert len(counted) == 20  # each message its own transaction, as before groups


def test_a_kill_inside_a_group_loses_and_doubles_nothing(tmp_path: Path, dovecot: Dovecot, user: str) -> None:
    cfg = long_groups(tmp_path, dovecot, user)
    harness(cfg).agent.close()  # the deal, in the state folder the child uses
    dovecot.deliver_many(user, [email(f"Killed {i}", n=i) for i in range(TOTAL)])
    db = tmp_path / "state" / "agent.db"
    child = [sys.executable, "-m", "tests.integration.killed_run", str(cfg), "INSERT INTO messages", "75"]
    done = subprocess.run(child, env=agent_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    # the first group committed whole; of the second, 24 ran and none is there
    assert rows(db, "select count(*) from messages") == [(50,)]
    assert rows(db, "select count(*) from inbound_events where source = 'mail'") == [(50,)]
    again = subprocess.run(
        [sys.executable, "-m", "agent", "--config", str(cfg), "run", "--once"],
        env=agent_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert rows(db, "select count(distinct source_key), count(*) from messages") == [(TOTAL, TOTAL)]
    assert rows(db, "select count(*) from inbound_events where status = 'quarantined'") == [(0,)]
