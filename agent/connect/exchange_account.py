"""An exchangelib Account for Exchange Server on-premises, shared by the EWS mailbox, calendar and transport.

No autodiscover (the operator gives the EWS URL: autodiscover guesses across DNS and
HTTP redirects, which on-premises setups often break) and fail-fast retries: throttling
(ErrorServerBusy with its back-off) comes back to the agent, whose parts back off while
the others go on, instead of sleeping inside exchangelib for minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from agent.config import Config, ExchangeSection
from agent.connect import oauth2
from agent.errors import ConfigError


def connect(config: Config) -> Any:
    from exchangelib import (
        BASIC,
        DELEGATE,
        IMPERSONATION,
        NTLM,
        OAUTH2,
        Account,
        Build,
        Configuration,
        Credentials,
        OAuth2AuthorizationCodeCredentials,
        Version,
    )
    from exchangelib.protocol import BaseProtocol, FailFast

    s = config.exchange
    secret = s.password()
    if not secret:
        raise ConfigError(
            "[exchange] password_env or password_file: the account's password (or token) is needed"
        )
    if s.tls_ca_file:
        BaseProtocol.HTTP_ADAPTER_CLS = _ca_adapter(s)  # exchangelib's documented hook; one per process
    credentials: Any
    if s.auth == "oauth2" and s.oauth2_token_url:
        credentials = _renewed(s)
    elif s.auth == "oauth2":
        credentials = OAuth2AuthorizationCodeCredentials(
            access_token={"access_token": secret, "token_type": "Bearer"}
        )
    else:
        credentials = Credentials(s.username, secret)
    version = None
    if s.version:
        major, _, minor = s.version.partition(".")
        version = Version(build=Build(int(major), int(minor or 0)))
    configuration = Configuration(
        service_endpoint=s.url,
        credentials=credentials,
        auth_type={"ntlm": NTLM, "basic": BASIC, "oauth2": OAUTH2}[s.auth],
        version=version,
        retry_policy=FailFast(),
    )
    BaseProtocol.TIMEOUT = int(s.timeout_seconds)
    return Account(
        s.mailbox or config.agent.address,
        config=configuration,
        autodiscover=False,
        access_type=IMPERSONATION if s.access_type == "impersonation" else DELEGATE,
    )


def _renewed(s: ExchangeSection) -> Any:
    """exchangelib credentials whose access token comes from the section's refresh token.

    exchangelib's documented way for an application that renews tokens itself: credentials
    without a client secret (so requests-oauthlib never tries the refresh on its own, toward
    Microsoft's endpoint) whose `refresh()` is ours. The token carries its renewal time as
    `expires_at`: oauthlib raises TokenExpiredError from then on, exchangelib calls `refresh()`
    and builds a new session with the new token, and the rotated refresh token is kept
    (agent.connect.oauth2).
    """
    from exchangelib import OAuth2AuthorizationCodeCredentials

    class Renewed(OAuth2AuthorizationCodeCredentials):  # type: ignore[misc]
        def refresh(self, session: Any) -> None:
            self.access_token = _bearer(s)

    return Renewed(access_token=_bearer(s))


def _bearer(s: ExchangeSection) -> dict[str, Any]:
    token, renew_at = oauth2.access_token_until(s)
    return {"access_token": token, "token_type": "Bearer", "expires_at": renew_at}


def _ca_adapter(s: ExchangeSection) -> type[requests.adapters.HTTPAdapter]:
    ca = str(s.tls_ca_file)

    class PrivateCA(requests.adapters.HTTPAdapter):
        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            super().cert_verify(conn=conn, url=url, verify=ca, cert=cert)  # type: ignore[no-untyped-call]

    return PrivateCA


def utc(value: datetime) -> datetime:
    """An exchangelib EWSDateTime as a plain aware UTC datetime."""
    return datetime.fromtimestamp(value.timestamp(), UTC)


def transient(exc: BaseException) -> tuple[bool, float]:
    """(whether trying again later can help, how long the server asked us to wait)."""
    from exchangelib.errors import (
        ErrorInternalServerTransientError,
        ErrorMailboxStoreUnavailable,
        ErrorServerBusy,
        ErrorTimeoutExpired,
        RateLimitError,
        TransportError,
        UnauthorizedError,
    )

    if isinstance(exc, ErrorServerBusy):
        return True, float(exc.back_off or 0)
    if isinstance(
        exc, (ErrorInternalServerTransientError, ErrorMailboxStoreUnavailable, ErrorTimeoutExpired)
    ):
        return True, 0.0
    if isinstance(exc, RateLimitError):
        return True, float(getattr(exc, "wait", 0) or 0)
    if isinstance(exc, UnauthorizedError):
        return False, 0.0
    from exchangelib.errors import ResponseMessageError

    if isinstance(exc, ResponseMessageError):
        return False, 0.0
    return isinstance(exc, (TransportError, requests.RequestException, OSError)), 0.0
