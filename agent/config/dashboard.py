"""[dashboard]: where the dashboard listens, under which path, and who is signed in."""

from __future__ import annotations

from pydantic import Field, field_validator

from agent.config.sections import Secret
from agent.config.values import BindAddress


class DashboardSection(Secret):
    """The dashboard; password_env/password_file, if set, is a token it asks for once (then a cookie)."""

    port: int = Field(0, ge=0, le=65535, description="Serve the dashboard on bind:port (0: off)")
    bind: BindAddress = Field(
        "127.0.0.1",
        description=(
            "The IP address it listens on. Keep 127.0.0.1 behind a reverse proxy on the same host; "
            "0.0.0.0 only in a container, or with a token and TLS in front"
        ),
    )
    base_path: str = Field(
        "",
        description=(
            "The sub-path a reverse proxy serves it under, like `/onboarding` for "
            "https://intranet.example.com/onboarding/ (the proxy passes the path on unchanged); "
            "every link and form is made under it"
        ),
    )
    user_header: str = Field(
        "",
        description=(
            "A request header set by the signing-in proxy in front (oauth2-proxy's "
            "`X-Forwarded-Email`, `Remote-User`): the person each action is recorded as. Only with a "
            "proxy that sets it on every request and strips it from the client's; empty: the "
            "dashboard asks who you are before an action"
        ),
    )

    @field_validator("base_path")
    @classmethod
    def _base_path(cls, v: str) -> str:
        if v and (not v.startswith("/") or v.endswith("/") or "//" in v or any(c in v for c in "?#% ")):
            raise ValueError("expected a path like /onboarding (a leading slash, none at the end)")
        return v
