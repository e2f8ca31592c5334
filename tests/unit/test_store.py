from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from agent.errors import InputError
from agent.store import models as m
from agent.store.db import make_engine, migrate, open_store
from agent.store.repo import Repo


def test_migrations_build_exactly_the_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), m.Base.metadata)
    assert diff == [], f"models and migrations differ; add an Alembic revision: {diff}"
    assert "deals" in inspect(engine).get_table_names()
    migrate(engine)  # a second upgrade is a no-op


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_datetimes_come_back_as_utc_and_naive_ones_are_refused(tmp_path: Path) -> None:
    sessions = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    paris = timezone(timedelta(hours=1))
    with sessions.begin() as s:
        s.add(m.Timer(key="k", kind="x", due_at=datetime(2026, 12, 1, 10, 0, tzinfo=paris), payload={}))
    with sessions.begin() as s:
        timer = s.query(m.Timer).one()
        assert timer.due_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        assert timer.due_at.tzinfo is UTC
    with pytest.raises(Exception, match="naive datetime"), sessions.begin() as s:
        s.add(m.Timer(key="k2", kind="x", due_at=datetime(2026, 12, 1), payload={}))


def test_upgrading_a_database_with_deals_keeps_them_and_indexes_their_names(tmp_path: Path) -> None:
    from alembic import command

    from agent.store.db import alembic_config
    from agent.store.repo import Repo

    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0001")  # a database from the first release
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO deals (id, name, pipeline, stage, token, timezone, products, attributes, created_at) "
                "VALUES (1, 'Acme Radio', 'standard-onboarding', 'set-up', 'ABCDEFGH', 'UTC', '[]', '{}', "
                "'2026-11-30 09:00:00')"
            )
        )
    with pytest.raises(
        InputError,
        match=r"has schema 0001; this version needs 0\d\d\d\. Back it up, then run: "
        r"python -m agent migrate",
    ):
        open_store(url)  # an old database is never upgraded silently
    migrate(engine)  # what `python -m agent migrate` does
    sessions = open_store(url)
    with sessions.begin() as s:
        assert Repo(s).deals_named_in("Re: Acme Radio kick-off") == {1}
    command.downgrade(alembic_config(url), "0001")  # and back, for a rollback
    with engine.connect() as conn:
        assert "name_key" not in {c["name"] for c in inspect(conn).get_columns("deals")}
        assert conn.execute(text("SELECT name FROM deals")).scalar() == "Acme Radio"


def test_a_migration_killed_half_way_leaves_no_half_schema(tmp_path: Path) -> None:
    from sqlalchemy import Engine, event

    url = f"sqlite:///{tmp_path / 'a.db'}"
    creates = 0

    def die_at_the_fifth_table(conn: object, cursor: object, statement: str, *args: object) -> None:
        nonlocal creates
        if statement.lstrip().upper().startswith("CREATE TABLE"):
            creates += 1
            if creates == 5:
                raise KeyboardInterrupt("killed")  # as SIGTERM or a crash would, half-way

    event.listen(Engine, "before_cursor_execute", die_at_the_fifth_table)
    try:
        with pytest.raises(KeyboardInterrupt):
            open_store(url)
    finally:
        event.remove(Engine, "before_cursor_execute", die_at_the_fifth_table)
    with make_engine(url).connect() as conn:
        assert inspect(conn).get_table_names() == []  # all or nothing
    sessions = open_store(url)  # and the next start creates it whole
    with sessions.begin() as s:
        assert Repo(s).deals() == []
