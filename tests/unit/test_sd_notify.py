"""sd_notify: the datagrams systemd reads, on a real AF_UNIX socket, from the notifier and from the daemon."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.daemon.sd_notify import Notifier
from tests.conftest import ROOT, agent_env, write_config


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket bound in a temp folder, as systemd's own; the variable's value with it."""
    path = tmp_path / "notify"
    if len(str(path)) > 100:  # sun_path holds 108 bytes
        pytest.skip(f"temporary path too long for a unix socket: {path}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    yield sock, str(path)
    sock.close()


def received(sock: socket.socket, until: Callable[[list[str]], bool], timeout: float = 30) -> list[str]:
    """Every datagram as text until `until(messages)` holds (or the time is up)."""
    messages: list[str] = []
    deadline = time.monotonic() + timeout
    while not until(messages) and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            messages.append(sock.recv(4096).decode())
        except TimeoutError:
            break
    return messages


def test_messages_reach_a_socket_in_a_folder(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notify = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
    assert notify.enabled and notify.watchdog_every == 1.0
    notify.ready("running: 1 mailbox(es)")
    notify.watchdog()
    notify.watchdog()  # at once again: held back, the interval is not half gone
    notify.status("3 emails sent")
    notify.stopping("stopping")
    assert received(sock, lambda m: len(m) == 4, timeout=2) == [
        "READY=1\nSTATUS=running: 1 mailbox(es)",
        "WATCHDOG=1",
        "STATUS=3 emails sent",
        "STOPPING=1\nSTATUS=stopping",
    ]


def test_an_abstract_socket_name_starts_with_an_at_sign() -> None:
    name = f"csm-agent-test-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        Notifier({"NOTIFY_SOCKET": "@" + name}).ready()
        assert sock.recv(4096) == b"READY=1"


def test_without_the_variable_or_with_systemd_gone_nothing_happens(tmp_path: Path) -> None:
    quiet = Notifier({})
    assert not quiet.enabled and quiet.send("READY=1") is False
    quiet.ready()
    quiet.watchdog()
    quiet.stopping()
    gone = Notifier({"NOTIFY_SOCKET": str(tmp_path / "no-such-socket"), "WATCHDOG_USEC": "nonsense"})
    assert gone.watchdog_every is None
    assert gone.send("READY=1") is False  # logged at debug level, never raised


def test_the_daemon_is_ready_after_its_first_pass_pings_and_says_it_stops(
    tmp_path: Path, listener: tuple[socket.socket, str]
) -> None:
    sock, path = listener
    cfg = write_config(tmp_path / "agent", "[daemon]\npoll_seconds = 1\n")
    env = {**agent_env(), "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "daemon.py"), "--config", str(cfg)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = received(sock, lambda m: any(x.startswith("READY=1") for x in m))
        assert first and first[-1].startswith("READY=1\nSTATUS=running: 1 mailbox(es), transport "), first
        # the first pass has run: its database exists before systemd hears READY
        assert (tmp_path / "agent" / "state" / "agent.db").is_file()
        pings = received(sock, lambda m: m.count("WATCHDOG=1") >= 2, timeout=10)
        assert pings.count("WATCHDOG=1") >= 2, pings
        proc.send_signal(signal.SIGTERM)
        rest = received(sock, lambda m: any(x.startswith("STOPPING=1") for x in m), timeout=15)
        assert any(x.startswith("STOPPING=1\nSTATUS=stopping") for x in rest), rest
        _, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
    finally:
        proc.kill()
        proc.communicate()


def test_run_once_sends_nothing(tmp_path: Path, listener: tuple[socket.socket, str]) -> None:
    """A single pass is a command, not a service: systemd is never told it is ready or stopping."""
    sock, path = listener
    cfg = write_config(tmp_path / "agent")
    done = subprocess.run(
        [sys.executable, "-m", "agent", "--config", str(cfg), "run", "--once"],
        env={**agent_env(), "NOTIFY_SOCKET": path},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert received(sock, lambda m: bool(m), timeout=0.5) == []


def test_a_long_pass_feeds_the_watchdog_and_pushes_the_start_timeout_back(
    listener: tuple[socket.socket, str],
) -> None:
    sock, path = listener
    notify = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
    notify.busy("mailbox: 900 messages to go")  # before READY: a start that takes a backlog first
    notify.busy("mailbox: 899 messages to go")  # at once again: held back
    notify.ready("running")
    notify._last_busy = float("-inf")  # as if BUSY_EVERY had passed
    notify._last_ping = float("-inf")
    notify.busy("mailbox: 10 messages to go")
    assert received(sock, lambda m: len(m) == 5, timeout=2) == [
        "WATCHDOG=1",
        "STATUS=mailbox: 900 messages to go\nEXTEND_TIMEOUT_USEC=120000000",
        "READY=1\nSTATUS=running",
        "WATCHDOG=1",
        "STATUS=mailbox: 10 messages to go",
    ]
