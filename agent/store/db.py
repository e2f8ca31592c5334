"""Open the database and bring its schema up to date with Alembic."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from agent.config import private_dir
from agent.errors import InputError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# The database itself failing (locked, disk full, I/O error, connection lost), as opposed to
# bad data: the transaction rolls back, and the work is tried again later instead of being
# quarantined, since the input is not at fault.
STORE_FAILURES = (OperationalError, InterfaceError)


class StoreUnavailable(Exception):
    """The store could not write (or read) just now; nothing was committed, so nothing is lost."""

    @classmethod
    def of(cls, what: str, exc: BaseException) -> StoreUnavailable:
        """The database failed at `what`: named by the driver's own error, not SQLAlchemy's wrapper."""
        return cls(f"{what}: {getattr(exc, 'orig', exc)}")


def make_engine(url: str, busy_timeout: float = 30.0) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            _private_file(Path(path))
        engine = create_engine(url, connect_args={"timeout": busy_timeout})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if make_url(url).get_driver_name() == "psycopg":
        _require_psycopg(url)
        # No server-side prepared statements: psycopg prepares a query after its fifth run, and
        # PostgreSQL then keeps the plan made while the table was small. On a new store that was
        # a sequential scan of inbound_events for every message, its cost growing with the store
        # (docs/performance.md); planned afresh, each look-up stays an index scan.
        return create_engine(url, pool_pre_ping=True, connect_args={"prepare_threshold": None})
    return create_engine(url, pool_pre_ping=True)


def has_written(session: Session) -> bool:
    """Whether the session's transaction has begun in the database, so that a savepoint nests in it.

    pysqlite begins a transaction only before an INSERT, UPDATE or DELETE, not before a SAVEPOINT:
    a savepoint opened first is a transaction of its own, whose RELEASE commits. (Beginning the
    transaction earlier would hold SQLite's one write lock through reads and parsing too, and a
    command-line write waiting for it would seldom find it free.) PostgreSQL's driver begins one
    before any statement.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return True
    return bool(connection.connection.dbapi_connection.in_transaction)  # type: ignore[union-attr]


def _require_psycopg(url: str) -> None:
    """psycopg is the `postgres` extra (SQLite users need no driver): name the extra, not the module."""
    try:
        importlib.import_module("psycopg")
    except ImportError as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        raise InputError(
            f"store url {shown}: PostgreSQL needs the psycopg driver, which is not installed; "
            "install the agent with its postgres extra: pip install 'csm-agent[postgres]'"
        ) from exc


def _private_file(path: Path) -> None:
    """The database holds client data: the file 0600 (SQLite gives -wal/-shm the same), and a folder
    made for it 0700. A folder that was there is left as it is: the state folder is closed where it
    is taken (agent.lock), and a store named elsewhere (`/srv/data/agent.db`) may sit in a folder
    other programs share."""
    if not path.parent.exists():
        private_dir(path.parent)
    if not path.exists():
        path.touch(mode=0o600)
    elif path.stat().st_mode & 0o077:
        path.chmod(0o600)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL + NORMAL: ~13x the commit rate of the default journal (RECIPES.md)
    # and still durable across a process kill; foreign keys are off by default.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest revision (a no-op when it is current), all or nothing."""
    url = engine.url.render_as_string(hide_password=False)
    cfg = alembic_config(url)
    if engine.dialect.name == "sqlite":
        engine = _transactional_ddl(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _transactional_ddl(url: str) -> Engine:
    """An engine whose transactions are SQLite's own, DDL included.

    pysqlite opens no transaction for CREATE or ALTER, so a migration killed half-way would
    leave half a schema that no later run can upgrade. SQLite can roll DDL back; this
    engine lets it (SQLAlchemy's recipe: no pysqlite transactions, an explicit BEGIN).
    """
    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def _no_pysqlite_transactions(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def schema_state(engine: Engine) -> tuple[str | None, str]:
    """(the database's revision or None for an empty database, the revision this version needs)."""
    script = ScriptDirectory.from_config(alembic_config(engine.url.render_as_string(hide_password=False)))
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    head = script.get_current_head()
    assert head is not None
    return current, head


def open_store(url: str, busy_timeout: float = 30.0) -> sessionmaker[Session]:
    """Open the store; a new database gets the schema, an old one must be upgraded on purpose.

    Upgrades never run silently: an operator runs `python -m agent migrate` (after a backup).
    """
    engine = make_engine(url, busy_timeout)
    current, head = schema_state(engine)
    if current is None:
        migrate(engine)  # empty: nothing to lose
    elif current != head:
        raise InputError(
            f"the database {engine.url.render_as_string(hide_password=True)} has schema {current}; this "
            f"version needs {head}. Back it up, then run: python -m agent migrate"
        )
    return sessionmaker(engine, expire_on_commit=False)
