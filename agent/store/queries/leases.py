"""Leases: which worker watches which source, each for a while, renewed while it lives."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from agent.store import models as m
from agent.store.queries.base import Queries


class LeaseQueries(Queries):
    def hold_lease(self, name: str, holder: str, now: datetime, seconds: float) -> bool:
        """Take or renew the lease on `name` for `seconds`; False while another worker holds it."""
        until = now + timedelta(seconds=seconds)
        free = or_(m.Lease.holder == holder, m.Lease.expires_at < now)
        taken = self.s.execute(
            update(m.Lease).where(m.Lease.name == name, free).values(holder=holder, expires_at=until)
        )
        if getattr(taken, "rowcount", 0):
            return True
        if self.s.get(m.Lease, name) is not None:
            return False
        try:
            with self.s.begin_nested():  # two workers may both find it missing: one insert wins
                self.s.add(m.Lease(name=name, holder=holder, expires_at=until))
        except IntegrityError:
            return False
        return True

    def leases_of(self, holder: str, now: datetime) -> list[str]:
        """The sources a worker holds now (its own `worker:` heartbeat aside)."""
        q = select(m.Lease.name).where(
            m.Lease.holder == holder, m.Lease.expires_at >= now, ~m.Lease.name.startswith("worker:")
        )
        return sorted(self.s.scalars(q))

    def live_workers(self, now: datetime) -> int:
        q = select(func.count()).where(m.Lease.name.startswith("worker:"), m.Lease.expires_at >= now)
        return int(self.s.scalar(q) or 0)

    def release_lease(self, name: str, holder: str) -> None:
        """Give a source up at once (another worker takes it at its next pass), if this worker holds it."""
        self.s.execute(delete(m.Lease).where(m.Lease.name == name, m.Lease.holder == holder))

    def lease_holder(self, name: str, now: datetime) -> str | None:
        lease = self.s.get(m.Lease, name)
        return lease.holder if lease is not None and lease.expires_at >= now else None
