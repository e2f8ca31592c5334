"""The outbox's one state machine: allowed changes write their audit line, the others are refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from agent.outbox import status
from agent.outbox.status import Status, TransitionError
from agent.store import models as m
from agent.store.audit import Trail
from agent.store.db import open_store
from agent.store.repo import Repo

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with open_store(f"sqlite:///{tmp_path / 'a.db'}").begin() as s:
        yield s


def email(repo: Repo, state: Status = Status.QUEUED) -> m.OutboxEmail:
    row = m.OutboxEmail(
        deal_id=None,
        template="recap",
        idempotency_key=f"k{state}",
        message_id=f"<{state}@example.com>",
        to=[{"email": "jane@acme.example", "name": "Jane"}],
        subject="Recap",
        body_text="Hello",
        body_html="<p>Hello</p>",
        status=state,
        due_at=NOW,
        created_at=NOW,
    )
    repo.add(row)
    return row


def kinds(repo: Repo) -> list[str]:
    return [a.kind for a in repo.email_history(repo.outbox_all()[0])]


def test_a_draft_held_released_claimed_and_sent_has_a_line_for_each_change(session: Session) -> None:
    repo = Repo(session)
    trail = Trail(repo, NOW)
    row = email(repo)
    status.queue(trail, row, "recap to jane")
    status.hold_for_review(trail, row, "waits for the CSM")
    assert row.status == Status.REVIEW
    later = Trail(repo, NOW + timedelta(hours=2))
    status.release(later, row, "approved by sam", arrived_at=NOW + timedelta(hours=1))
    assert (row.status, row.due_at, row.ready_at) == (Status.QUEUED, later.at, NOW + timedelta(hours=1))
    status.claim(later, row, "worker-1", 600.0)
    assert (row.status, row.attempts, row.claimed_by) == (Status.SENDING, 1, "worker-1")
    status.delivered(later, row, ["jane@acme.example"], "smtp")
    status.sent(row)
    assert row.status == Status.SENT and row.sent_at == later.at
    assert kinds(repo) == ["email_queued", "email_review", "email_released", "email_sent"]


def test_a_second_claim_of_an_email_in_sending_says_it_is_sent_again(session: Session) -> None:
    repo = Repo(session)
    row = email(repo, Status.SENDING)
    status.claim(Trail(repo, NOW), row, "worker-2", 0.0)
    assert row.attempts == 1 and row.claimed_by == ""  # one store of its own: no claim window
    assert kinds(repo) == ["email_resent"]


@pytest.mark.parametrize(
    ("state", "change"),
    [
        (Status.SENT, lambda t, e: status.cancel(t, e, "the command line")),
        (Status.SENT, lambda t, e: status.withdraw(t, e, "no-show")),
        (Status.QUEUED, lambda t, e: status.requeue(t, e, "the command line")),
        (Status.QUEUED, lambda t, e: status.release(t, e, "approved", arrived_at=NOW)),
        (Status.REVIEW, lambda t, e: status.hold_for_review(t, e, "again")),
        (Status.WITHDRAWN, lambda t, e: status.claim(t, e, "w", 0.0)),
        (Status.QUEUED, lambda t, e: status.sent(e)),
    ],
)
def test_a_change_the_machine_does_not_allow_is_refused_and_changes_nothing(
    session: Session, state: Status, change: object
) -> None:
    repo = Repo(session)
    row = email(repo, state)
    with pytest.raises(TransitionError, match=f"is {state}"):
        change(Trail(repo, NOW), row)  # type: ignore[operator]
    assert row.status == state
    assert kinds(repo) == []


def test_a_failed_email_can_be_queued_again_by_a_person_with_its_attempts_reset(session: Session) -> None:
    repo = Repo(session)
    row = email(repo, Status.SENDING)
    row.attempts = 5
    status.fail(Trail(repo, NOW), row, "550 no such user")
    assert (row.status, row.last_error) == (Status.FAILED, "550 no such user")
    status.requeue(Trail(repo, NOW + timedelta(days=1)), row, "the command line")
    assert (row.status, row.attempts, row.last_error) == (Status.QUEUED, 0, "")
    assert kinds(repo) == ["email_failed", "email_requeued"]


def test_a_temporary_failure_queues_it_again_later(session: Session) -> None:
    repo = Repo(session)
    row = email(repo, Status.SENDING)
    row.attempts = 1
    status.retry(Trail(repo, NOW), row, "451 try later", 120.0)
    assert (row.status, row.due_at) == (Status.QUEUED, NOW + timedelta(seconds=120))
    assert "attempt 2 in 120 s" in repo.email_history(row)[0].reason


def test_an_email_awaiting_a_departments_approval_cannot_be_sent_by_a_retry(session: Session) -> None:
    repo = Repo(session)
    held = email(repo, Status.WITHDRAWN)
    held.approver_role = "fmc_team_lead"
    with pytest.raises(TransitionError, match="needs the approval of fmc_team_lead: only they can send it"):
        status.requeue(Trail(repo, NOW), held, "sam@example.com")
    assert held.status == Status.WITHDRAWN
    held.status = Status.FAILED  # approved, then the server refused it: trying again sends what they approved
    status.requeue(Trail(repo, NOW), held, "sam@example.com")
    assert held.status == Status.QUEUED
