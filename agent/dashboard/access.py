"""Who may see the dashboard and who is acting: the token, its cookie, the CSRF value, the signed-in person.

With `[dashboard] password_env/password_file` set, every request wants that token: once in the
address (`?token=...`), which sets an HttpOnly cookie and redirects to the same page without it
(so the token stays out of the history and of what the page links to), then from the cookie. A
form that changes something carries the per-process CSRF value. Who acts is the person named by
the signing-in proxy's header (`user_header`) or, without one, the person the form names.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlencode

from flask import Request, Response, redirect, render_template, request
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from agent.config.values import check_address
from agent.dashboard.site import Site

COOKIE = "csm_agent_token"
ACTOR_COOKIE = "csm_agent_actor"  # the address a person typed in "Your email", for their next form
ACTOR_DAYS = 180


def guard(site: Site) -> BaseResponse | None:
    """Run before every request: None lets it through; otherwise the answer it gets instead."""
    if request.endpoint == "static":
        return None  # the style sheet holds no client data
    if site.token is not None:
        given = request.args.get("token")
        if given is not None and hmac.compare_digest(given, site.token):
            args = MultiDict(request.args)
            args.pop("token")
            query = urlencode(list(args.items(multi=True)))  # encoded again: "Acme & Co" stays one value
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


def acting(site: Site, req: Request) -> str:
    """Who is acting: with `user_header`, the person the proxy names (a form cannot claim to be
    someone else); without, the address the form gives. "" when there is none, or no address."""
    return signed_in(site, req) if site.user_header else _address(req.form.get("actor", ""))


def remembered(site: Site, req: Request) -> str:
    """Whom a new form is filled in for: the proxy's person, else the address this browser gave last."""
    return signed_in(site, req) if site.user_header else _address(req.cookies.get(ACTOR_COOKIE, ""))


def remember(site: Site, req: Request, answer: BaseResponse, actor: str) -> BaseResponse:
    """Keep the address a person typed for their next form (nothing to keep when the proxy names them)."""
    if actor and not site.user_header:
        answer.set_cookie(
            ACTOR_COOKIE,
            actor,
            max_age=ACTOR_DAYS * 86400,
            httponly=True,
            samesite="Strict",
            path=req.script_root or "/",
        )
    return answer


def _address(text: str) -> str:
    try:
        return check_address(text) if text.strip() else ""
    except ValueError:
        return ""
