"""A backlog is parsed ahead in a helper process; its errors and its death lose nothing."""

from __future__ import annotations

import os
import pickle
import signal
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from agent.mailboxes.base import RawMail
from agent.mime.parse_ahead import BACKLOG, CHUNK, DEPTH, ParseAhead, _parse
from agent.outbox.compose import FORWARD
from agent.replies.reading import TextReading, read_text
from agent.simulation import CLIENT
from agent.store import models as m
from agent.store.repo import Repo
from tests.conftest import Harness, client_email

AGENT = [("Agent", "onboarding@example.com")]


def quarantined_errors(h: Harness) -> list[str]:
    with h.agent.sessions.begin() as s:
        return [q.error for q in Repo(s).quarantined()]


def test_a_backlog_is_parsed_in_the_helper_in_order_and_a_bad_message_is_kept_aside(harness: Harness) -> None:
    deal_id = harness.add_deal()
    for i in range(20):
        harness.mail(CLIENT, AGENT, f"Backlog {i}")
    harness.deliver(b"")  # not an email: the helper's error comes back and quarantines it alone
    for i in range(20, 40):
        harness.mail(CLIENT, AGENT, f"Backlog {i}")
    order = [raw.key for raw in harness.agent.mailbox.fetch()]  # reading a Maildir takes nothing away
    report = harness.run()
    assert harness.agent.parse_ahead.pool is not None  # the backlog went through the helper
    assert (report.messages, report.quarantined) == (40, 1)
    assert [e for e in quarantined_errors(harness) if "not an email" in e]
    assert len(harness.show(deal_id)["messages"]) == 40
    with harness.agent.sessions.begin() as s:
        keys = s.scalars(
            select(m.InboundEvent.key).where(m.InboundEvent.source == "mail").order_by(m.InboundEvent.id)
        )
        assert list(keys) == order  # processed one by one in the mailbox's order


def test_the_helper_reads_a_backlogs_texts_and_the_steps_act_on_its_reading(harness: Harness) -> None:
    deal_id = harness.add_deal()
    for i in range(BACKLOG):
        harness.mail(CLIENT, AGENT, f"Backlog {i}", "Thanks for the update.")
    harness.mail(CLIENT, AGENT, "Next call", "Could we talk on Tuesday at 10:30?")
    harness.mail(CLIENT, AGENT, "Re: rollout", "Please remove me from your mailing list.")
    report = harness.run()
    assert harness.agent.parse_ahead.pool is not None  # the backlog went through the helper
    assert (report.messages, report.quarantined) == (BACKLOG + 2, 0)
    with harness.agent.sessions.begin() as s:
        assert Repo(s).opted_out([CLIENT[1]]) == {CLIENT[1]}
        forwards = s.scalars(select(m.OutboxEmail.body_text).where(m.OutboxEmail.template == FORWARD)).all()
    forwards = [text for text in forwards if "Tuesday at 10:30" in text]
    assert len(forwards) == 1  # the forward to the CSM names the time the client proposed
    assert len(harness.show(deal_id)["messages"]) == BACKLOG + 2


def test_the_same_message_twice_in_a_backlog_is_acted_on_once(harness: Harness) -> None:
    # A Maildir commits each message alone (it does not count what waits): no look-ahead is shared
    # here, and the second copy is known by its content from the first's committed event. The
    # look-ahead inside a group is tested with Dovecot (test_groups.py) and in the store's tests.
    deal_id = harness.add_deal()
    twice = client_email("Twice", "Please find the signed form attached.", n=7)
    for i in range(BACKLOG):
        harness.mail(CLIENT, AGENT, f"Backlog {i}")
        if i in (3, 5):
            harness.deliver(twice)
    report = harness.run()
    assert (report.messages, report.quarantined) == (BACKLOG + 1, 0)
    subjects = [msg["subject"] for msg in harness.show(deal_id)["messages"]]
    assert subjects.count("Twice") == 1 and len(subjects) == BACKLOG + 1
    with harness.agent.sessions.begin() as s:
        events = s.scalars(select(m.InboundEvent.key).where(m.InboundEvent.source == "mail")).all()
    assert len(events) == BACKLOG + 1  # the second copy left no event of its own: it was seen


def test_a_parse_in_the_helper_carries_its_reading_and_one_in_place_none() -> None:
    class Raw:
        def __init__(self, data: bytes, history: bool = False) -> None:
            self.data, self.size, self.history = data, 0, history

    ahead = ParseAhead(("onboarding@example.com",), 10_000_000, 1, read=read_text)
    try:
        raws = [Raw(client_email(f"Backlog {i}", "Unsubscribe", n=i)) for i in range(BACKLOG + 1)]
        parses = [parsed for _, parsed in ahead.iterate(raws)]
        assert ahead.pool is not None
        readings = [p.reading for p in parses]
        assert all(isinstance(r, TextReading) and r.opt_out == "Unsubscribe" for r in readings)
        assert readings == [read_text(p.get()) for p in parses]
        assert ahead.parse(raws[0].data).reading is None  # in place: read when a step asks
        old = [Raw(client_email(f"Old {i}", "Unsubscribe", n=i), history=True) for i in range(BACKLOG + 1)]
        assert all(p.reading is None for _, p in ahead.iterate(old))  # history: no step reads its text
    finally:
        ahead.close()


