"""Cursors: where each source got to, and each part's health, kept as small rows by name."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select

from agent.store import models as m
from agent.store.queries.base import Queries, per_dialect

_CURSORS = cast(Table, m.Cursor.__table__)
_VALUE = select(_CURSORS.c.value).where(_CURSORS.c.source == bindparam("source"))


def _upsert(dialect: Any) -> Any:
    """One statement that writes a cursor whether or not its row exists (SQLite and PostgreSQL say
    it alike): two workers writing the same new one (a part's health) both succeed, the later wins."""
    insert = dialect.insert(_CURSORS)
    return insert.on_conflict_do_update(
        index_elements=[_CURSORS.c.source],
        set_={"value": insert.excluded.value, "updated_at": insert.excluded.updated_at},
    )


_UPSERT = per_dialect(_upsert)


class CursorQueries(Queries):
    # Core statements, no ORM row: a read, then a write that inserts or updates in one (a look first,
    # then an INSERT, let two workers both find no row and the second fail on the key).
    def cursor(self, source: str) -> str | None:
        return cast(str | None, self.s.connection().execute(_VALUE, {"source": source}).scalar())

    def set_cursor(self, source: str, value: str, now: datetime) -> None:
        connection = self.s.connection()
        connection.execute(
            _UPSERT[connection.dialect.name], {"source": source, "value": value, "updated_at": now}
        )

    def record_health(self, part: str, error: str, now: datetime, *, proven: bool = True) -> None:
        """Remember how a part last did: an error keeps the last success beside it; a success clears the error.

        `proven=False`: the part did nothing that shows it works again (an outbox pass with nothing to
        send); a standing error stays, and only a part without one gets its `last_ok` moved on.
        """
        key = f"health:{part}"
        new = merged_health(json.loads(self.cursor(key) or "{}"), error, now, proven=proven)
        if new is not None:
            self.set_cursor(key, json.dumps(new), now)

    def health(self, part: str) -> dict[str, Any]:
        """A part's last success and last error, as `record_health` kept them ({} before the first)."""
        return dict(json.loads(self.cursor(f"health:{part}") or "{}"))


def merged_health(old: dict[str, Any], error: str, now: datetime, *, proven: bool) -> dict[str, Any] | None:
    """A part's health record after an attempt (None: unchanged); the daemon's own note keeps it this way too."""
    at = now.isoformat()
    if error:
        return {**old, "last_error": error, "error_at": at}
    if proven or not old.get("last_error"):
        return {**old, "last_ok": at, "last_error": ""}
    return None
