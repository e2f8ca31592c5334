"""OAuth2 access tokens for XOAUTH2 (IMAP, SMTP), CalDAV and EWS Bearer, renewed from a refresh token.

With `oauth2_token_url` set, the section's secret is a refresh token: the agent asks the
token endpoint (RFC 6749 section 6) for an access token when it connects, and again
when the last one is about to expire. Without it, the secret is the access token itself
and something else renews it.

The grant's request and answer are oauthlib's (the library under requests-oauthlib and
exchangelib): it builds the form and turns an error answer into a typed error. We send it
with requests ourselves rather than through requests-oauthlib's session, which refuses
plain http even to 127.0.0.1 unless a process-wide variable is set.

A rotated refresh token (Microsoft and Google send a new one on use) is kept in the state
folder (agent.connect.token_store) and used next; the configured one is only the first.
"""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from oauthlib.oauth2 import Client, OAuth2Error  # type: ignore[import-untyped]

from agent import logs
from agent.config import ExchangeSection, ServerSection
from agent.connect.token_store import TokenStore

EARLY = 120.0  # renew this long before expiry: a connection made now must not die mid-login
REFUSED = ("invalid_grant", "invalid_client", "unauthorized_client")  # a person must act
LOOPBACK = ("127.0.0.1", "::1", "localhost")
_cache: dict[str, tuple[str, float]] = {}
_rotated: dict[str, tuple[str, str]] = {}  # account -> (seed, newest refresh token): no state folder
_store: TokenStore | None = None
_lock = threading.Lock()
Account = ServerSection | ExchangeSection  # the sections whose secret may be a refresh token


class TokenRefused(Exception):
    """The token endpoint refused the refresh token (revoked, expired): a person must issue a new one."""


def keep_tokens_in(state: Path | None) -> None:
    """Keep rotated refresh tokens in `<state>/oauth2/` (None: in memory only, for this process)."""
    global _store
    with _lock:
        _store = TokenStore(state / "oauth2") if state is not None else None


def access_token(s: Account) -> str:
    return access_token_until(s)[0]


def access_token_until(s: Account) -> tuple[str, float]:
    """The access token, and the time (time.time()) from which it is renewed: exchangelib's session
    asks for a new one then, instead of sending one the server is about to refuse."""
    configured = s.password() or ""
    if not s.oauth2_token_url:
        return configured, float("inf")
    # One account per endpoint, client and login: [mailbox] and [transport] signing in as the same
    # user share one grant, and so one rotated token.
    account = _hash(f"{s.oauth2_token_url}\0{s.oauth2_client_id}\0{s.username}")[:32]
    seed = _hash(configured)
    key = f"{account}\0{seed}"
    with _lock:
        token, expires = _cache.get(key, ("", 0.0))
        if not token or time.monotonic() >= expires - EARLY:
            if _store is None:
                _renew(s, account, seed, configured)
            else:
                with _store.lock(account):
                    _renew(s, account, seed, configured)
            token, expires = _cache[key]
    return token, time.time() + (expires - EARLY - time.monotonic())


def _renew(s: Account, account: str, seed: str, configured: str) -> None:
    refresh, origin = _newest(s, account, seed, configured)
    token = _grant(s, refresh, origin)
    access = str(token["access_token"])
    logs.add_secret(access)
    _cache[f"{account}\0{seed}"] = (access, time.monotonic() + float(token.get("expires_in") or 3600))
    rotated = str(token.get("refresh_token") or "")
    if rotated and rotated != refresh:
        logs.add_secret(rotated)
        _rotated[account] = (seed, rotated)
        if _store is not None:
            _store.save(account, seed, rotated)


def _newest(s: Account, account: str, seed: str, configured: str) -> tuple[str, str]:
    """The refresh token to use, and where it came from (said when it is refused)."""
    where = _where(s)
    stored = _store.load(account) if _store is not None else None
    if stored is not None and stored.seed == seed:
        logs.add_secret(stored.refresh_token)
        return (
            stored.refresh_token,
            f"the newest one, rotated {stored.rotated_at[:19]}, kept in {stored.path}",
        )
    if stored is None and _rotated.get(account, ("", ""))[0] == seed:
        return _rotated[account][1], "the newest one, rotated while the agent ran"
    return configured, f"the one in {where}"


def _grant(s: Account, refresh: str, origin: str) -> dict[str, Any]:
    url = s.oauth2_token_url
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
        raise TokenRefused(
            f"oauth2_token_url {url}: a refresh token is only sent over https (or to this machine)"
        )
    client = Client(s.oauth2_client_id)
    body = client.prepare_refresh_body(
        refresh_token=refresh, client_id=s.oauth2_client_id, client_secret=s.oauth2_client_secret()
    )
    response = requests.post(
        url,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        timeout=s.timeout_seconds,
    )
    if response.status_code >= 500:
        raise ConnectionError(f"{url}: {response.status_code} {response.reason}")
    try:
        return dict(client.parse_request_body_response(response.text))
    except OAuth2Error as exc:
        if exc.error in REFUSED:
            raise TokenRefused(
                f"{url} refused the refresh token ({origin}): {exc.error}: {exc.description}. It was revoked "
                f"or has expired: sign in again to issue a new refresh token and put it in {_where(s)}; "
                "the agent uses it from the next connection on"
            ) from None  # oauthlib's exception carries the request body, refresh token included
        raise ConnectionError(f"{url}: {exc.error}: {exc.description}") from None


def _where(s: Account) -> str:
    return f"password_file {s.password_file}" if s.password_file else f"the variable {s.password_env}"


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def forget() -> None:
    """Drop cached access tokens and in-memory rotated tokens (tests; after a refresh token is replaced)."""
    with _lock:
        _cache.clear()
        _rotated.clear()


__all__ = ["TokenRefused", "access_token", "access_token_until", "forget", "keep_tokens_in"]