def test_the_helper_is_handed_a_backlog_in_chunks_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    # A task a message cost the helper and the agent 0.3 ms a message each (docs/performance.md).
    tasks: list[int] = []
    submit = ProcessPoolExecutor.submit

    def counted(pool: ProcessPoolExecutor, fn: Any, todo: list[Any], *args: Any) -> Any:
        tasks.append(len(todo))
        return submit(pool, fn, todo, *args)

    monkeypatch.setattr(ProcessPoolExecutor, "submit", counted)

    class Raw:
        def __init__(self, n: int) -> None:
            self.data, self.size, self.history = client_email(f"Backlog {n}", n=n), 0, False

    ahead = ParseAhead(("onboarding@example.com",), 10_000_000, 1)
    try:
        subjects = [parsed.get().subject for _, parsed in ahead.iterate(Raw(n) for n in range(100))]
    finally:
        ahead.close()
    assert subjects == [f"Backlog {n}" for n in range(100)]
    assert sum(tasks) == 100 and len(tasks) <= 100 // CHUNK + 1
    assert max(tasks) == CHUNK


def test_a_helper_killed_with_chunks_in_hand_loses_none_of_them() -> None:
    class Raw:
        def __init__(self, n: int) -> None:
            self.data, self.size, self.history = client_email(f"Backlog {n}", n=n), 0, False

    ahead = ParseAhead(("onboarding@example.com",), 10_000_000, 1)
    try:
        it = ahead.iterate(Raw(n) for n in range(100))
        _, parsed = next(it)
        assert parsed.get().subject == "Backlog 0"
        pool = ahead.pool
        assert pool is not None
        for pid in list(pool._processes):  # chunks handed over and not yet answered die with it
            os.kill(pid, signal.SIGKILL)
        rest = [p.get().subject for _, p in it]
    finally:
        ahead.close()
    assert rest == [f"Backlog {n}" for n in range(1, 100)]  # parsed in place, in order
    assert ahead.broken  # and said so


def test_a_helper_killed_mid_backlog_loses_nothing(harness: Harness) -> None:
    deal_id = harness.add_deal()
    for i in range(40):
        harness.mail(CLIENT, AGENT, f"First {i}")
    harness.run()
    pool = harness.agent.parse_ahead.pool
    assert pool is not None
    for pid in list(pool._processes):  # the helper dies, as under the OOM killer
        os.kill(pid, signal.SIGKILL)
    for i in range(40):
        harness.mail(CLIENT, AGENT, f"Second {i}")
    report = harness.run()
    assert (report.messages, report.quarantined) == (40, 0)
    assert len(harness.show(deal_id)["messages"]) == 80
    assert harness.agent.parse_ahead.pool is not pool  # a new helper for the next backlog


def test_a_few_messages_are_parsed_in_place(harness: Harness) -> None:
    harness.add_deal()
    for i in range(5):
        harness.mail(CLIENT, AGENT, f"Few {i}")
    assert harness.run().messages == 5
    assert harness.agent.parse_ahead.pool is None  # no helper started for five


@pytest.mark.parametrize("processes", [0, 1])
def test_a_backlog_is_read_as_it_goes_never_listed_whole(processes: int) -> None:
    pulled = 0

    def backlog() -> Iterator[RawMail]:
        nonlocal pulled
        for n in range(1000):
            pulled += 1
            yield RawMail(f"test:{n}", client_email(f"Backlog {n}", n=n))

    ahead = ParseAhead((), 0, processes)
    try:
        it = ahead.iterate(backlog())
        first, parsed = next(it)
        assert first.key == "test:0" and parsed.get().subject == "Backlog 0"
        assert pulled <= BACKLOG + DEPTH  # not the thousand: a backlog can be gigabytes
        assert sum(1 for _ in it) == 999
    finally:
        ahead.close()


HOLDER = """
import sys, time
from agent.mime.parse_ahead import ParseAhead
from tests.conftest import client_email

class Raw:
    def __init__(self, data): self.data, self.size, self.history = data, 0, False

ahead = ParseAhead(("onboarding@example.com",), 10_000_000, 1)
raws = [Raw(client_email(f"Backlog {i}", n=i)) for i in range(40)]
for _ in ahead.iterate(raws):
    pass
print(" ".join(str(p) for p in ahead.pool._processes), flush=True)  # the helper, started and kept
time.sleep(60)
"""


def test_a_helper_ends_when_the_agent_that_started_it_is_killed() -> None:
    import subprocess
    import sys
    import time

    from tests.conftest import agent_env

    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER], env=agent_env(), stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    helpers = [int(p) for p in proc.stdout.readline().split()]
    assert helpers and all(_alive(p) for p in helpers)
    proc.send_signal(signal.SIGKILL)  # as the OOM killer or kill -9 would
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in helpers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in helpers), "the helper outlived the agent"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_message_with_nothing_quoted_comes_back_from_the_helper_with_its_text_once() -> None:
    # Its text, what it wrote new and what the sender said are one string when nothing was cut:
    # pickle writes it once (it was written four times: 120 KB a bench message for 30 KB of text).
    body = ("Thanks for the update on the rollout. " * 60 + "\n") * 8
    plain = _parse(client_email("Rollout", body), 0, ("onboarding@example.com",), 10_000_000, read_text)
    text = plain.get().text
    assert len(text) > 18_000 and text.endswith("rollout.")  # trailing blanks go
    assert len(pickle.dumps(plain)) < 1.2 * len(text)
    quoted = body + "\nOn Mon, 30 Nov 2026, Sam wrote:\n> " + "Earlier words. " * 800 + "\n"
    cut = _parse(client_email("Rollout", quoted), 0, ("onboarding@example.com",), 10_000_000, read_text)
    assert cut.get().new_text == text and "Earlier words" not in cut.reading.reply.said
    assert len(pickle.dumps(cut)) < 1.2 * (len(cut.get().text) + len(text))  # the whole text, and what is new
