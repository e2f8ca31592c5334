"""Source cursors kept in the database, so that a restart goes on where the last processed item left off."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from agent.clock import Clock
from agent.store.repo import Repo


class DbCursors:
    """Source cursors in the database, each write its own transaction (after the item's commit)."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    def get(self, source: str) -> str | None:
        with self.sessions.begin() as s:
            return Repo(s).cursor(source)

    def set(self, source: str, value: str) -> None:
        with self.sessions.begin() as s:
            Repo(s).set_cursor(source, value, self.clock.now())
