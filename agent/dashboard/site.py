"""What the dashboard's pages and actions work with, handed to each of them (no global app state)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from agent.clock import Clock
from agent.pipeline.definition import Pipeline
from agent.runtime import Runtime


@dataclass
class Site:
    sessions: sessionmaker[Session]
    runtime: Callable[[], Runtime]  # the daemon's current one: a SIGHUP reload is seen here too
    clock: Clock
    token: str | None = None  # asked for once, then carried by a cookie
    user_header: str = ""  # set by a signing-in proxy: who is acting
    # a form that changes something carries it, so another site open in the same browser cannot post
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def pipelines(self) -> dict[str, Pipeline]:
        return self.runtime().pipelines
