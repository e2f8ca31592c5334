"""How the dashboard is served: waitress under a proxy's sub-path, the token and its cookie, the
headers every answer carries, `csm-agent dashboard` alone, and [dashboard] settings refused by name."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.clock import ManualClock
from agent.config import DashboardSection, load_config
from agent.dashboard.serve import DashboardServer
from agent.dashboard.site import Site
from agent.errors import ConfigError
from tests.conftest import MONDAY, Harness, agent_env, wait_until, write_config
from tests.servers import free_port

pytestmark = pytest.mark.integration
TOKEN = "serving-token-5d1f"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the test reads the 303 itself


def fetch(url: str, cookie: str = "") -> tuple[int, dict[str, str], str]:
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with opener.open(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[str]:
    sim = Harness(load_config(write_config(tmp_path, "")), ManualClock(MONDAY))
    sim.add_deal("Acme Onboarding")
    site = Site(sim.agent.sessions, lambda: sim.agent.runtime, sim.clock, token=TOKEN)
    server = DashboardServer(site, DashboardSection(base_path="/onboarding"), 0).start()
    try:
        yield server.url.rstrip("/")
    finally:
        server.shutdown()


def test_under_a_sub_path_every_link_form_and_style_sheet_stays_under_it(proxied: str) -> None:
    cookie = f"csm_agent_token={TOKEN}"
    status, _, page = fetch(f"{proxied}/board", cookie)
    assert status == 200 and "Acme Onboarding" in page
    links = [link for link in re.findall(r'(?:href|action)="([^"]+)"', page) if not link.startswith("#")]
    assert links and all(link.startswith("/onboarding/") for link in links), links
    css = next(link for link in links if link.endswith(".css"))
    status, headers, _ = fetch(proxied.removesuffix("/onboarding") + css)
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    status, headers, _ = fetch(proxied, cookie)  # the sub-path itself, without a slash
    assert status == 308 and headers["Location"].endswith("/onboarding/")
    status, _, page = fetch(proxied + "/", cookie)
    assert status == 200 and "Acme Onboarding" in page


def test_the_token_once_in_the_address_becomes_a_cookie_and_leaves_the_address(proxied: str) -> None:
    assert fetch(f"{proxied}/board")[0] == 401
    assert fetch(f"{proxied}/board?token=wrong")[0] == 401
    status, headers, _ = fetch(f"{proxied}/board?pipeline=standard-onboarding&token={TOKEN}")
    assert status == 303
    assert headers["Location"] == "/onboarding/board?pipeline=standard-onboarding"  # the token is gone
    status, headers, _ = fetch(f"{proxied}/board?q=Acme+%26+Co&token={TOKEN}")
    assert headers["Location"] == "/onboarding/board?q=Acme+%26+Co"  # the rest of the address kept as it was
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"csm_agent_token={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/onboarding" in cookie


def test_every_page_carries_the_security_headers_and_is_not_cached(proxied: str) -> None:
    for path in ("/board", "/scorecard", "/unmatched", "/deals/1", "/deals/999", "/nowhere"):
        status, headers, _ = fetch(proxied + path, f"csm_agent_token={TOKEN}")
        assert status in (200, 404), path
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"
        assert headers["Server"] == "csm-agent"


def test_the_dashboard_command_serves_alone_and_stops_on_sigterm(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent", "--config", str(cfg), "dashboard", "--port", str(port)],
        env=agent_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/board"), timeout=30)
        status, _, page = fetch(f"http://127.0.0.1:{port}/board")
        assert status == 200 and "<h1>" in page
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert f"dashboard on http://127.0.0.1:{port}/" in out


def _answers(url: str) -> bool:
    try:
        fetch(url)
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            'base_path = "onboarding/"',
            "base_path = 'onboarding/': expected a path like /onboarding (a leading slash",
        ),
        ('bind = "localhost"', "bind = 'localhost': not an IP address; expected one like 127.0.0.1"),
    ],
)
def test_a_bad_setting_is_refused_with_its_key(tmp_path: Path, line: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, f"[dashboard]\nport = 8932\n{line}\n"))
    assert "[dashboard] " + expected in str(info.value)
