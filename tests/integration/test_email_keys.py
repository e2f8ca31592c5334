"""An email keyed by its cause is queued once, and known without a look-up in the store: the cause
is new (its event recorded in this very transaction), so only its own work can have queued it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event

from agent.clock import ManualClock
from agent.config import load_config
from agent.domain import Address
from agent.handling.cause import Cause, begin
from agent.pipeline.engine import Trigger
from agent.store.repo import Repo
from tests.conftest import Harness, write_config

CLIENT = Address("jane@acme-radio.example", "Jane Doe")


def test_a_cause_queues_its_email_once_and_asks_the_store_only_for_keys_not_its_own(tmp_path: Path) -> None:
    h = Harness(load_config(write_config(tmp_path)), ManualClock(datetime(2026, 12, 2, 9, tzinfo=UTC)))
    deal_id = h.add_deal()
    enqueuer, now = h.agent.runtime.handlers.enqueuer, h.clock.now()
    looked: list[str] = []  # the look-ups of an idempotency key
    with h.agent.sessions.begin() as s:
        event.listen(
            s.get_bind(),
            "before_cursor_execute",
            lambda _c, _cur, sql, *_: looked.append(sql) if "WHERE outbox.idempotency_key" in sql else None,
        )
        repo = Repo(s)
        deal = repo.deal(deal_id)
        assert deal is not None

        def queue(cause: Cause, once: str | None = None) -> int | None:
            email = enqueuer.queue_email(
                repo, deal, "intro", (CLIENT,), (), due=now, rule="r", reason="test", cause=cause,
                trigger=Trigger("test"), now=now, once=once,
            )  # fmt: skip
            return None if email is None else email.id

        def intros() -> list[int]:
            return [e.id for e in repo.outbox_all(deal_id) if e.template == "intro"]

        before = intros()  # the deal's handover queued one
        first = begin(repo, "test:first", "cli", now)
        assert first is not None
        queued = queue(first)
        assert queued is not None and queue(first) is None  # the same cause: never twice
        assert looked == []  # known by the cause, not looked up
        second = begin(repo, "test:second", "cli", now)
        assert second is not None
        assert queue(second) not in (None, queued)  # another cause's email is its own
        assert looked == []
        third = begin(repo, "test:third", "cli", now)
        assert third is not None
        assert queue(third, once="deal") is None  # keyed by what it is: the deal has its intro
        assert intros() == [*before, queued, queued + 1]
