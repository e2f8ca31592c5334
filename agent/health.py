"""What `status`, the health endpoint and the metrics report: one source, three views.

The endpoint is off by default (`[daemon] health_port`), and binds to 127.0.0.1
only: put a reverse proxy in front to expose it.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from agent.config import Config
from agent.daemon.health_note import health_path, read_health
from agent.daemon.poison import note_path, read
from agent.store.repo import Repo

log = logging.getLogger(__name__)


LATENCY_WINDOW = timedelta(hours=24)


PARTS = ("mailbox", "calendar", "outbox", "chat")  # chat: only with [[chat.channels]]


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
    if config.mailbox.backend == "maildir":
        new = config.maildir_path / "new"
        data["mailbox"]["backlog"] = sum(1 for _ in new.iterdir()) if new.is_dir() else 0
    data["daemon"] = daemon if daemon is not None else daemon_data(config)
    data["ready"] = bool(data["daemon"]["ready"]) and not any(
        data.get(p, {}).get("last_error") for p in PARTS
    )
    return data


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


def metrics_text(data: dict[str, Any]) -> str:
    """The same figures in the Prometheus text format."""
    lines = [
        "# HELP csm_agent_deals Deals in the store.",
        "# TYPE csm_agent_deals gauge",
        f"csm_agent_deals {data['deals']}",
        "# HELP csm_agent_emails Emails in the outbox by status (sent, queued, review, failed, withdrawn).",
        "# TYPE csm_agent_emails gauge",
    ]
    lines += [f'csm_agent_emails{{status="{k}"}} {v}' for k, v in sorted(data["emails"].items())]
    lines += [
        "# HELP csm_agent_messages Messages read, by how they were matched.",
        "# TYPE csm_agent_messages gauge",
    ]
    lines += [f'csm_agent_messages{{status="{k}"}} {v}' for k, v in sorted(data["messages"].items())]
    for name, help_ in (
        ("quarantined", "Inputs kept aside with an error."),
        ("unmatched", "Messages waiting for a person to tell their deal."),
        ("timers_pending", "Timers not yet fired."),
    ):
        lines += [
            f"# HELP csm_agent_{name} {help_}",
            f"# TYPE csm_agent_{name} gauge",
            f"csm_agent_{name} {data[name]}",
        ]
    latency = data["latency"]
    lines += [
        "# HELP csm_agent_action_latency_seconds From an input's arrival (a message reaching the mailbox, "
        "a call ending, a delayed email coming due) to the email it caused being sent; last 24 h.",
        "# TYPE csm_agent_action_latency_seconds gauge",
    ]
    lines += [
        f'csm_agent_action_latency_seconds{{quantile="{q}"}} {latency[k]}'
        for q, k in (("0.5", "p50"), ("0.95", "p95"), ("1", "max"))
        if latency[k] is not None
    ]
    lines += [
        "# HELP csm_agent_actions_24h Emails sent in the last 24 h that the latency is measured over.",
        "# TYPE csm_agent_actions_24h gauge",
        f"csm_agent_actions_24h {latency['count']}",
    ]
    lines += [
        "# HELP csm_agent_part_up 1 when the part's last attempt worked.",
        "# TYPE csm_agent_part_up gauge",
    ]
    for part in (p for p in PARTS if p in data):  # chat only when configured
        up = 0 if data[part].get("last_error") else 1
        lines.append(f'csm_agent_part_up{{part="{part}",backend="{data[part]["backend"]}"}} {up}')
    return "\n".join(lines) + "\n"


def serve(
    port: int, data: Callable[[], dict[str, Any]], daemon: Callable[[], dict[str, Any]]
) -> ThreadingHTTPServer:
    """GET /health (JSON) and /metrics (Prometheus) on 127.0.0.1:port, in a thread of its own.

    `daemon` is the daemon's own record, kept in memory: it still answers when the store cannot.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                current = data()
            except Exception as exc:  # the store is down: say so, with the status code monitors read
                body = {"ready": False, "error": str(exc), "daemon": daemon()}
                self._reply(503, "application/json", json.dumps(body))
                return
            if self.path == "/health":
                self._reply(200 if current["ready"] else 503, "application/json", json.dumps(current))
            elif self.path == "/metrics":
                self._reply(200, "text/plain; version=0.0.4", metrics_text(current))
            else:
                self._reply(404, "text/plain", "try /health or /metrics\n")

        def _reply(self, code: int, kind: str, body: str) -> None:
            raw = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("health: " + format, *args)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    log.info("health endpoint on http://127.0.0.1:%d/health and /metrics", port)
    return server
