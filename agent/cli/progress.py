"""Progress of long work for a person at a terminal: one line rewritten in place, on stderr; nothing
when stderr is not a terminal (a pipe, a log, systemd), so that scripts and logs stay clean."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, what: str, stream: TextIO | None = None, every: float = 0.2) -> None:
        self.what = what
        self.stream = stream or sys.stderr
        self.on = self.stream.isatty()
        self.every = every
        self.shown = 0.0
        self.dirty = False

    def __call__(self, text: str, *, last: bool = False) -> None:
        """Show `text` after `what` (at most every `every` seconds, and always the last)."""
        if not self.on:
            return
        now = time.monotonic()
        if last or now - self.shown >= self.every:
            self.shown = now
            self.stream.write(f"\r\033[K{self.what}: {text}")
            self.stream.flush()
            self.dirty = True

    def done(self) -> None:
        """Clear the line, so that what the command prints next starts clean."""
        if self.on and self.dirty:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.dirty = False
