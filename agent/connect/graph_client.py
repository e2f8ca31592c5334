"""Microsoft Graph over HTTPS, shared by the graph mailbox, calendar and transport.

- App-only OAuth: the client-credentials grant through msal, which caches the token
  and fetches a new one before it expires (why msal: it is Microsoft's own client for
  Entra ID, with its discovery, caching and error shapes, which we would otherwise
  rewrite and get subtly wrong).
- Throttling: 429 and 503/504 carry Retry-After. A short wait is waited out in place; a
  longer one raises GraphUnavailable with the time, and the part backs off that long.
- Paging: a collection comes in pages linked by @odata.nextLink; a delta round ends
  with @odata.deltaLink, which the caller stores like an IMAP cursor.
- An expired delta or sync state (410 Gone, syncStateNotFound, resyncRequired) raises
  DeltaExpired: the caller starts over, and natural keys keep anything from being
  processed twice.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator
from typing import Any

import requests

from agent import logs
from agent.config import GraphSection

log = logging.getLogger(__name__)
TRANSIENT = {429, 500, 502, 503, 504}
EXPIRED_CODES = {"syncStateNotFound", "syncStateInvalid", "resyncRequired", "SyncStateNotFound"}


class GraphError(Exception):
    """Graph refused a request; `permanent` when trying again cannot help."""

    def __init__(self, message: str, *, status: int = 0, code: str = "", permanent: bool = True) -> None:
        super().__init__(message)
        self.status, self.code, self.permanent = status, code, permanent


class GraphUnavailable(GraphError):
    """Throttled, a server error or no connection: try again after `retry_after` seconds."""

    def __init__(self, message: str, *, status: int = 0, retry_after: float = 0.0) -> None:
        super().__init__(message, status=status, permanent=False)
        self.retry_after = retry_after


class DeltaExpired(GraphError):
    """The stored delta link or sync state is no longer valid: start the round over."""


class GraphClient:
    def __init__(self, settings: GraphSection, default_mailbox: str) -> None:
        import msal

        self.s = settings
        self.mailbox = settings.mailbox or default_mailbox
        self.http = requests.Session()
        if settings.tls_ca_file:
            # Per request: requests lets REQUESTS_CA_BUNDLE override a session's `verify`, and
            # msal's calls go through this session too.
            self.http.request = functools.partial(  # type: ignore[method-assign]
                self.http.request, verify=str(settings.tls_ca_file)
            )
        secret = settings.password()
        if not secret:
            raise GraphError("[graph] password_env or password_file: the app's client secret is needed")
        authority = f"{settings.authority_url.rstrip('/')}/{settings.tenant_id}"
        self.app = msal.ConfidentialClientApplication(
            settings.client_id,
            client_credential=secret,
            authority=authority,
            http_client=self.http,
            # Entra ID's own hosts are known to msal; a sovereign cloud or a test server is named by
            # the operator, so there is nothing to look up at login.microsoftonline.com.
            instance_discovery=authority.startswith("https://login.microsoftonline.com/"),
            timeout=settings.timeout_seconds,
        )
        root = settings.graph_url.split("/v1.0")[0].split("/beta")[0].rstrip("/")
        self.scopes = [f"{root}/.default"]

    # --- requests ----------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return path if path.startswith("https://") or path.startswith("http://") else self.s.graph_url + path

    def user_path(self, rest: str, mailbox: str = "") -> str:
        return f"/users/{mailbox or self.mailbox}{rest}"

    def token(self) -> str:
        result: dict[str, Any] = self.app.acquire_token_for_client(scopes=self.scopes) or {}
        if "access_token" not in result:
            error = result.get("error", "no token")
            detail = (
                str(result.get("error_description", "")).splitlines()[0]
                if result.get("error_description")
                else ""
            )
            # a wrong secret or tenant needs a person; an unreachable Entra ID does not
            permanent = error in ("invalid_client", "unauthorized_client", "invalid_request", "invalid_scope")
            if permanent:
                raise GraphError(f"Entra ID refused the app's sign-in: {error}: {detail}", code=error)
            raise GraphUnavailable(f"Entra ID sign-in failed: {error}: {detail}")
        logs.add_secret(result["access_token"])  # any line (msal, urllib3 at DEBUG) may echo it
        return str(result["access_token"])

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One call, throttling waited out when short; raises GraphError, GraphUnavailable, DeltaExpired."""
        headers = {"Authorization": f"Bearer {self.token()}", **kwargs.pop("headers", {})}
        for attempt in range(4):
            try:
                response = self.http.request(
                    method, self.url(path), headers=headers, timeout=self.s.timeout_seconds, **kwargs
                )
            except requests.RequestException as exc:
                raise GraphUnavailable(f"Microsoft Graph unreachable: {type(exc).__name__}: {exc}") from exc
            if response.status_code < 400:
                return response
            code, message = _error(response)
            if response.status_code in TRANSIENT:
                wait = _retry_after(response, default=2.0**attempt)
                if wait <= self.s.max_wait_seconds and attempt < 3:
                    log.info(
                        "graph %s %s: %d (%s); waiting %.1f s",
                        method,
                        path[:80],
                        response.status_code,
                        code,
                        wait,
                    )
                    time.sleep(wait)
                    continue
                raise GraphUnavailable(
                    f"Microsoft Graph answered {response.status_code} {code}: {message}",
                    status=response.status_code,
                    retry_after=wait,
                )
            if response.status_code == 410 or code in EXPIRED_CODES:
                raise DeltaExpired(f"{code or 'Gone'}: {message}", status=response.status_code, code=code)
            raise GraphError(
                f"Microsoft Graph answered {response.status_code} {code}: {message}",
                status=response.status_code,
                code=code,
                permanent=response.status_code not in (401, 403),  # a permission a person can grant
            )
        raise AssertionError("unreachable")

    def rounds(self, first: str, headers: dict[str, str]) -> Iterator[tuple[list[dict[str, Any]], str, bool]]:
        """Pages of a collection or delta round: (items, the link to go on from, whether it ends the round)."""
        link = first
        while True:
            page = self.request("GET", link, headers=headers).json()
            items = list(page.get("value", []))
            if "@odata.nextLink" in page:
                link = str(page["@odata.nextLink"])
                yield items, link, False
                continue
            yield items, str(page.get("@odata.deltaLink", "")), True
            return


def _error(response: requests.Response) -> tuple[str, str]:
    """(code, message) of a Graph error body: {"error": {"code": ..., "message": ...}}."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200]
    error = body.get("error", {}) if isinstance(body, dict) else {}
    if isinstance(error, str):  # the token endpoint's shape
        return error, str(body.get("error_description", ""))[:300]
    return str(error.get("code", "")), str(error.get("message", ""))[:300]


def _retry_after(response: requests.Response, default: float) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", default)))
    except ValueError:  # an HTTP date: rare from Graph; a short default is safe
        return default
