"""What the store asks for every email it sends, it finds through an index (SQLite's query plans).

A query that reads a whole table costs nothing in a test and grows with the store: the outbox
keeps every email sent, bodies and all, for months. These tests read the plan SQLite makes for
each statement the send path runs, so that a query without its index fails here, not in a
backlog a year from now."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection

from agent.store import models as m
from agent.store.db import open_store
from agent.store.repo import Repo

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
# A plan step that reads a table row by row: "SCAN outbox", or "SEARCH outbox" with no index named
# ("SCAN outbox USING INDEX ..." reads the index; "SCAN CONSTANT ROW" is a SELECT of no table)
WHOLE_TABLE = re.compile(r"^(SCAN (?!CONSTANT ROW)\w+$|SCAN (?!CONSTANT ROW)\w+ (?!USING)|SEARCH \w+$)")


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    sessions = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    with sessions.begin() as s:
        yield Repo(s)


def plans(repo: Repo, run: Callable[[], object]) -> list[tuple[str, list[str]]]:
    """(statement, the steps of SQLite's plan for it) for each statement `run` makes."""
    conn = repo.s.connection()
    seen: list[tuple[str, Any]] = []

    def note(_c: Connection, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        seen.append((statement, params))

    event.listen(conn, "before_cursor_execute", note)
    try:
        run()
    finally:
        event.remove(conn, "before_cursor_execute", note)
    return [
        (statement, [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)])
        for statement, params in seen
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE"))
    ]


def whole_table_reads(found: list[tuple[str, list[str]]]) -> list[str]:
    return [f"{step}: {statement}" for statement, steps in found for step in steps if WHOLE_TABLE.match(step)]


def _email(repo: Repo, deal: m.Deal, key: str, **fields: Any) -> m.OutboxEmail:
    email = m.OutboxEmail(
        deal_id=deal.id,
        template=fields.pop("template", "intro"),
        idempotency_key=key,
        message_id=f"<{key}@example.com>",
        to=[{"name": "", "email": "ana@client.example"}],
        subject="",
        body_text="",
        body_html="",
        status=fields.pop("status", "queued"),
        due_at=T0,
        created_at=T0,
        **fields,
    )
    repo.add(email)
    return email


def test_the_plan_check_sees_a_query_that_reads_the_whole_outbox(repo: Repo) -> None:
    """The check itself: a filter on a column with no index is a whole-table read."""
    from sqlalchemy import func, select

    found = plans(repo, lambda: repo.s.scalar(select(func.count()).where(m.OutboxEmail.subject == "x")))
    assert whole_table_reads(found), found


def test_what_an_email_sent_asks_the_store_is_found_through_indexes(repo: Repo) -> None:
    deal = m.Deal(
        name="Acme", name_key="acme", pipeline="p", stage="s", token="ABCDEFGH", timezone="UTC", created_at=T0
    )
    repo.add(deal)
    draft = _email(repo, deal, "draft", status="review")
    _email(repo, deal, "ask", template="opt-out-confirm", review_of=draft.id)
    for n in range(3):  # some history: a plan can differ on an empty table
        _email(repo, deal, f"old-{n}", status="sent", sent_at=T0)
    repo.s.flush()

    found = plans(
        repo,
        lambda: (
            repo.claim_email(draft.id),
            repo.deal(deal.id),
            repo.client_message_since(deal.id, T0),
            repo.in_review(deal.id, "recap"),
            repo.blocked(["ana@client.example"], email_id=draft.id),
            repo.sent_on_deal_since(deal.id, T0 - timedelta(days=1)),
            repo.sent_to_since(["ana@client.example"], T0 - timedelta(days=1)),
        ),
    )
    assert any("review_of" in statement for statement, _ in found)  # the confirmation was asked for
    assert whole_table_reads(found) == []
