"""Liveness and readiness over real HTTP, the bind address, the metrics, and a start-up with a server away.

A mail server that is down makes the agent not ready, never not live: a liveness probe must
not restart it into the same outage. Only a loop that stopped turning is not live.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent.clock import ManualClock
from agent.config import load_config
from agent.errors import ConfigError
from agent.health import status_data
from agent.health_server import serve
from tests import graph_server
from tests.conftest import (
    MONDAY,
    ROOT,
    Harness,
    agent_env,
    start_daemon,
    stop_daemon,
    wait_until,
    write_config,
)
from tests.graph_server import CLIENT_ID, SECRET, TENANT, FakeGraph
from tests.servers import free_port


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def probe(port: int, path: str, host: str = "127.0.0.1") -> tuple[int, dict[str, Any]]:
    code, body = get(f"http://{host}:{port}{path}")
    return code, json.loads(body)


def imap_down(folder: Path, section: str = "mailbox") -> str:
    """An IMAP mailbox whose server is down: nothing listens on its port."""
    (folder / "imap-password").write_text("s3cret\n")
    (folder / "imap-password").chmod(0o600)
    return f"""
[{section}]
backend = "imap"
host = "127.0.0.1"
port = {free_port()}
tls = "none"
username = "agent"
password_file = "{folder / "imap-password"}"
timeout_seconds = 5
reconnect_max_seconds = 2
"""


TEAM = """
[[teams]]
name = "emea"
address = "emea@example.com"
pipeline = "project-onboarding"
"""


@contextmanager
def daemon(tmp_path: Path, extra: str) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    port = free_port()
    tmp_path.mkdir(parents=True, exist_ok=True)
    cfg = write_config(tmp_path, f"[daemon]\npoll_seconds = 1\nhealth_port = {port}\n{extra}")
    proc = start_daemon(cfg)
    try:
        wait_until(lambda: _answers(port), timeout=30)
        yield port, proc
    finally:
        stop_daemon(proc)


def _answers(port: int) -> bool:
    try:
        get(f"http://127.0.0.1:{port}/livez")
    except (urllib.error.URLError, ConnectionError):
        return False
    return True


def not_ready(port: int) -> dict[str, str]:
    return dict(probe(port, "/readyz")[1].get("not_ready", {}))


def test_a_mailbox_server_down_is_not_ready_but_live(tmp_path: Path) -> None:
    with daemon(tmp_path, imap_down(tmp_path)) as (port, _):
        # the mailbox's failure is known mid-pass; the daemon is ready to say so once its first pass ends
        wait_until(lambda: set(not_ready(port)) == {"mailbox"}, timeout=30)
        code, body = probe(port, "/readyz")
        assert code == 503 and not body["ready"]
        assert (
            "Connection refused" in body["not_ready"]["mailbox"]
            or "reconnecting" in body["not_ready"]["mailbox"]
        )
        assert set(body["not_ready"]) == {"mailbox"}  # the calendar, outbox and store do fine
        assert probe(port, "/health")[0] == 503  # the old name answers as readiness
        code, live = probe(port, "/livez")
        assert code == 200 and live["live"]
        time.sleep(2.5)  # passes go on failing: still live
        assert probe(port, "/livez")[0] == 200
        status = subprocess.run(
            [sys.executable, "-m", "agent", "--config", str(tmp_path / "agent.toml"), "status"],
            env=agent_env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "; live, NOT READY (mailbox)" in status.stdout.splitlines()[0], status.stdout + status.stderr


def test_a_team_mailbox_down_is_named(tmp_path: Path) -> None:
    with daemon(tmp_path, TEAM + imap_down(tmp_path, "teams.mailbox")) as (port, _):
        wait_until(lambda: set(not_ready(port)) == {"mailbox:emea"}, timeout=30)  # the first pass ended
        code, body = probe(port, "/readyz")
        assert code == 503 and set(body["not_ready"]) == {"mailbox:emea"}  # the main mailbox is fine
        assert probe(port, "/livez")[0] == 200
        _, metrics = get(f"http://127.0.0.1:{port}/metrics")
        up = samples(metrics, "csm_agent_part_up")
        assert up[(("backend", "imap"), ("part", "mailbox:emea"))] == 0
        assert up[(("backend", "maildir"), ("part", "mailbox"))] == 1
        assert samples(metrics, "csm_agent_part_errors_total")[(("part", "mailbox:emea"),)] >= 1


def test_all_good_is_live_and_ready_with_the_metrics(tmp_path: Path) -> None:
    with daemon(tmp_path, "") as (port, proc):
        wait_until(lambda: probe(port, "/readyz")[0] == 200, timeout=30)
        code, body = probe(port, "/readyz")
        assert body["ready"] and body["live"] and body["not_ready"] == {}
        assert probe(port, "/livez")[0] == 200 and probe(port, "/health")[0] == 200
        code, metrics = get(f"http://127.0.0.1:{port}/metrics")
        assert get(f"http://127.0.0.1:{port}/nope")[0] == 404
    assert code == 200
    emails = samples(metrics, "csm_agent_emails")
    assert {dict(k)["status"] for k in emails} == {
        "queued",
        "review",
        "sending",
        "sent",
        "failed",
        "withdrawn",
    }
    assert set(emails.values()) == {0}  # no deal: every status is there, at 0
    recorded = samples(metrics, "csm_agent_messages_recorded_total")
    assert {dict(k)["direction"] for k in recorded} >= {"inbound", "outbound", "internal", "bcc"}
    assert samples(metrics, "csm_agent_arrival_to_action_seconds_count") == {(): 0}
    assert samples(metrics, "csm_agent_part_errors_total")[(("part", "store"),)] == 0
    assert samples(metrics, "csm_agent_ready") == {(): 1}
    assert samples(metrics, "process_resident_memory_bytes")[()] > 0  # the process collector
    assert proc.returncode == 0


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of one metric, by their sorted labels, as Prometheus reads them."""
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_a_stuck_loop_is_not_live_and_a_stopped_daemon_neither(tmp_path: Path) -> None:
    port = free_port()
    h = Harness(load_config(write_config(tmp_path, f"[daemon]\nhealth_port = {port}\n")), ManualClock(MONDAY))
    h.agent._safe_pass()
    server = serve(h.config, h.agent.sessions, h.clock, h.agent.note, live_within=1.0)
    try:
        assert probe(port, "/livez")[0] == 200 and probe(port, "/readyz")[0] == 200
        time.sleep(1.5)  # no pass, no item: the loop is stuck
        code, body = probe(port, "/livez")
        assert code == 503 and not body["live"] and body["last_note_seconds_ago"] >= 1.0
        assert probe(port, "/readyz")[0] == 200  # its parts did fine when they last ran
        h.agent._safe_pass()
        assert probe(port, "/livez")[0] == 200  # turning again
    finally:
        server.shutdown()
        server.server_close()
        h.agent.close()
    assert status_data(h.config, h.agent.sessions)["live"]  # status, in-process: the note is fresh


