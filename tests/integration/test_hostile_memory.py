"""Hostile mail through the real ingest: the worker's memory stays under 200 MB, and the mail reaches its deal.

The worker is a process of its own (bench/hostile.py's drain: the daemon's Runner, a Maildir,
SQLite), so that its peak RSS (VmHWM) is its own and not this test run's. No server is needed.
"""

from __future__ import annotations

from bench.hostile import CASES, DEALS, LIMIT_MB, Drained, drain
from bench.ingest import messages
from tests.conftest import Harness, client_email


def report(name: str, result: Drained) -> None:
    print(
        f"\n{name}: worker peak RSS {result.worker_mb:.0f} MB, parsing helper {result.helper_mb:.0f} MB "
        f"(limit {LIMIT_MB:.0f} MB); {result.processed} processed, {result.quarantined} quarantined "
        f"in {result.seconds:.1f} s"
    )


def test_draining_hostile_mail_stays_under_the_memory_limit() -> None:
    hostile = [make(n) for n, make in enumerate(CASES.values())]
    # In a backlog of ordinary mail: the big ones are parsed in place by the worker (as a single new
    # message is), the small ones by the parsing helper; bench/hostile.py measures each case alone too.
    mail = messages(40, DEALS)
    for i, data in enumerate(hostile):
        mail.insert(i * 4, data)
    result = drain(mail, processes=1)
    report("hostile mail in a backlog of ordinary mail", result)
    assert (result.processed, result.quarantined) == (len(mail), 0)  # every one kept, none quarantined
    assert result.helper_mb > 0  # the helper did parse part of the backlog
    assert max(result.worker_mb, result.helper_mb) < LIMIT_MB
    assert any("64 KB limit" in r for r in result.reasons)
    assert any("50-level limit" in r for r in result.reasons)


def test_a_degraded_message_reaches_its_deal_and_is_never_answered(harness: Harness) -> None:
    deal_id = harness.add_deal()
    harness.run()
    before = harness.sent_templates()
    raw = client_email("Re: kickoff", "Can we start on Monday?")
    harness.deliver(b"X-Junk: " + b"x" * 100 * 1024 + b"\n" + raw)  # a mailer's runaway header
    report = harness.run()
    assert (report.messages, report.quarantined) == (1, 0)
    (msg,) = [m for m in harness.show(deal_id)["messages"] if m["subject"] == "Re: kickoff"]
    assert "over the 64 KB limit was left out" in msg["match_reason"]
    assert "Can we start on Monday?" in msg["excerpt"]
    assert harness.sent_templates() == before  # logged on its deal for a person, never answered
