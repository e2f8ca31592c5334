"""A folder of .ics files (the embedded default): drop or overwrite a file to add or update meetings."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from agent.calendars import CalendarObject


class IcsFolder:
    name = "ics"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._seen: dict[Path, tuple[float, int]] = {}

    def poll(self) -> Iterator[CalendarObject]:
        for path in sorted(self.folder.glob("*.ics")):
            try:
                st = path.stat()
                stamp = (st.st_mtime, st.st_size)
                if self._seen.get(path) == stamp:
                    continue  # unchanged since the last pass: skip the read and the parse
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            self._seen[path] = stamp
            digest = hashlib.sha256(data).hexdigest()[:32]
            yield CalendarObject(f"ics:{path.name}:{digest}", str(path), data)
