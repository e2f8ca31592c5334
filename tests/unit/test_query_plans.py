"""What the store asks for every email it sends, it finds through an index (SQLite's query plans).

A query that reads a whole table costs nothing in a test and grows with the store: the outbox
keeps every email sent, bodies and all, for months. These tests read the plan SQLite makes for
each statement the outbox runs to send an email, so that a query without its index fails here,
not in a backlog a year from now."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event, func, select
from sqlalchemy.engine import Connection

from agent.store import models as m
from tests.conftest import Harness

# A plan step that reads a table row by row: "SCAN outbox", or "SEARCH outbox" with no index named
# ("SCAN outbox USING INDEX ..." reads the index; "SCAN CONSTANT ROW" is a SELECT of no table)
WHOLE_TABLE = re.compile(r"^(SCAN (?!CONSTANT ROW)\w+$|SCAN (?!CONSTANT ROW)\w+ (?!USING)|SEARCH \w+$)")


def plans(engine: Engine, run: Callable[[], object]) -> list[tuple[str, list[str]]]:
    """(statement, the steps of SQLite's plan for it) for each statement `run` makes on the engine."""
    seen: list[tuple[str, Any]] = []

    def note(_c: Connection, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", note)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    with engine.connect() as conn:
        return [
            (statement, [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)])
            for statement, params in seen
            if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE"))
        ]


def whole_table_reads(found: list[tuple[str, list[str]]]) -> list[str]:
    return [f"{step}: {statement}" for statement, steps in found for step in steps if WHOLE_TABLE.match(step)]


def engine_of(harness: Harness) -> Engine:
    with harness.agent.sessions() as s:
        bind = s.get_bind()
    assert isinstance(bind, Engine)
    return bind


def test_the_plan_check_sees_a_query_that_reads_the_whole_outbox(harness: Harness) -> None:
    """The check itself: a filter on a column with no index is a whole-table read."""

    def count() -> None:
        with harness.agent.sessions() as s:
            s.scalar(select(func.count()).where(m.OutboxEmail.subject == "x"))

    found = plans(engine_of(harness), count)
    assert whole_table_reads(found), found


def test_what_the_outbox_asks_the_store_to_send_an_email_is_found_through_indexes(harness: Harness) -> None:
    for n in range(3):  # some history: a plan can differ on an empty table
        harness.add_deal(f"Deal {n}")  # its intro to the client, queued, then sent
        assert harness.agent.outbox.flush().sent == 1
    harness.add_deal("Globex")

    sent = []
    found = plans(engine_of(harness), lambda: sent.append(harness.agent.outbox.flush().sent))
    assert sent == [1]  # Globex's intro, through every check before a send
    assert any("review_of" in statement for statement, _ in found)  # its opt-out confirmation, asked
    assert any("sent_at >" in statement for statement, _ in found)  # the daily caps, counted
    assert whole_table_reads(found) == []


def test_an_emails_bodies_are_read_once_to_send_it(harness: Harness) -> None:
    """To compose it, not again to record that it went: a forward's bodies are 40 KB, and recording
    a send read them whole again (a fifth of what a send cost after a backlog)."""
    harness.add_deal("Globex")  # its intro to the client, queued
    sent = []
    found = plans(engine_of(harness), lambda: sent.append(harness.agent.outbox.flush().sent))
    assert sent == [1]
    bodies = [statement for statement, _ in found if "outbox.body_text" in statement]
    assert len(bodies) == 1, bodies  # the claim's, which composes the email
    assert any(statement.lstrip().startswith("UPDATE outbox SET status") for statement, _ in found)
