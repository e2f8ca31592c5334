"""OAuth2 refresh-token grant against a token endpoint over real HTTP on loopback: rotation and revocation."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import logs
from agent.config import ServerSection
from agent.connect import oauth2
from tests.token_endpoint import RotatingTokenEndpoint

pytestmark = pytest.mark.integration


@pytest.fixture
def endpoint() -> Iterator[RotatingTokenEndpoint]:
    oauth2.forget()
    server = RotatingTokenEndpoint()
    yield server
    server.close()
    oauth2.keep_tokens_in(None)
    oauth2.forget()


def _section(tmp_path: Path, token_url: str, refresh_token: str) -> ServerSection:
    secret = tmp_path / "refresh-token"
    secret.write_text(refresh_token + "\n")
    secret.chmod(0o600)
    client_secret = tmp_path / "client-secret"
    client_secret.write_text("GOCSPX-client\n")
    client_secret.chmod(0o600)
    return ServerSection(
        host="imap.example.com",
        username="agent@example.com",
        auth="xoauth2",
        oauth2_token_url=token_url,
        oauth2_client_id="123.apps.example",
        oauth2_client_secret_file=client_secret,
        password_file=secret,
    )


def test_the_rotated_refresh_token_is_kept_private_and_used_next_also_after_a_restart(
    tmp_path: Path, endpoint: RotatingTokenEndpoint
) -> None:
    endpoint.valid.add("1//configured")
    state = tmp_path / "state"
    oauth2.keep_tokens_in(state)
    s = _section(tmp_path, endpoint.url, "1//configured")

    assert oauth2.access_token(s) == "ya29.access-1"
    assert oauth2.access_token(s) == "ya29.access-2"  # the first token was used up: the rotated one worked
    assert endpoint.used == ["1//configured", "1//rotated-1"]
    assert endpoint.forms[0]["client_id"] == ["123.apps.example"]
    assert endpoint.forms[0]["client_secret"] == ["GOCSPX-client"]

    (stored,) = (state / "oauth2").glob("*.json")
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE((state / "oauth2").stat().st_mode) == 0o700
    assert json.loads(stored.read_text())["refresh_token"] == "1//rotated-2"
    assert not list((state / "oauth2").glob("*.tmp"))

    oauth2.forget()  # a restart: nothing in memory, the file remains
    assert oauth2.access_token(s) == "ya29.access-3"
    assert endpoint.used[-1] == "1//rotated-2"

    # tokens learnt at run time never reach a log line
    assert logs.redact("ya29.access-3 1//rotated-3") == "*** ***"

    # an operator who signs in again puts the new token in the config: it wins over the stored one
    endpoint.valid.add("1//issued-again")
    s = _section(tmp_path, endpoint.url, "1//issued-again")
    assert oauth2.access_token(s) == "ya29.access-4"
    assert endpoint.used[-1] == "1//issued-again"
    assert json.loads(stored.read_text())["refresh_token"] == "1//rotated-4"


def test_without_a_state_folder_the_rotated_token_is_used_while_the_agent_runs(
    tmp_path: Path, endpoint: RotatingTokenEndpoint
) -> None:
    endpoint.valid.add("1//configured")
    s = _section(tmp_path, endpoint.url, "1//configured")
    oauth2.access_token(s)
    oauth2.access_token(s)
    assert endpoint.used == ["1//configured", "1//rotated-1"]


def test_a_revoked_refresh_token_says_what_to_do(tmp_path: Path, endpoint: RotatingTokenEndpoint) -> None:
    endpoint.valid.add("1//configured")
    oauth2.keep_tokens_in(tmp_path / "state")
    s = _section(tmp_path, endpoint.url, "1//configured")
    oauth2.access_token(s)
    endpoint.valid.clear()  # the user changed their password; an admin revoked the app's sessions
    oauth2.forget()
    with pytest.raises(oauth2.TokenRefused) as info:
        oauth2.access_token(s)
    message = str(info.value)
    assert "invalid_grant" in message and "AADSTS70008" in message
    assert "rotated" in message and str(tmp_path / "state" / "oauth2") in message  # which token was refused
    assert (
        f"sign in again to issue a new refresh token and put it in password_file {s.password_file}" in message
    )
    assert "1//rotated-1" not in message  # the refused token itself is not repeated


def test_a_refresh_token_goes_over_https_only_except_to_this_machine(tmp_path: Path) -> None:
    oauth2.forget()
    s = _section(tmp_path, "http://login.example.com/token", "1//configured")
    with pytest.raises(oauth2.TokenRefused, match="only sent over https"):
        oauth2.access_token(s)
