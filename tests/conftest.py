"""Shared fixtures: a real agent on the embedded defaults in a temporary folder, with a manual clock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from multiprocessing import resource_tracker
from pathlib import Path
from typing import Any

import pytest

from agent.clock import ManualClock
from agent.config import load_config
from agent.simulation import ACCOUNT_MANAGER, CLIENT, CSM, MANAGER, Simulation
from tests import leftovers

__all__ = [
    "ACCOUNT_MANAGER",
    "CLIENT",
    "CSM",
    "MANAGER",
    "Harness",
    "agent_env",
    "client_email",
    "ingest_until",
    "start_daemon",
    "stop_daemon",
    "subjects",
    "wait_until",
    "write_config",
]

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def write_config(folder: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "agent.toml"
    path.write_text(
        f"""
[agent]
address = "onboarding@example.com"
internal_domains = ["example.com"]
timezone = "Europe/London"

[review]
templates = []  # the flows are tested without review; test_review.py turns it on

[paths]
state = "{folder / "state"}"
rules = "{ROOT / "rules"}"
templates = "{ROOT / "templates" / "emails"}"
{extra}
""",
        encoding="utf-8",
    )
    return path


class Harness(Simulation):
    """The simulation, as the tests use it."""


class RealTime(ManualClock):
    """Real time, as in production: for a harness whose daemon runs its own loop."""

    def __init__(self) -> None:
        super().__init__(datetime.now(UTC))

    def now(self) -> datetime:
        return datetime.now(UTC)


def client_email(subject: str, body: str = "Hello", sender: tuple[str, str] = CLIENT, n: int = 0) -> bytes:
    """A message from a client to the agent, as a mail server receives it (a unique Message-ID)."""
    msg = EmailMessage()
    msg["From"] = f"{sender[0]} <{sender[1]}>"
    msg["To"] = "Onboarding <onboarding@example.com>"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject.replace(' ', '-')}-{n}-{time.monotonic_ns()}@acme-radio.example>"
    msg["Date"] = "Mon, 30 Nov 2026 09:00:00 +0000"
    msg.set_content(body)
    return msg.as_bytes()


def subjects(h: Harness) -> list[str]:
    """The subjects of every message the agent recorded, oldest first."""
    from sqlalchemy import select

    from agent.store import models as m

    with h.agent.sessions.begin() as s:
        return list(s.scalars(select(m.Message.subject).order_by(m.Message.id)))


def ingest_until(h: Harness, count: int) -> None:
    """Take mail in as the service does (process, then acknowledge), and stop after `count`, as SIGTERM would."""
    for seen, raw in enumerate(h.agent.mailbox.fetch(), start=1):
        outcome = h.agent.work(raw.key, "mail", raw.data, h.agent.ingest.mail_work(raw.data))
        h.agent.mailbox.ack(raw, outcome)
        if seen == count:
            return


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> float:
    """Seconds until `condition` held; fails the test after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"not true after {timeout} s")


def agent_env() -> dict[str, str]:
    """The environment for running the agent (daemon.py, python -m agent) in a child process."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def start_daemon(cfg: Path, *, quiet: bool = False) -> subprocess.Popen[str]:
    """`python daemon.py --config cfg` in the background, returned once it holds its instance lock."""
    out = subprocess.DEVNULL if quiet else subprocess.PIPE
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "daemon.py"), "--config", str(cfg)],
        env=agent_env(),
        stdout=out,
        stderr=out,
        text=True,
    )
    lock = load_config(cfg).state_dir / "agent.lock"
    wait_until(lambda: lock.exists() or proc.poll() is not None, timeout=30)
    return proc


def stop_daemon(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, as systemd does; returns what the daemon wrote to stderr."""
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    return err or ""


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    config = load_config(write_config(tmp_path))
    harness = Harness(config, ManualClock(MONDAY))
    yield harness
    harness.agent.close()  # its parsing helper, if a backlog started one


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SESSION] = leftovers.mark_session()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Every test stops what it starts: a process of this session still alive fails the run (and is stopped)."""
    if getattr(session.config.option, "dist", "no") != "no" and not hasattr(session.config, "workerinput"):
        return  # pytest-xdist's controller: each worker checks what its own tests started
    mark = session.config.stash.get(SESSION, "")
    # multiprocessing's resource tracker of this very process ends with it: not left behind
    own_tracker = getattr(resource_tracker._resource_tracker, "_pid", None)
    left = [(p, c) for p, c in leftovers.left_behind(mark, ignore={own_tracker})] if mark else []
    if left:
        leftovers.stop([pid for pid, _ in left])
        lines = "\n".join(f"  {pid}: {cmd[:200]}" for pid, cmd in left)
        print(f"\nprocesses the tests started and left running (stopped now):\n{lines}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


SESSION = pytest.StashKey[str]()


# The secrets the tests configure: none may reach what a test printed or logged, whatever it provoked.
TEST_SECRETS = (
    "s3cret",  # tests/integration/conftest.py PASSWORD (and SMTP_LOGIN's "smtp-s3cret")
    "k7Q8Q~graph-test-secret",  # tests/graph_server.py SECRET
    "FakeChatBotToken",  # tests/chat_server.py TOKEN
    "dash-test-token-7b9e",  # tests/integration/test_dashboard.py TOKEN
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    leaked = [
        (title, secret)
        for title, text in report.sections
        for secret in TEST_SECRETS
        if secret in text and title.endswith(report.when)  # each phase's own output, told once
    ]
    if leaked and report.passed:
        report.outcome = "failed"
        report.longrepr = "a secret reached the output or the log: " + ", ".join(
            f"{secret!r} in {title}" for title, secret in leaked
        )
