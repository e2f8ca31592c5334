"""Opt-in: the same scenario against a real Microsoft 365 tenant, Exchange server or IMAP/SMTP account.

    CSM_LIVE_CONFIG=/path/to/agent.toml scripts/test -m live

The config names the real mailbox, transport and calendar (docs/microsoft365.md,
docs/exchange.md, docs/gmail.md). The test keeps its state in a temporary folder,
sends ONE email, from the agent to its own address, and reads it back; it answers
nobody (mail from the agent's own address is never answered). It is skipped unless
CSM_LIVE_CONFIG is set, and deselected by default (pyproject: -m "not live").
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from agent.backends import load_transport
from agent.cli import connect_check
from agent.config import Config, load_config
from agent.daemon.runner import Runner
from agent.outbox.compose import OUTGOING_POLICY
from agent.store.repo import Repo

pytestmark = pytest.mark.live
CONFIG = os.environ.get("CSM_LIVE_CONFIG", "")
POLL_SECONDS = 10.0


@pytest.fixture
def live_config(tmp_path: Path) -> Config:
    if not CONFIG:
        pytest.skip("set CSM_LIVE_CONFIG to a config naming a real mailbox (see this file's docstring)")
    config = load_config(Path(CONFIG))
    return config.model_copy(update={"paths": config.paths.model_copy(update={"state": tmp_path / "state"})})


def test_the_real_service_signs_in_sends_once_and_reads_it_back_once(live_config: Config) -> None:
    assert connect_check(live_config) == 0
    address = live_config.agent.address
    marker = f"csm-agent live test {uuid.uuid4().hex[:12]}"
    message = EmailMessage(policy=OUTGOING_POLICY)
    message["From"] = message["To"] = address
    message["Subject"] = marker
    message["Message-ID"] = f"<{uuid.uuid4().hex}@{address.split('@')[1]}>"
    message["Date"] = datetime.now(UTC)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content("Sent by tests/live/test_live.py; safe to delete.")
    load_transport(live_config).send(message, [address], 1)

    agent = Runner(live_config)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not copies_of(agent, marker):
        agent.run_once()
        if not copies_of(agent, marker):
            time.sleep(POLL_SECONDS)
    agent.run_once()  # once more: nothing is read twice
    with agent.sessions.begin() as s:
        assert Repo(s).quarantined() == []
    assert copies_of(agent, marker) == 1, "the test email must be read exactly once"
    agent.mailbox.close()


def copies_of(agent: Runner, subject: str) -> int:
    """How many times the agent recorded a message with this subject (logged, unmatched or ignored alike)."""
    from sqlalchemy import func, select

    from agent.store import models as m

    with agent.sessions.begin() as s:
        return int(
            s.scalar(select(func.count()).select_from(m.Message).where(m.Message.subject == subject)) or 0
        )
