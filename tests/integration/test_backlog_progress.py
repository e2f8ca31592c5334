"""A backlog of mail, counted as it goes: `status` says how many messages wait in an IMAP mailbox
mid-pass, and a person running `run --once` at a terminal sees it go down (nothing when not a terminal)."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.cli.progress import Progress
from agent.clock import ManualClock
from agent.config import load_config
from agent.health import status_data
from tests.conftest import Harness
from tests.conftest import client_email as email
from tests.integration.conftest import imap_config
from tests.servers import Dovecot


@pytest.mark.integration
def test_status_counts_the_imap_backlog_as_the_pass_takes_it(
    tmp_path: Path, dovecot: Dovecot, user: str
) -> None:
    cfg = imap_config(tmp_path, dovecot, user, "batch_size = 5")
    cfg.write_text(cfg.read_text() + "\n[daemon]\ngroup_items = 4\ngroup_seconds = 10\n")
    h = Harness(load_config(cfg), ManualClock(datetime(2026, 11, 30, 9, tzinfo=UTC)))
    for i in range(12):
        dovecot.deliver(user, email(f"Backlog {i}", n=i))
    heard: list[int] = []
    mid_pass: list[object] = []

    def told(part: str, waiting: int) -> None:
        heard.append(waiting)
        if waiting == 8:
            time.sleep(1.05)  # the note is rewritten at most once a second: the next count is written
        if waiting == 4:  # what a person asking `status` now would be told
            mid_pass.append(status_data(h.config, h.agent.sessions)["mailbox"].get("backlog"))

    h.agent.on_backlog = told
    assert h.run().messages == 12
    assert heard == [8, 4, 0]  # counted down as each group of four committed
    assert mid_pass == [4]
    assert status_data(h.config, h.agent.sessions)["mailbox"]["backlog"] == 0


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_only() -> None:
    screen, log = Terminal(), io.StringIO()
    for stream in (screen, log):
        shown = Progress("import", stream, every=0)
        for n in (1, 2, 3):
            shown(f"{n} of 3 deals", last=n == 3)
        shown.done()
    assert "import: 3 of 3 deals" in screen.getvalue() and screen.getvalue().endswith("\r\033[K")
    assert log.getvalue() == ""


def test_the_report_tells_its_progress_over_the_deals(harness: Harness) -> None:
    from datetime import timedelta

    from agent.reports.scorecard import Period, scorecard
    from agent.store.repo import Repo

    for name in ("Acme Radio", "Acme TV", "Acme Print"):
        harness.add_deal(name)
    now = harness.clock.now()
    heard: list[tuple[int, int]] = []
    with harness.agent.sessions.begin() as s:
        card = scorecard(
            Repo(s),
            harness.agent.runtime.rules.pipelines,
            Period(now - timedelta(days=30), now + timedelta(days=1)),
            now,
            progress=lambda n, of: heard.append((n, of)),
        )
    assert heard == [(1, 3), (2, 3), (3, 3)]
    assert card["rows"][0]["in_onboarding"] == 3
