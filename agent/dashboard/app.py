"""The dashboard as a WSGI application: its pages and actions wired to the store, behind the access guard.

Only wiring: the pages (one module each: board, deal_page, scorecard_page, unmatched_page), the
actions (agent.dashboard.actions) and who may come in (agent.dashboard.access) live in their own
modules. Links are made with url_for, under the SCRIPT_NAME the server sets ([dashboard] base_path).
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, Response, render_template
from werkzeug.exceptions import HTTPException

from agent.dashboard import access, actions, board, deal_page, scorecard_page, unmatched_page
from agent.dashboard.site import Site
from agent.dashboard.words import plural

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent

# Pages are server-rendered with one style sheet: nothing runs, nothing is fetched from elsewhere,
# no other site may frame them, and the client data they show is not kept in caches or referrers.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def create_app(site: Site) -> Flask:
    app = Flask(__name__, template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"))
    app.jinja_env.filters["days"] = lambda v: (
        f"{v:.1f}" if isinstance(v, float) else ("-" if v is None else v)
    )
    app.jinja_env.filters["plural"] = plural  # {{ n|plural("answer") }}: 1 answer, 2 answers
    app.jinja_env.globals["csrf"] = site.csrf
    app.before_request(lambda: access.guard(site))
    for page in (board, deal_page, scorecard_page, unmatched_page, actions):
        app.register_blueprint(page.blueprint(site))

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.update(HEADERS)
        if response.mimetype == "text/html":
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(404)
    def not_found(_: Exception) -> tuple[str, int]:
        return render_template("message.html", title="Not found", text="No such page."), 404

    @app.errorhandler(Exception)
    def failed(exc: Exception) -> HTTPException | tuple[str, int]:
        if isinstance(exc, HTTPException):
            return exc  # a 405 or 400 is the client's, and says so
        # a page that fails must not take the daemon down; the log has it
        log.exception("dashboard: %s", exc)
        return render_template(
            "message.html", title="Something went wrong", text="The agent's log says what."
        ), 500

    return app
