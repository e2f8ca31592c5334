"""What `status`, the health endpoints and the metrics report: one source, several views.

Two questions, answered apart (as Kubernetes' probes ask them):

- live: the loop turns. The daemon runs, and its notes in the state folder (the health note,
  rewritten after each part of a pass, and the note of the item in hand, rewritten at each
  item) changed lately. Only a stuck or dead daemon is not live: restarting it helps.
- ready: every source and sink (each mailbox and calendar, the [[teams]] ones too, the outbox's
  transport, the store, chat when configured) succeeded at its last attempt. A mail server
  away for a minute makes the agent not ready, not dead: restarting it would not help.

The server (agent.health_server) is off by default (`[daemon] health_port`).
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from agent.config import Config
from agent.daemon.health_note import health_path, read_health
from agent.daemon.poison import note_path, read
from agent.metrics import metrics_text as metrics_text  # where it always was, for its callers
from agent.metrics import part_records
from agent.store.repo import Repo

log = logging.getLogger(__name__)


LATENCY_WINDOW = timedelta(hours=24)
# A turning loop rewrites its notes at least every 30 s (a quick pass) or 60 s (the store's
# back-off), plus one part's work: a network timeout (60 s), a flush of a few hundred emails,
# which writes no note between two sends. So live means a note within a few poll intervals,
# and never less than this, lest a long flush be taken for a stuck loop and restarted.
LIVE_FLOOR_SECONDS = 300.0


def daemon_data(config: Config) -> dict[str, Any]:
    """The daemon's own note (agent.daemon.health_note): running, ready, and which parts fail, the store's included."""
    note = read_health(health_path(config.state_dir, config.daemon.worker_id))
    return note or {"running": False, "ready": False, "failing": [], "parts": {}}


def status_data(
    config: Config,
    sessions: sessionmaker[Session],
    now: datetime | None = None,
    daemon: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Each part's last success and last error, the backlog, the sizes of what waits, the reaction time.

    `ready` is true when the daemon runs and neither it nor the store's records know of a failing
    part; `daemon` is the daemon's own note (read from its file unless given).
    """
    now = now or datetime.now(UTC)
    with sessions.begin() as s:
        repo = Repo(s)
        data: dict[str, Any] = {"state": str(config.state_dir), **repo.counts()}
        data["latency"] = latency_summary(repo.reaction_seconds(now - LATENCY_WINDOW))
        data["mailbox"] = _part(repo, "mailbox", config.mailbox.backend)
        data["calendar"] = _part(repo, "calendar", config.calendar.backend)
        data["outbox"] = _part(repo, "outbox", config.transport.backend)
        oldest = repo.oldest_due(now)  # a send that keeps failing shows here even between attempts
        data["outbox"]["oldest_due_seconds"] = round((now - oldest).total_seconds()) if oldest else 0
        if config.chat.channels:
            data["chat"] = _part(repo, "chat", ", ".join(sorted({c.service for c in config.chat.channels})))
        if config.teams:
            data["teams"] = {
                t.name: {
                    "address": t.address,
                    "mailbox": _part(repo, f"mailbox:{t.name}", t.mailbox.backend),
                    "calendar": _part(repo, f"calendar:{t.name}", t.calendar.backend),
                }
                for t in config.teams
            }
    stopped = read(note_path(config.state_dir, config.daemon.worker_id))
    if stopped is not None:  # the daemon died in the middle of an item (and may be dying on it again)
        data["interrupted"] = {"key": stopped.key, "times_in_a_row": stopped.deaths}
    data["daemon"] = daemon if daemon is not None else daemon_data(config)
    # what waits in each mailbox: the daemon counts it as it goes (IMAP); a Maildir's is on the disk
    parts = data["daemon"].get("parts", {})
    for team in ["", *(t.name for t in config.teams)]:
        counted = parts.get(f"mailbox:{team}" if team else "mailbox", {})
        if "backlog" in counted:
            (data["teams"][team]["mailbox"] if team else data["mailbox"])["backlog"] = counted["backlog"]
    if config.mailbox.backend == "maildir":
        new = config.maildir_path / "new"
        data["mailbox"]["backlog"] = sum(1 for _ in new.iterdir()) if new.is_dir() else 0
    data["live"] = liveness(config, data["daemon"])["live"]
    data["not_ready"] = readiness(data)
    data["ready"] = not data["not_ready"]
    return data


def readiness(data: dict[str, Any]) -> dict[str, str]:
    """The parts that are not ready, each with why ({} when ready): the daemon's note and the store's records.

    The note says how this worker's parts did, the store's own included; the store's records
    also say how the parts other workers of a shared store watch did.
    """
    daemon = data["daemon"]
    not_ready: dict[str, str] = {}
    if not daemon.get("running", True):  # the in-memory note of a running daemon has no "running"
        not_ready["daemon"] = "not running"
    elif "store" not in daemon.get("parts", {}):
        not_ready["daemon"] = "starting: its first pass has not ended"
    for part, record in sorted(daemon.get("parts", {}).items()):
        if record.get("last_error"):
            not_ready[part] = str(record["last_error"])
    for part, record in part_records(data):
        if record.get("last_error"):
            not_ready.setdefault(part, str(record["last_error"]))
    return not_ready


def live_within(config: Config) -> float:
    """Seconds without a note before the daemon counts as stuck."""
    return max(3.0 * config.daemon.poll_seconds, LIVE_FLOOR_SECONDS)


def liveness(
    config: Config, daemon: dict[str, Any], started: float = 0.0, within: float | None = None
) -> dict[str, Any]:
    """Whether the loop turns: the daemon runs and one of its notes changed within `live_within`.

    The notes' times are the file system's, in wall-clock time: the notes are written however
    the store does, and `status` in another process reads them the same way. `started`: when
    the health server started (time.time()), for the first pass of a daemon with old notes.
    """
    worker = config.daemon.worker_id
    notes = (health_path(config.state_dir, worker), note_path(config.state_dir, worker))
    beat = max([started, *(_mtime(p) for p in notes)])
    age = max(0.0, time.time() - beat)
    limit = live_within(config) if within is None else within
    running = bool(daemon.get("running", True))
    return {
        "live": running and age <= limit,
        "running": running,
        "last_note_seconds_ago": round(age, 1),
        "live_within_seconds": limit,
    }


def health_words(data: dict[str, Any]) -> str:
    """`status`'s two words: "live, ready", or "live, NOT READY (mailbox, mailbox:emea)", or "NOT LIVE, ..."."""
    live = "live" if data.get("live") else "NOT LIVE"
    if data["ready"]:
        return f"{live}, ready"
    return f"{live}, NOT READY ({', '.join(data.get('not_ready', {})) or 'the store cannot be read'})"


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _part(repo: Repo, part: str, backend: str) -> dict[str, Any]:
    """A part's backend with its last success and last error (kept by Repo.record_health)."""
    return {"backend": backend, **repo.health(part)}


def latency_summary(seconds: list[float]) -> dict[str, Any]:
    """Arrival to action over the window: how many, median, 95th percentile, worst (sorted input)."""

    def rank(q: float) -> float | None:
        # nearest rank: a value that really occurred, not an interpolation between two
        return round(seconds[max(0, math.ceil(q * len(seconds)) - 1)], 3) if seconds else None

    return {
        "window_hours": LATENCY_WINDOW.total_seconds() / 3600,
        "count": len(seconds),
        "p50": rank(0.5),
        "p95": rank(0.95),
        "max": rank(1.0),
    }
