"""A folder of .ics files (the embedded default): drop or overwrite a file to add or update meetings."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from agent.calendars.base import CalendarObject
from agent.clock import Clock
from agent.config import Config
from agent.cursors import CursorStore


def from_config(config: Config, cursors: CursorStore, clock: Clock | None) -> IcsFolder:
    """The folder at [calendar] path; content hashes, not a cursor or the time, tell what is new."""
    return IcsFolder(config.ics_path)


class IcsFolder:
    name = "ics"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.source = f"ics:{folder}"
        folder.mkdir(parents=True, exist_ok=True)
        self._seen: dict[Path, str] = {}

    def probe(self) -> str:
        return f"{self.folder}: {len(list(self.folder.glob('*.ics')))} .ics files"

    def poll(self) -> Iterator[CalendarObject]:
        for path in sorted(self.folder.glob("*.ics")):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            # A content hash, not the mtime: two writes within one clock tick keep the same mtime.
            digest = hashlib.sha256(data).hexdigest()[:32]
            if self._seen.get(path) == digest:
                continue  # unchanged since the last pass: skip the parse
            yield CalendarObject(f"ics:{path.name}:{digest}", str(path), data)
            # only once it was taken in: when the database refused it, the next pass reads it again
            self._seen[path] = digest
