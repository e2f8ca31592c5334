"""OAuth2 access tokens for XOAUTH2 (IMAP, SMTP) and CalDAV Bearer, renewed from a refresh token.

With `oauth2_token_url` set, the section's secret is a refresh token: the agent asks the
token endpoint (RFC 6749 section 6) for an access token when it connects, and again
when the last one is about to expire. Without it, the secret is the access token itself
and something else renews it.
"""

from __future__ import annotations

import hashlib
import threading
import time

import requests

from agent.config import ServerSection

EARLY = 120.0  # renew this long before expiry: a connection made now must not die mid-login
_cache: dict[str, tuple[str, float]] = {}
_lock = threading.Lock()


class TokenRefused(Exception):
    """The token endpoint refused the refresh token (revoked, expired): a person must issue a new one."""


def access_token(s: ServerSection) -> str:
    secret = s.password() or ""
    if not s.oauth2_token_url:
        return secret
    key = hashlib.sha256(f"{s.oauth2_token_url}\0{s.oauth2_client_id}\0{secret}".encode()).hexdigest()
    with _lock:
        token, expires = _cache.get(key, ("", 0.0))
        if token and time.monotonic() < expires - EARLY:
            return token
        form = {"grant_type": "refresh_token", "refresh_token": secret, "client_id": s.oauth2_client_id}
        client_secret = s.oauth2_client_secret()
        if client_secret:
            form["client_secret"] = client_secret
        response = requests.post(s.oauth2_token_url, data=form, timeout=s.timeout_seconds)
        body = (
            response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
        )
        if response.status_code >= 400 or "access_token" not in body:
            error = body.get("error", response.status_code)
            detail = body.get("error_description", response.text[:200])
            if error in ("invalid_grant", "invalid_client", "unauthorized_client"):
                raise TokenRefused(f"{s.oauth2_token_url} refused the refresh token: {error}: {detail}")
            raise ConnectionError(f"{s.oauth2_token_url}: {error}: {detail}")
        token = str(body["access_token"])
        _cache[key] = (token, time.monotonic() + float(body.get("expires_in", 3600)))
        return token


def forget() -> None:
    """Drop cached access tokens (tests; after a refresh token is replaced)."""
    with _lock:
        _cache.clear()


__all__ = ["TokenRefused", "access_token", "forget"]
