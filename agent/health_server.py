"""The daemon's health and metrics over HTTP: /livez, /readyz (and /health, its old name), /metrics.

Off unless `[daemon] health_port` is set; it listens on `[daemon] health_bind` (127.0.0.1 by
default: the figures name clients and servers, so a container publishes it, a host puts a
proxy in front). It runs in a thread of the daemon and answers from the daemon's in-memory
note, so it still answers when the store cannot (agent.daemon.health_note).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from agent.clock import Clock
from agent.config import Config
from agent.daemon.health_note import HealthNote
from agent.health import liveness, status_data
from agent.metrics import AgentCollector, exposition, registry

log = logging.getLogger(__name__)
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


class _Server6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def serve(
    config: Config,
    sessions: sessionmaker[Session],
    clock: Clock,
    note: HealthNote,
    *,
    live_within: float | None = None,
) -> ThreadingHTTPServer:
    """Start the server on `[daemon] health_bind`:`health_port`, in a thread of its own."""
    started = time.time()

    def data() -> dict[str, Any]:
        return status_data(config, sessions, clock.now(), note.snapshot())

    def live() -> dict[str, Any]:
        return liveness(config, note.snapshot(), started, live_within)

    metrics = registry(AgentCollector(data, sessions, lambda: dict(note.errors)))
    handler = _handler(data, live, note.snapshot, lambda: exposition(metrics))
    bind, port = config.daemon.health_bind, config.daemon.health_port
    server_class = _Server6 if ipaddress.ip_address(bind).version == 6 else ThreadingHTTPServer
    server = server_class((bind, port), handler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    host = f"[{bind}]" if ":" in bind else bind
    log.info("health on http://%s:%d/livez, /readyz and /metrics", host, server.server_address[1])
    return server


def _handler(
    data: Callable[[], dict[str, Any]],
    live: Callable[[], dict[str, Any]],
    daemon: Callable[[], dict[str, Any]],
    metrics: Callable[[], bytes],
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/livez":  # never the store: a store that is down is not a reason to restart
                state = live()
                self._reply(200 if state["live"] else 503, "application/json", json.dumps(state).encode())
            elif path in ("/readyz", "/health"):  # /health: the name monitors set up before /readyz used
                self._ready()
            elif path == "/metrics":
                self._reply(200, PROMETHEUS_TEXT, metrics())
            else:
                self._reply(404, "text/plain", b"try /livez, /readyz or /metrics\n")

        def _ready(self) -> None:
            try:
                current = data()
            except Exception as exc:  # the store is down: say so, with the status code monitors read
                error = str(getattr(exc, "orig", exc))
                body = {"ready": False, "not_ready": {"store": error}, "error": error, "daemon": daemon()}
                self._reply(503, "application/json", json.dumps(body).encode())
                return
            self._reply(200 if current["ready"] else 503, "application/json", json.dumps(current).encode())

        def _reply(self, code: int, kind: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("health: " + format, *args)

    return Handler
