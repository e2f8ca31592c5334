"""A deal's tasks are read once a transaction, and every step that asks picks from them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from agent.store import models as m
from agent.store.db import open_store
from agent.store.repo import Repo
from tests.unit.test_store_queries import T0, _deal, statements_run

TASK_READS = r"^\s*SELECT .*\sFROM tasks\b"


def _task(deal_id: int, key: str, stage: str = "set-up", status: str = "open") -> m.Task:
    return m.Task(
        deal_id=deal_id,
        key=key,
        stage=stage,
        title=key,
        status=status,
        responsible="csm",
        accountable="onboarding_manager",
        created_at=T0,
    )


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    return open_store(f"sqlite:///{tmp_path / 'a.db'}")


def test_every_step_of_an_item_picks_from_one_read_of_the_deals_tasks(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as s:
        repo = Repo(s)
        acme, globex = _deal(repo, "Acme").id, _deal(repo, "Globex").id
        s.add_all(
            [
                _task(acme, "kickoff", status="done"),
                _task(globex, "kickoff"),
                _task(acme, "sso"),
                _task(acme, "training", stage="training"),
                _task(acme, "sign-off", status="awaiting_approval"),
            ]
        )
        s.flush()
        s.expunge_all()  # as a later message finds them: none in hand
        later = Repo(s)
        with statements_run(later, TASK_READS) as reads:
            assert later.done_task_keys(acme) == {"kickoff"}
            assert [t.key for t in later.tasks_in_stage(acme, "set-up")] == ["kickoff", "sso", "sign-off"]
            assert [t.key for t in later.open_tasks(acme)] == ["sso", "training"]
            assert [t.key for t in later.unfinished_in_stage(acme, "set-up")] == ["sso", "sign-off"]
            task = later.task(acme, "sso")
            assert task is not None and task.deal_id == acme
            assert later.task(acme, "nothing-of-the-kind") is None
            assert [t.key for t in later.tasks(acme)] == ["kickoff", "sso", "training", "sign-off"]
            assert len(reads) == 1  # the six steps' answers came from one read
            task.status = "done"  # changed, not written yet: the next step sees it as it stands
            assert later.done_task_keys(acme) == {"kickoff", "sso"}
            assert [t.key for t in later.unfinished_in_stage(acme, "set-up")] == ["sign-off"]
            assert [t.key for t in later.open_tasks(globex)] == ["kickoff"]  # another deal: its own read
            assert len(reads) == 2


def test_a_task_added_is_seen_by_the_next_step_even_before_it_is_written(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as s:
        repo = Repo(s)
        acme = _deal(repo, "Acme").id
        s.add(_task(acme, "kickoff"))
        assert [t.key for t in repo.open_tasks(acme)] == ["kickoff"]
        s.add(_task(acme, "sso"))  # pending: the read flushes it, as the ORM's autoflush did
        assert [t.key for t in repo.open_tasks(acme)] == ["kickoff", "sso"]
        assert repo.task(acme, "sso") is not None
        removed = repo.task(acme, "kickoff")
        s.delete(removed)
        assert [t.key for t in repo.tasks(acme)] == ["sso"]


def test_the_read_holds_neither_past_a_savepoint_rolled_back_nor_past_the_transaction(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as s:
        repo = Repo(s)
        acme = _deal(repo, "Acme").id
        s.add(_task(acme, "kickoff"))
        with pytest.raises(RuntimeError), s.begin_nested():
            repo.add(_task(acme, "sso"))
            assert [t.key for t in repo.open_tasks(acme)] == ["kickoff", "sso"]
            raise RuntimeError("this message failed")
        assert [t.key for t in repo.open_tasks(acme)] == ["kickoff"]  # the task went with the savepoint
    session = sessions()  # one session, two transactions (as a group's)
    with session.begin():
        assert [t.key for t in Repo(session).open_tasks(acme)] == ["kickoff"]
    with sessions.begin() as s:  # another worker's transaction adds one
        s.add(_task(acme, "training"))
    with session.begin():
        assert [t.key for t in Repo(session).open_tasks(acme)] == ["kickoff", "training"]
    session.close()
