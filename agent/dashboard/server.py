"""HTTP for the dashboard: routes, the optional token, one-click assignment.

Bound to 127.0.0.1 only. With `[dashboard] password_env/password_file` set, every page
wants that token once (`?token=...`), then a cookie carries it. A form that changes
something carries a per-process CSRF value, so another site open in the same browser
cannot post to it.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session, sessionmaker

from agent.clock import Clock
from agent.dashboard import charts, views
from agent.errors import InputError
from agent.handling.cause import begin
from agent.pipeline.definition import Pipeline
from agent.runtime import Runtime
from agent.store.repo import Repo

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent / "templates"
COOKIE = "csm_agent_token"


class Dashboard:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        runtime: Callable[[], Runtime],
        clock: Clock,
        token: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.runtime = runtime  # the daemon's current one: a SIGHUP reload is seen here too
        self.clock = clock
        self.token = token
        self.csrf = secrets.token_urlsafe(24)
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
        self.env.filters["days"] = lambda v: f"{v:.1f}" if isinstance(v, float) else ("-" if v is None else v)

    @property
    def pipelines(self) -> dict[str, Pipeline]:
        return self.runtime().pipelines

    # --- pages ------------------------------------------------------------------------------
    def page(self, path: str, query: dict[str, str]) -> tuple[int, str]:
        now = self.clock.now()
        with self.sessions.begin() as s:
            repo = Repo(s)
            if path in ("/", "/board"):
                return self._board(repo, query.get("pipeline", ""), now)
            if path.startswith("/deals/") and path.removeprefix("/deals/").isdigit():
                deal = repo.deal(int(path.removeprefix("/deals/")))
                if deal is None:
                    return 404, self.render(
                        "message.html", title="No such deal", text="That deal does not exist."
                    )
                show = views.timeline(repo, deal, self.pipelines.get(deal.pipeline), now)
                return 200, self.render("deal.html", title=deal.name, deal=show)
            if path == "/scorecard":
                card = views.card_for(repo, self.pipelines, now)
                everything = card["rows"][0]
                stages = [
                    (k, v["median"])
                    for k, v in everything["time_in_stage_days"].items()
                    if v["median"] is not None
                ]
                return 200, self.render(
                    "scorecard.html",
                    title="Scorecard",
                    card=card,
                    time_in_stage=charts.bars(stages),
                    csat=charts.scores(views.csat_points(repo, now - timedelta(days=365))),
                )
            if path == "/unmatched":
                deals = sorted(((d.id, d.name) for d in repo.deals()), key=lambda d: d[1].lower())
                return 200, self.render(
                    "unmatched.html",
                    title="Unmatched mail",
                    messages=views.unmatched(repo),
                    deals=deals,
                    done=query.get("done", ""),
                )
        return 404, self.render("message.html", title="Not found", text="No such page.")

    def _board(self, repo: Repo, chosen: str, now: Any) -> tuple[int, str]:
        pipelines = self.pipelines
        if not pipelines:
            return 200, self.render("message.html", title="Board", text="No pipelines are loaded.")
        counts = {p: 0 for p in pipelines}
        for d in repo.deals():
            if d.pipeline in counts:
                counts[d.pipeline] += 1
        pid = (
            chosen
            if chosen in pipelines
            else max(pipelines, key=lambda p: (counts[p], p == next(iter(pipelines))))
        )
        return 200, self.render(
            "board.html",
            title="Board",
            pipeline=pipelines[pid],
            pipelines=[(p, counts[p]) for p in pipelines],
            columns=views.board(repo, pipelines[pid], now),
        )

    def assign(self, message_id: int, deal_id: int) -> str:
        """One click in the unmatched queue: the message goes to the deal, and its rules run."""
        now = self.clock.now()
        with self.sessions.begin() as s:
            repo = Repo(s)
            msg, deal = repo.message(message_id), repo.deal(deal_id)
            if msg is None or msg.status not in ("unmatched", "held") or deal is None:
                raise InputError("that message is no longer waiting, or the deal does not exist")
            cause = begin(repo, f"dashboard:assign:{uuid.uuid4()}", "cli", now)
            assert cause is not None
            self.runtime().handlers.assigner.message(repo, msg, deal, cause, now, "the dashboard")
            return f"'{msg.subject}' is now on {deal.name}"

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(csrf=self.csrf, **context)

    # --- serving ----------------------------------------------------------------------------
    def serve(self, port: int) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        threading.Thread(target=server.serve_forever, name="dashboard", daemon=True).start()
        log.info("dashboard on http://127.0.0.1:%d/", server.server_address[1])
        return server

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        dashboard = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if not self._allowed(query):
                    return
                try:
                    status, body = dashboard.page(url.path, query)
                except Exception:  # a page that fails must not take the daemon down; the log has it
                    log.exception("dashboard %s", url.path)
                    status, body = 500, "<h1>Something went wrong</h1><p>The agent's log says what.</p>"
                self._send(status, body, set_cookie="token" in query)

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                form = {
                    k: v[0]
                    for k, v in parse_qs(
                        self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                    ).items()
                }
                if not self._allowed({}) or not hmac.compare_digest(form.get("csrf", ""), dashboard.csrf):
                    if self._allowed({}):
                        self._send(403, "<p>This form has expired: reload the page.</p>")
                    return
                parts = url.path.strip("/").split("/")
                if (
                    len(parts) == 3
                    and parts[0] == "unmatched"
                    and parts[2] == "assign"
                    and parts[1].isdigit()
                ):
                    try:
                        done = dashboard.assign(int(parts[1]), int(form.get("deal", "0") or 0))
                    except (InputError, ValueError) as exc:
                        done = f"Not assigned: {exc}"
                    self.send_response(303)
                    self.send_header("Location", f"/unmatched?done={quote(done)}")
                    self.end_headers()
                    return
                self._send(404, "<p>No such action.</p>")

            def _allowed(self, query: dict[str, str]) -> bool:
                if dashboard.token is None:
                    return True
                cookie = SimpleCookie(self.headers.get("Cookie", ""))
                given = query.get("token") or (cookie[COOKIE].value if COOKIE in cookie else "")
                if hmac.compare_digest(given, dashboard.token):
                    return True
                self._send(401, "<p>Open the dashboard with its token: <code>/?token=...</code></p>")
                return False

            def _send(self, status: int, body: str, set_cookie: bool = False) -> None:
                raw = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.send_header(
                    "Content-Security-Policy",
                    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
                )
                if set_cookie and dashboard.token:
                    self.send_header(
                        "Set-Cookie", f"{COOKIE}={dashboard.token}; HttpOnly; SameSite=Strict; Path=/"
                    )
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("dashboard: " + format, *args)

        return Handler
