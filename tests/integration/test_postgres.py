"""The store on a real PostgreSQL (started by the tests): the schema, a whole onboarding, a lost connection."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from agent.clock import ManualClock
from agent.config import load_config
from agent.store import models as m
from agent.store.db import StoreUnavailable, make_engine, open_store
from agent.store.repo import Repo
from tests.conftest import CLIENT, CSM, Harness
from tests.integration.scenario import START, end_state, play, step_config
from tests.servers import Postgres
from tests.unit.test_store_queries import timers_are_added_once_a_key, what_the_daily_caps_count

_names = itertools.count(1)


def database(postgres: Postgres) -> str:
    return postgres.create(f"agent_{next(_names)}")


@pytest.mark.integration
def test_the_migrations_build_exactly_the_models_on_postgresql(postgres: Postgres) -> None:
    url = database(postgres)
    open_store(url)  # an empty database gets the schema
    with make_engine(url).connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), m.Base.metadata) == []


@pytest.mark.integration
def test_what_the_daily_caps_count_is_found_in_the_json_postgresql_stores(postgres: Postgres) -> None:
    """The recipients are looked for in the To's text: PostgreSQL's JSON keeps the text it was given."""
    with open_store(database(postgres)).begin() as s:
        what_the_daily_caps_count(Repo(s))


@pytest.mark.integration
def test_a_timer_is_added_once_a_key_on_postgresql(postgres: Postgres) -> None:
    with open_store(database(postgres)).begin() as s:
        timers_are_added_once_a_key(Repo(s))


@pytest.mark.integration
def test_a_whole_onboarding_ends_the_same_on_postgresql_as_on_sqlite(
    tmp_path: Path, postgres: Postgres
) -> None:
    states = []
    for store in ("", database(postgres)):
        cfg = step_config(tmp_path / ((store and "postgres") or "sqlite"))
        if store:
            cfg.write_text(cfg.read_text() + f'\n[store]\nurl = "{store}"\n')
        sim = Harness(load_config(cfg), ManualClock(START))
        play(sim)
        states.append(end_state(sim.config))
    sqlite, postgresql = states
    assert [d["stage"] for d in postgresql["deals"]] == ["won"] * 3
    assert postgresql == sqlite


@pytest.mark.integration
def test_a_lost_database_connection_keeps_the_mail_and_it_is_processed_once_back(
    tmp_path: Path, postgres: Postgres
) -> None:
    from tests.conftest import MONDAY, write_config

    url = database(postgres)
    h = Harness(load_config(write_config(tmp_path, f'[store]\nurl = "{url}"\n')), ManualClock(MONDAY))
    h.add_deal()
    h.run()
    h.mail(CLIENT, [CSM], "Re: Welcome to onboarding", "Thanks.")
    postgres.stop()
    try:
        with pytest.raises(StoreUnavailable):
            h.run()
        assert len(list((h.config.maildir_path / "new").iterdir())) == 1  # kept, not acknowledged
    finally:
        postgres.start()
    h.at(MONDAY + timedelta(minutes=1))
    h.run()
    h.run()
    with h.agent.sessions.begin() as s:
        repo = Repo(s)
        assert [msg.subject for msg in repo.messages_for(1)] == ["Re: Welcome to onboarding"]
        assert repo.quarantined() == []


@pytest.mark.integration
def test_seen_before_stays_an_index_look_up_as_the_events_table_grows(postgres: Postgres) -> None:
    # A statement prepared on the server keeps the plan made while the table was empty: a
    # sequential scan, run for every message against an ever longer table (the ingest profile).
    from sqlalchemy import insert, text

    sessions = open_store(database(postgres))
    at = START
    # psycopg prepares a statement on its 6th run, and PostgreSQL plans the first five runs of a
    # prepared statement for their parameters, then settles on one plan for all (the empty table's).
    for n in range(15):
        with sessions.begin() as s:
            assert not Repo(s).event_known(f"warm-up {n}", f"hash {n}")
    with sessions.begin() as s:
        rows = [
            {
                "key": f"mail {n}",
                "source": "mail",
                "status": "processed",
                "received_at": at,
                "content_hash": f"{n:064}",
            }
            for n in range(5000)
        ]
        s.execute(insert(m.InboundEvent), rows)
    scans = text("SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'inbound_events'")
    with sessions.begin() as s:
        # Counted within one transaction: the view also holds earlier ones not yet flushed.
        seq_before, idx_before = s.execute(scans).one()
        repo = Repo(s)
        assert repo.event_known("mail 4999", None)
        assert repo.event_known("another key", f"{17:064}")
        assert not any(repo.event_known(f"new {n}", f"new hash {n}") for n in range(20))
        seq_after, idx_after = s.execute(scans).one()
    assert seq_after - seq_before == 0
    assert idx_after - idx_before >= 22
