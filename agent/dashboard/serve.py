"""Serving the dashboard with waitress, a production WSGI server, in a thread of the daemon or of
`csm-agent dashboard`; [dashboard] base_path becomes its url_prefix (SCRIPT_NAME for url_for)."""

from __future__ import annotations

import logging
import threading

from waitress import wasyncore
from waitress.server import create_server

from agent.config import DashboardSection
from agent.dashboard.app import create_app
from agent.dashboard.site import Site

log = logging.getLogger(__name__)
THREADS = 4  # pages are short reads of the store; a handful of people use it at once


class DashboardServer:
    def __init__(self, site: Site, settings: DashboardSection, port: int) -> None:
        self._server = create_server(
            create_app(site),
            host=settings.bind,
            port=port,
            url_prefix=settings.base_path,
            threads=THREADS,
            ident="csm-agent",
            clear_untrusted_proxy_headers=True,
        )
        self.base_path = settings.base_path
        self._thread = threading.Thread(target=self._server.run, name="dashboard", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.effective_port)  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        host = self._server.effective_host  # type: ignore[union-attr]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{self.port}{self.base_path}/"

    def start(self) -> DashboardServer:
        self._thread.start()
        log.info("dashboard on %s", self.url)
        return self

    def shutdown(self) -> None:
        """Stop taking requests, let the worker threads finish theirs, and close the socket."""
        self._server.task_dispatcher.shutdown()
        # every socket of the server's loop, kept-alive browser connections included: the loop
        # runs while any is open. Closed by the loop's own thread, woken through waitress's trigger:
        # closed from here, a socket its select() was waiting on made that fail (EBADF).
        sockets = self._server._map  # type: ignore[union-attr]
        if not self._thread.is_alive():
            wasyncore.close_all(sockets)
            return
        self._server.trigger.pull_trigger(lambda: wasyncore.close_all(sockets))  # type: ignore[union-attr]
        self._thread.join(timeout=5)
