"""Audit lines held by their transaction and written at its commit, in one statement.

Every message of a backlog writes two or three audit lines: as an INSERT each they were a
sixth of its statements, and on PostgreSQL a round trip each (docs/performance.md). A line is
held in the session instead, in order, and the transaction writes all it holds when it commits,
with one `executemany`. What the store promises stays as it was:

- a line is written in its transaction or not at all: a savepoint rolled back (a failed
  message of a group) takes the lines it held back with it; a transaction rolled back or closed
  unfinished drops them all;
- a read of the audit trail inside the transaction sees the lines held so far (`write`, called
  by the store's readers first);
- each written line is told in the log, in words a CSM reads, once the transaction committed.

The events are the ORM Session's own, for every session: a line held by a session that nobody
told about them would be lost.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy import Table, event, insert
from sqlalchemy.orm import Session, SessionTransaction

from agent.store import models as m

decisions = logging.getLogger("agent.decisions")

LINES = "audit_lines"  # Session.info: [(row values, story)], in the order they were held
WRITTEN = "audit_lines_written"  # Session.info: how many of them are in the database already
# Session.info: {savepoint: (lines held, lines written) when it began}, until the transaction ends
# (a savepoint has ended, closed, before the rollback's own event: the mark must outlive it)
MARKS = "audit_lines_marks"

_INSERT = insert(cast(Table, m.AuditEntry.__table__))


def hold(session: Session, row: dict[str, Any], story: str) -> None:
    """One audit line (the audit_log columns but its id), written when the transaction commits."""
    if session.get_transaction() is None:
        session.begin()  # a line is held by a transaction, whose rollback or close drops it
    session.info.setdefault(LINES, []).append((row, story))


def write(session: Session) -> None:
    """Write the lines held and not yet written (a reader of the trail calls this first)."""
    lines: list[tuple[dict[str, Any], str]] = session.info.get(LINES, [])
    done = session.info.get(WRITTEN, 0)
    if len(lines) > done:
        session.connection().execute(_INSERT, [row for row, _ in lines[done:]])
        session.info[WRITTEN] = len(lines)


@event.listens_for(Session, "after_transaction_create")
def _savepoint_begun(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        held, written = len(session.info.get(LINES, [])), session.info.get(WRITTEN, 0)
        session.info.setdefault(MARKS, {})[transaction] = (held, written)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    mark = session.info.get(MARKS, {}).get(previous)
    if previous.nested and mark is not None:  # back to the savepoint: its lines go with it
        held, written = mark
        del session.info.get(LINES, [])[held:]
        session.info[WRITTEN] = written  # lines written since, held before it too, are undone
    elif previous.parent is None:
        _forget(session)


@event.listens_for(Session, "before_commit")
def _commit(session: Session) -> None:
    if not session.in_nested_transaction():  # a savepoint's RELEASE: its lines wait for the commit
        write(session)


@event.listens_for(Session, "after_commit")
def _tell(session: Session) -> None:
    """Each line of a committed transaction as a log line; a rolled-back one says nothing."""
    if session.in_nested_transaction():
        return
    for _, story in session.info.pop(LINES, []):
        decisions.info("%s", story)
    session.info.pop(WRITTEN, None)


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # closed: whatever it held and did not commit never happened
        _forget(session)


def _forget(session: Session) -> None:
    for key in (LINES, WRITTEN, MARKS):
        session.info.pop(key, None)
