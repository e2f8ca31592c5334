"""What every query module shares: the session, and the helpers that write and read ids."""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from sqlalchemy import Executable, Insert, Table, insert
from sqlalchemy.orm import Session

from agent.store import models as m


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


@cache
def _insert_into(model: type[m.Base]) -> Insert:
    return insert(cast(Table, model.__table__))  # every model of ours is a plain table
