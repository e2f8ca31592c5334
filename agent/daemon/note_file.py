"""A small file in the state folder, rewritten in place: a note that outlives the process.

The daemon keeps two such notes outside the store (the item in hand, and how its parts are
doing), because the store may be what is failing. Rewriting a file's existing bytes needs no
new blocks, so the note can still be written when the state folder's disk is full (once the
file exists), and it costs a few microseconds, where replacing or truncating the file costs
50-300 (measured on ext4). The text is padded to a fixed size, so nothing of a longer earlier
note is left behind. No fsync: a note must outlive the process, not the machine, and the page
cache outlives a kill.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

log = logging.getLogger(__name__)


class NoteFile:
    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size
        self._fd: int | None = None
        self.failing = False  # said once, not at every item while the folder stays full

    def write(self, text: str) -> bool:
        """Replace the note with `text` (cut to the fixed size); False when the state folder refused."""
        try:
            if self._fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            os.pwrite(self._fd, text.encode()[: self.size].ljust(self.size), 0)
        except OSError as exc:  # a full or read-only state folder must not stop the mail
            if not self.failing:
                log.warning("cannot write %s: %s", self.path, exc)
            self.failing = True
            return False
        self.failing = False
        return True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def read_note(path: Path) -> str:
    """The note's text ("" when there is none, or it cannot be read)."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        return ""


def worker_file(state_dir: Path, kind: str, worker_id: str) -> Path:
    """`<state>/<kind>.<worker>.json`: one note per worker (several on one host need `[daemon] worker_id`)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", worker_id) if worker_id else "main"
    return state_dir / f"{kind}.{name}.json"
