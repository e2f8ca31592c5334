"""Who may see the dashboard and who is acting: the token, its cookie, the CSRF value, the signed-in person.

With `[dashboard] password_env/password_file` set, every request wants that token: once in the
address (`?token=...`), which sets an HttpOnly cookie and redirects to the same page without it
(so the token stays out of the history and of what the page links to), then from the cookie. A
form that changes something carries the per-process CSRF value. Who acts is the person named by
the signing-in proxy's header (`user_header`) or, without one, the person the form names.
"""

from __future__ import annotations

import hmac

from flask import Request, Response, redirect, render_template, request
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from agent.dashboard.site import Site

COOKIE = "csm_agent_token"


def guard(site: Site) -> BaseResponse | None:
    """Run before every request: None lets it through; otherwise the answer it gets instead."""
    if request.endpoint == "static":
        return None  # the style sheet holds no client data
    if site.token is not None:
        given = request.args.get("token")
        if given is not None and hmac.compare_digest(given, site.token):
            args = MultiDict(request.args)
            args.pop("token")
            query = "&".join(f"{k}={v}" for k, v in args.items(multi=True))
            target = request.script_root + request.path + (f"?{query}" if query else "")
            answer = redirect(target, 303)
            answer.set_cookie(
                COOKIE, site.token, httponly=True, samesite="Strict", path=request.script_root or "/"
            )
            return answer
        if not hmac.compare_digest(request.cookies.get(COOKIE, ""), site.token):
            page = render_template(
                "message.html", title="Token needed", text="Open the dashboard with its token: /?token=..."
            )
            return Response(page, 401)
    if request.method == "POST" and not hmac.compare_digest(request.form.get("csrf", ""), site.csrf):
        page = render_template(
            "message.html", title="Expired form", text="This form has expired: reload the page."
        )
        return Response(page, 403)
    return None


def signed_in(site: Site, req: Request) -> str:
    """The person the signing-in proxy names ("" without `user_header`, or when the header is missing)."""
    return (req.headers.get(site.user_header) or "").strip() if site.user_header else ""
