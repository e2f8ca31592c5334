"""How this worker's parts are doing, kept in memory and in a note file outside the store.

The store keeps each part's health for `status` (and for the other workers of a shared
store), but a record in the store cannot say that the store itself is failing: with the
state folder's disk full, or the database locked by another program, nothing can be written
there. So the daemon also keeps the same records, the store's own among them, in memory (the
health endpoint answers from it) and in `<state>/health.<worker>.json`, rewritten in place
(agent.daemon.note_file), which `status` reads beside the store. A note whose process is gone
says so: `status` shows the daemon as not running rather than trusting an old note.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.daemon.note_file import NoteFile, read_note, worker_file
from agent.store.queries.cursors import merged_health

NOTE_BYTES = 16384  # a few parts' records with an error message each


class HealthNote:
    def __init__(self, path: Path) -> None:
        self.file = NoteFile(path, NOTE_BYTES)
        self.parts: dict[str, dict[str, Any]] = {}
        self.updated_at = ""
        # failed attempts by part since this process started: /metrics' counter (a record keeps only the last)
        self.errors: dict[str, int] = {}
        self.backlog_written = 0.0  # monotonic time the note was last written for a backlog count

    def record(self, part: str, error: str, now: datetime, *, proven: bool = True) -> None:
        """Remember an attempt of a part ("store" for the store itself), as the store's record does."""
        new = merged_health(self.parts.get(part, {}), error, now, proven=proven)
        if error:
            self.errors[part] = self.errors.get(part, 0) + 1
        if new is not None:
            self.parts[part] = new
        self.updated_at = now.isoformat()
        self.file.write(json.dumps(self.snapshot()))

    def backlog(self, part: str, waiting: int) -> None:
        """How many messages still wait in a mailbox mid-pass (`status`); written at most once a second."""
        record = self.parts.setdefault(part, {})
        record["backlog"] = waiting
        now = time.monotonic()
        if waiting == 0 or now - self.backlog_written >= 1.0:
            self.backlog_written = now
            self.file.write(json.dumps(self.snapshot()))

    def snapshot(self) -> dict[str, Any]:
        failing = sorted(p for p, r in self.parts.items() if r.get("last_error"))
        return {
            "pid": os.getpid(),
            "updated_at": self.updated_at,
            "ready": not failing,
            "failing": failing,
            "parts": self.parts,
        }

    def close(self) -> None:
        self.file.close()


def read_health(path: Path) -> dict[str, Any] | None:
    """The note a worker keeps, with `running` (its process is alive); None when there is none."""
    text = read_note(path)
    if not text:
        return None
    try:
        note = dict(json.loads(text))
        pid = int(note.get("pid", 0))
    except (ValueError, TypeError):
        return None
    note["running"] = _alive(pid)
    if not note["running"]:
        note["ready"] = False
    return note


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True


def health_path(state_dir: Path, worker_id: str) -> Path:
    return worker_file(state_dir, "health", worker_id)
