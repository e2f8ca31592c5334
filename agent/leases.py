"""Which worker watches which mailbox and calendar, when several share one PostgreSQL store.

Each source is read by the worker holding its lease (a row in `leases`, renewed
every pass). Each worker also renews a `worker:<id>` lease, so the live workers
are known, and holds at most its fair share of the sources: their number over
the number of live workers, rounded up. A worker that dies loses its leases
after `lease_seconds`; one that stops cleanly gives them up at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from agent.store.db import STORE_FAILURES
from agent.store.repo import Repo

log = logging.getLogger(__name__)


class Leases:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        now: Callable[[], datetime],
        worker: str,
        lease_seconds: float,
        sources: int,
    ) -> None:
        self.sessions = sessions
        self.now = now
        self.worker = worker
        self.seconds = lease_seconds
        self.sources = sources  # how many mailboxes and calendars the config has
        self.share = sources  # how many this worker may hold; balance() sets it
        self.standby: dict[str, str] = {}  # part -> the source another worker watches

    def balance(self) -> None:
        """Say this worker is alive, and give up sources beyond its fair share so that idle workers take them.

        With four team mailboxes and two workers, each watches two; when one dies the other takes
        all four; when it comes back, the survivor hands two back at its next pass.
        """
        now = self.now()
        with self.sessions.begin() as s:
            repo = Repo(s)
            repo.hold_lease(f"worker:{self.worker}", self.worker, now, self.seconds)
            self.share = -(-self.sources // max(1, repo.live_workers(now)))
            for name in repo.leases_of(self.worker, now)[self.share :]:
                repo.release_lease(name, self.worker)
                log.info("%s: released for another worker (fair share %d)", name, self.share)

    def holds(self, part: str, source: str) -> bool:
        """Take or renew the source's lease if it is free and within this worker's share."""
        name, now = f"{part.split(':')[0]}:{source}", self.now()
        with self.sessions.begin() as s:
            repo = Repo(s)
            mine = repo.leases_of(self.worker, now)
            held = (name in mine or len(mine) < self.share) and repo.hold_lease(
                name, self.worker, now, self.seconds
            )
        was_standing_by = self.standby.pop(part, "") if held else ""
        if was_standing_by:
            log.info("%s %s: this worker (%s) watches it now", part, source, self.worker)
        elif not held and part not in self.standby:
            self.standby[part] = source
            log.info("%s %s: another worker watches it; this one stands by", part, source)
        return held

    def release_all(self) -> None:
        """On a clean stop, give the sources up at once: other workers need not wait for the leases to expire."""
        try:
            with self.sessions.begin() as s:
                repo = Repo(s)
                for name in [*repo.leases_of(self.worker, self.now()), f"worker:{self.worker}"]:
                    repo.release_lease(name, self.worker)
        except STORE_FAILURES as exc:
            log.warning("could not release the leases (they expire by themselves): %s", exc)
