"""agent.store.audit_lines: a transaction's audit lines written at its commit, in one statement,
and never one that its transaction (or the savepoint it was held in) took back."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from agent.store import models as m
from agent.store.db import open_store
from agent.store.repo import Repo

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    return open_store(f"sqlite:///{tmp_path / 'a.db'}")


def kinds(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as s:
        return list(s.scalars(select(m.AuditEntry.kind).order_by(m.AuditEntry.id)))


def line(session: Session, kind: str) -> None:
    Repo(session).audit(NOW, kind, deal_id=None, event_id=None, reason=kind, rule="r1", n=1)


def test_lines_are_written_at_the_commit_in_order_with_one_statement(sessions: sessionmaker[Session]) -> None:
    inserts: list[int] = []  # rows a statement into audit_log carried
    with sessions.begin() as s:
        event.listen(
            s.get_bind(),
            "before_cursor_execute",
            lambda _c, _cur, sql, params, _ctx, many: (
                inserts.append(len(params) if many else 1)
                if sql.startswith("INSERT INTO audit_log")
                else None
            ),
        )
        for kind in ("first", "second", "third"):
            line(s, kind)
        assert inserts == []  # held, not written yet
    assert inserts == [3]
    assert kinds(sessions) == ["first", "second", "third"]
    with sessions() as s:
        entry = s.scalars(select(m.AuditEntry)).first()
        assert entry is not None and (entry.rule, entry.reason, entry.details) == ("r1", "first", {"n": 1})


def test_a_savepoint_rolled_back_takes_its_lines_and_its_log_lines_with_it(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="agent.decisions"), sessions.begin() as s:
        line(s, "kept_before")
        with pytest.raises(RuntimeError), s.begin_nested():
            line(s, "rolled_back")
            raise RuntimeError("this message failed")
        with s.begin_nested():  # released: its lines wait for the commit with the others
            line(s, "kept_after")
        assert [r.getMessage() for r in caplog.records] == []  # nothing is told before the commit
    assert kinds(sessions) == ["kept_before", "kept_after"]
    assert [r.getMessage() for r in caplog.records] == ["kept_before (rule r1)", "kept_after (rule r1)"]


def test_a_transaction_rolled_back_or_closed_writes_and_tells_nothing(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="agent.decisions"):
        with sessions() as s:
            line(s, "rolled_back")
            s.rollback()
            line(s, "closed_unfinished")
        with sessions() as s:  # the same session again, after a rollback: only its new line
            line(s, "rolled_back_first")
            s.rollback()
            line(s, "committed")
            s.commit()
    assert kinds(sessions) == ["committed"]
    assert [r.getMessage() for r in caplog.records] == ["committed (rule r1)"]


def test_a_reader_of_the_trail_sees_the_lines_held_and_none_is_written_twice(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as s:
        repo = Repo(s)
        deal = m.Deal(
            name="Acme Radio", pipeline="p", stage="kickoff", token="T1", timezone="UTC", created_at=NOW
        )
        repo.add(deal)
        repo.audit(NOW, "a", deal_id=deal.id, event_id=None)
        with pytest.raises(RuntimeError), s.begin_nested():
            repo.audit(NOW, "gone", deal_id=deal.id, event_id=None)
            assert [e.kind for e in repo.events_for(deal.id)] == ["a", "gone"]  # written by the read
            raise RuntimeError("this message failed")
        assert [e.kind for e in repo.events_for(deal.id)] == ["a"]
        repo.audit(NOW, "b", deal_id=deal.id, event_id=None)
    assert kinds(sessions) == ["a", "b"]
