"""What every query module shares: the session, and the helpers that write and read ids."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, cast

from sqlalchemy import Executable, Insert, Table, event, insert, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from agent.store import models as m

# session.info keys of answers a transaction reads once and keeps (who opted out, the people read
# ahead): a savepoint rolled back may have taken a row read since with it, and they are one
# transaction's. Each module that keeps some names its key (`held_by_the_transaction`).
_TRANSACTION_ANSWERS: set[str] = set()


def held_by_the_transaction(key: str) -> str:
    """Register a session.info key dropped when a savepoint rolls back or the transaction ends."""
    _TRANSACTION_ANSWERS.add(key)
    return key


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, _previous: SessionTransaction) -> None:
    for key in _TRANSACTION_ANSWERS:
        session.info.pop(key, None)


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        for key in _TRANSACTION_ANSWERS:
            session.info.pop(key, None)


class Queries:
    """The session of one transaction; every query mixin of `Repo` builds on it."""

    def __init__(self, session: Session) -> None:
        self.s = session
        # Rows this transaction's work asked for, held: the session's identity map holds them only
        # weakly, so a deal read by one step of a message was gone by the next, and read again
        # with its roles and contacts (three times a message). Held, `get` finds them in the map.
        self.held: dict[tuple[type, int], Any] = {}

    def add(self, row: Any) -> None:
        self.s.add(row)
        self.s.flush()

    def add_new(self, row: m.Base) -> None:
        """A new row of plain columns (no relationship set), written at once and held by the session as
        if loaded: its id is known, a later change is an UPDATE.

        What `add` does, for the rows written on every message (a queued email): the ORM's flush of
        one object cost about three times a Core INSERT of the same values.
        """
        if inspect(row).key is not None:  # stored already (by whoever made it): only flushed
            self.add(row)
            return
        mapper = inspect(type(row))
        given = {p.columns[0].key: row.__dict__[p.key] for p in mapper.column_attrs if p.key in row.__dict__}
        result = self.s.connection().execute(_insert_into(type(row)), given)
        written = cast(dict[str, Any], result.last_inserted_params())  # with the Python defaults
        for p in mapper.column_attrs:
            column = p.columns[0]
            if column.primary_key:
                set_committed_value(row, p.key, result.inserted_primary_key[0])  # type: ignore[index]
            elif p.key not in row.__dict__ and column.key in written:
                set_committed_value(row, p.key, written[column.key])
        make_transient_to_detached(row)  # as if read from the table; what is missing is loaded on use
        key = inspect(row).key
        stale = self.s.identity_map.get(key) if key is not None else None
        if stale is not None:
            # The table just gave this id to a new row: a row the session knows by it was written in a
            # savepoint since rolled back (a failed message of a group), and SQLite hands its id out again.
            self.s.expunge(stale)
        self.s.add(row)

    def refresh(self, row: m.Base) -> None:
        """Read the row again, so that relationships filled by other rows of this transaction show."""
        self.s.refresh(row)

    # --- the rows every message writes and reads: Core statements ----------
    # The ORM's unit of work and query layers cost several times what SQLite does with the
    # statement (docs/performance.md, the ingest profile). Rows written here are seen by every
    # later query of the transaction; they are loaded as objects only when someone asks for them.
    # The statements a message runs are built once, with bound parameters (`_ids(STATEMENT,
    # values)`): building one cost about three times what SQLite took to run it.
    def insert(self, model: type[m.Base], **values: Any) -> int:
        """One row, and its id."""
        result = self.s.connection().execute(_insert_into(model), values)
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def _ids(self, query: Executable, values: dict[str, Any] | None = None) -> set[int]:
        self.s.flush()  # what the ORM's autoflush would do: pending rows are seen (no-op when clean)
        return {i for i in self.s.connection().execute(query, values).scalars() if i is not None}


def per_dialect(build: Callable[[Any], Any]) -> dict[str, Executable]:
    """A statement SQLite and PostgreSQL say alike (an INSERT .. ON CONFLICT) but each builds from its
    own dialect's `insert`, by dialect name."""
    return {"sqlite": cast(Executable, build(sqlite)), "postgresql": cast(Executable, build(postgresql))}


@cache
def _insert_into(model: type[m.Base]) -> Insert:
    return insert(cast(Table, model.__table__))  # every model of ours is a plain table
