"""A local Maildir (the embedded default): new/ is the queue, cur/ holds what was processed.

The cursor is the file's place: a message moves from new/ to cur/ only after
its transaction committed. A crash in between leaves it in new/; the next pass
sees its key already in the store and only moves it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from agent.config import Config
from agent.cursors import CursorStore
from agent.mailboxes.base import RawMail


def from_config(config: Config, cursors: CursorStore) -> MaildirMailbox:
    """The Maildir at [mailbox] path; its cursor is where each file is, so `cursors` is not used."""
    return MaildirMailbox(config.maildir_path)


class MaildirMailbox:
    name = "maildir"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.source = f"maildir:{root}"
        for sub in ("new", "cur", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    def fetch(self) -> Iterator[RawMail]:
        entries = sorted((e for e in os.scandir(self.root / "new") if e.is_file()), key=_age)
        for entry in entries:
            try:
                data = Path(entry.path).read_bytes()
            except FileNotFoundError:
                continue  # another reader took it
            arrived = datetime.fromtimestamp(entry.stat().st_mtime, UTC)
            yield RawMail(self._key(entry.name), data, arrived_at=arrived)

    def ack(self, mail: RawMail, outcome: str) -> None:
        unique = mail.key.rsplit(":", 1)[1]
        for entry in os.scandir(self.root / "new"):
            if entry.name.split(":", 1)[0] == unique:
                # ":2," is the Maildir info part with no flags: processed, but not marked read.
                os.replace(entry.path, self.root / "cur" / f"{unique}:2,")
                return

    def wait(self, timeout: float, should_stop: Callable[[], bool]) -> None:
        # A local folder has no push: look again when the timeout is up (or when new/ fills).
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not should_stop():
            if any(os.scandir(self.root / "new")):
                return
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def close(self) -> None:
        pass

    def _key(self, filename: str) -> str:
        return f"maildir:{self.root.resolve()}:{filename.split(':', 1)[0]}"

    def probe(self) -> str:
        return f"Maildir {self.root}: {sum(1 for _ in os.scandir(self.root / 'new'))} new messages"

    def deliver(self, data: bytes, unique: str, at: datetime | None = None) -> Path:
        """Drop a message into new/ the Maildir way (tmp/ then rename); used by the demo and tests.

        `at` sets the file's time, which is when the message arrived (a simulated clock's now).
        """
        tmp = self.root / "tmp" / unique
        tmp.write_bytes(data)
        if at is not None:
            os.utime(tmp, (at.timestamp(), at.timestamp()))
        target = self.root / "new" / unique
        os.replace(tmp, target)
        return target


def _age(entry: os.DirEntry[str]) -> tuple[float, str]:
    return (entry.stat().st_mtime, entry.name)
