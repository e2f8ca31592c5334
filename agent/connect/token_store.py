"""The newest refresh token of each OAuth2 account, kept in `<state>/oauth2/` across restarts.

Microsoft and Google may hand back a new refresh token with each access token, and the
old one expires (Microsoft: 90 days idle, or at once where reuse is detected), so the
configured one is only the first: a set-up that kept using it stopped signing in after
weeks. One JSON file per account, 0600 in a 0700 folder, written atomically (temp file,
fsync, rename, fsync of the folder) so that a crash never leaves half a token; it also
records a hash of the configured token it descends from ("seed"): when an operator puts
a new refresh token in the config, the seed differs and the configured one wins.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stored:
    seed: str
    refresh_token: str
    rotated_at: str
    path: Path


class TokenStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, account: str) -> Path:
        return self.folder / f"{account}.json"

    def load(self, account: str) -> Stored | None:
        path = self.path(account)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Stored(
                str(data["seed"]), str(data["refresh_token"]), str(data.get("rotated_at", "")), path
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # the configured token may still be good: better than refusing to sign in at all
            log.warning("%s: unreadable (%s); using the configured refresh token", path, exc)
            return None

    def save(self, account: str, seed: str, refresh_token: str) -> None:
        self._folder()
        data = {"seed": seed, "refresh_token": refresh_token, "rotated_at": datetime.now(UTC).isoformat()}
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{account}.", suffix=".tmp")  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path(account))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        folder = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename itself survives a power cut
        finally:
            os.close(folder)

    @contextlib.contextmanager
    def lock(self, account: str) -> Iterator[None]:
        """One refresh at a time per account across processes (the daemon and `check --connect`):
        two refreshes of one token at once would leave one of them holding a revoked token."""
        self._folder()
        fd = os.open(self.folder / f"{account}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _folder(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder.chmod(0o700)  # mkdir's mode is cut by the umask, and an existing folder keeps its own


__all__ = ["Stored", "TokenStore"]
