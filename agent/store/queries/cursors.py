"""Cursors: where each source got to, and each part's health, kept as small rows by name."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from agent.store import models as m
from agent.store.queries.base import Queries


class CursorQueries(Queries):
    def cursor(self, source: str) -> str | None:
        row = self.s.get(m.Cursor, source)
        return row.value if row else None

    def set_cursor(self, source: str, value: str, now: datetime) -> None:
        row = self.s.get(m.Cursor, source)
        if row is None:
            self.s.add(m.Cursor(source=source, value=value, updated_at=now))
        else:
            row.value, row.updated_at = value, now

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
