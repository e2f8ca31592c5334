"""Poison memory: an input that keeps killing the process is quarantined instead of retried forever.

Before an item's work starts, the item is written down in a small file in the state folder
(outside the store: the store may be what is failing, and a rolled-back transaction would
take the note with it). A process that dies on an item (a crash, out of memory, a kill)
leaves the note behind; when the same item comes first again after the restart, the count
goes up, and after `limit` deaths in a row it is quarantined at once without another try.
A random kill now and then lands on different items and never reaches the limit.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from agent.daemon.note_file import NoteFile, read_note, worker_file

log = logging.getLogger(__name__)
# Deaths in a row on one item before it is quarantined untried. Above the kills a test may land
# on one item by design (tests/integration/test_kill_scenario.py kills a step up to 3 times at
# random SQL statements, so all three can fall inside one long item); a true poison input kills
# every time, and five tries cost only five restarts.
LIMIT = 5
NOTE_BYTES = 2048  # the note's fixed size: a shorter one is padded, so nothing of a longer one is left


@dataclass(frozen=True)
class Interrupted:
    """What a previous process was working on when it stopped, and how many times in a row."""

    key: str
    content_hash: str
    deaths: int


class PoisonMemory:
    def __init__(self, path: Path, limit: int = LIMIT) -> None:
        self.path = path
        self.limit = limit
        self.file = NoteFile(path, NOTE_BYTES)
        self.last = read(path)
        if self.last is not None:
            log.warning(
                "the agent stopped while processing %s (%d time%s in a row); at %d it is quarantined untried",
                self.last.key,
                self.last.deaths,
                "" if self.last.deaths == 1 else "s",
                limit,
            )

    def begin(self, key: str, content_hash: str | None) -> str:
        """Note the item before its work; a reason to quarantine it untried, or ""."""
        last, deaths = self.last, 0
        if last is not None and (last.key == key or (content_hash and last.content_hash == content_hash)):
            deaths = last.deaths
        if deaths >= self.limit:
            return (
                f"the agent stopped {deaths} times in a row while processing it (a crash, out of memory, "
                "or killed): quarantined without another try"
            )
        self._write({"key": key[:1000], "content_hash": content_hash or "", "deaths": deaths + 1})
        return ""

    def end(self) -> None:
        """The item's work ended (committed, quarantined or seen): the process did not die on it."""
        self.last = None
        self._write(None)

    def close(self) -> None:
        self.file.close()

    def _write(self, note: dict[str, object] | None) -> None:
        self.file.write(json.dumps(note) if note else "")  # unwritten: a crash on it goes unrecognised


def read(path: Path) -> Interrupted | None:
    """The note a stopped process left; None when it stopped between items or never ran."""
    text = read_note(path)
    if not text:
        return None
    try:
        note = json.loads(text)
        return Interrupted(str(note["key"]), str(note.get("content_hash", "")), int(note["deaths"]))
    except (ValueError, KeyError, TypeError):
        return None


def note_path(state_dir: Path, worker_id: str) -> Path:
    """One note per worker; several workers on one host need `[daemon] worker_id` for it to survive a restart."""
    return worker_file(state_dir, "working-on", worker_id)