def test_the_health_server_listens_on_the_configured_address_only(tmp_path: Path) -> None:
    port = free_port()
    cfg = write_config(tmp_path, f'[daemon]\nhealth_port = {port}\nhealth_bind = "127.0.0.2"\n')
    h = Harness(load_config(cfg), ManualClock(MONDAY))
    server = serve(h.config, h.agent.sessions, h.clock, h.agent.note)
    try:
        assert probe(port, "/livez", host="127.0.0.2")[0] == 200
        with pytest.raises(urllib.error.URLError):
            get(f"http://127.0.0.1:{port}/livez")
    finally:
        server.shutdown()
        server.server_close()
        h.agent.close()
    bad = write_config(tmp_path / "bad", '[daemon]\nhealth_bind = "localhost"\n')
    with pytest.raises(ConfigError, match=r"health_bind.*localhost.*not an IP address"):
        load_config(bad)


def graph_config(folder: Path, port: int, certs: dict[str, Path]) -> Path:
    """Only the calendar on Microsoft Graph, with its sign-in endpoint at `port`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "client-secret").write_text(SECRET + "\n")
    (folder / "client-secret").chmod(0o600)
    base = f"https://127.0.0.1:{port}"
    return write_config(
        folder,
        f"""
[calendar]
backend = "graph"

[graph]
tenant_id = "{TENANT}"
client_id = "{CLIENT_ID}"
password_file = "{folder / "client-secret"}"
graph_url = "{base}/v1.0"
authority_url = "{base}"
tls_ca_file = "{certs["ca"]}"
timeout_seconds = 5
""",
    )


def test_the_daemon_starts_when_the_sign_in_endpoint_is_away(tmp_path: Path, certs: dict[str, Path]) -> None:
    cfg = graph_config(tmp_path, free_port(), certs)  # nothing listens there
    done = subprocess.run(
        [sys.executable, "-m", "agent", "--config", str(cfg), "run", "--once"],
        env=agent_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "pass done" in done.stdout
    assert "calendar graph of onboarding@example.com could not be set up" in done.stderr
    status = subprocess.run(
        [sys.executable, "-m", "agent", "--config", str(cfg), "status", "--json"],
        env=agent_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    data = json.loads(status.stdout)
    assert not data["ready"] and "Connection refused" in data["not_ready"]["calendar"]
    assert data["mailbox"]["last_ok"] and not data["mailbox"]["last_error"]  # mail went on meanwhile


def test_the_graph_calendar_is_built_once_the_endpoint_is_back(
    tmp_path: Path, certs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    h = Harness(load_config(graph_config(tmp_path, port, certs)), ManualClock(MONDAY))
    try:
        h.agent._safe_pass()
        data = status_data(h.config, h.agent.sessions, h.clock.now())
        assert (
            set(data["not_ready"]) == {"calendar"} and "Connection refused" in data["not_ready"]["calendar"]
        )
        later = h.agent.calendar.later  # type: ignore[union-attr]
        assert later.failures == 1
        later.retry_at = 0.0  # its back-off is over
        h.agent._safe_pass()  # still away: another failure, a longer wait
        assert later.failures == 2 and later.retry_at - time.monotonic() > 2.0
        monkeypatch.setattr(graph_server, "free_port", lambda: port)
        server = FakeGraph(certs["cert"], certs["key"])  # the endpoint is back, where it was
        try:
            h.agent._safe_pass()  # within the back-off: not tried yet
            assert "calendar" in status_data(h.config, h.agent.sessions, h.clock.now())["not_ready"]
            later.retry_at = 0.0
            h.agent._safe_pass()
            data = status_data(h.config, h.agent.sessions, h.clock.now())
            assert data["ready"], data["not_ready"]
            assert later.built is not None and h.agent.calendar.name == "graph"  # type: ignore[union-attr]
            assert any("/users/" in path for _, path in server.requests)  # the calendar was read
        finally:
            server.close()
            server.httpd.server_close()
    finally:
        h.agent.close()
