"""Queries.add_new: a new row written by a Core INSERT and held by the session as if it had been read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from agent.store import models as m
from agent.store.db import open_store
from agent.store.repo import Repo

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with open_store(f"sqlite:///{tmp_path / 'a.db'}").begin() as s:
        yield s


def email(key: str) -> m.OutboxEmail:
    return m.OutboxEmail(
        deal_id=None,
        template="notice",
        idempotency_key=key,
        message_id=f"<{key}@example.com>",
        to=[{"email": "sam@example.com", "name": "Sam"}],
        subject="Hello",
        body_text="Hello",
        body_html="",
        status="queued",
        due_at=NOW,
        created_at=NOW,
    )


def statements(session: Session) -> list[str]:
    seen: list[str] = []
    event.listen(session.get_bind(), "before_cursor_execute", lambda *a: seen.append(a[2].split()[0]))
    return seen


def test_one_insert_and_the_row_reads_as_loaded_with_its_defaults(session: Session) -> None:
    repo = Repo(session)
    seen = statements(session)
    row = email("a")
    repo.add_new(row)
    assert seen == ["INSERT"]
    # its id, and the columns' defaults it was not given, without reading the row back
    assert (row.id, row.claimed_by, row.attempts, row.cc) == (1, "", 0, [])
    assert seen == ["INSERT"]
    row.status = "review"  # a change is an UPDATE of that column
    session.flush()
    assert seen == ["INSERT", "UPDATE"]
    assert session.scalar(select(m.OutboxEmail.status).where(m.OutboxEmail.id == 1)) == "review"


def test_an_id_given_again_after_a_rolled_back_savepoint_takes_the_place_of_the_old_row(
    session: Session,
) -> None:
    """SQLite hands out a rolled-back row's id again: the session must not hold on to the row gone."""
    Repo(session).add_new(email("a"))
    with pytest.raises(RuntimeError), session.begin_nested():
        gone = email("gone")
        Repo(session).add_new(gone)
        raise RuntimeError("the message failed")
    again = email("again")
    Repo(session).add_new(again)
    assert again.id == gone.id == 2
    again.status = "review"
    session.flush()
    rows = session.execute(
        select(m.OutboxEmail.idempotency_key, m.OutboxEmail.status).order_by(m.OutboxEmail.id)
    )
    assert [tuple(r) for r in rows] == [("a", "queued"), ("again", "review")]


def test_a_row_stored_already_is_only_flushed(session: Session) -> None:
    repo = Repo(session)
    row = email("a")
    repo.add(row)
    row.status = "review"
    repo.add_new(row)
    assert session.scalars(select(m.OutboxEmail.status)).all() == ["review"]
