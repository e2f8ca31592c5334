"""`deals ...` on the command line: the contracts of DESIGN.md, driven as a person would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.simulation import ics_event
from tests.conftest import agent_env, start_daemon, stop_daemon, wait_until, write_config
from tests.integration.cli_helpers import add_acme, as_json, run
from tests.servers import Postgres


def test_add_list_show_and_advance(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_acme(cfg, capsys)
    assert as_json(cfg, capsys, "deals", "list") == [
        {
            "id": 1,
            "name": "Acme Radio",
            "pipeline": "standard-onboarding",
            "stage": "introduction-call",
            "team": "",
        }
    ]
    show = as_json(cfg, capsys, "deals", "show", "1")
    for key in (
        "id",
        "name",
        "pipeline",
        "stage",
        "stage_history",
        "tasks",
        "messages",
        "meetings",
        "emails",
        "events",
    ):
        assert key in show
    assert [h["stage"] for h in show["stage_history"]] == ["customer-brief", "introduction-call"]
    assert show["stage_history"][0]["exited_at"] is not None and show["stage_history"][1]["exited_at"] is None
    task = next(t for t in show["tasks"] if t["id"] == "schedule-intro")
    assert (task["R"], task["A"], task["status"]) == ("csm", "onboarding_manager", "open")
    assert show["emails"][0]["template"] == "intro" and show["emails"][0]["status"] == "queued"
    assert any(e["rule"] == "brief-done" for e in show["events"])
    assert "+00:00" in show["stage_history"][0]["entered_at"]  # ISO 8601 with offset

    why = "the call was held before the hand-over"  # the stage's tasks are open: a reason moves it on
    code, out, _ = run(cfg, "deals", "advance", "Acme Radio", "--reason", why, capsys=capsys)
    assert code == 0 and "stage set-up" in out
    code, _, err = run(cfg, "deals", "advance", "1", "nowhere", capsys=capsys)
    assert code == 2 and "nowhere" in err and "set-up" in err
    code, _, err = run(cfg, "deals", "show", "99", capsys=capsys)
    assert code == 2 and "no deal '99'" in err


def test_deals_of_a_team_take_its_pipeline_zone_and_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    team = '[[teams]]\nname = "emea"\naddress = "emea@example.com"\npipeline = "project-onboarding"\n'
    cfg = write_config(tmp_path, team + 'timezone = "Europe/Paris"\n')
    csv = tmp_path / "handover.csv"
    csv.write_text(
        "deal,pipeline,contact_name,contact_email,contact_role,csm,team\n"
        "Zeta,,Tim,tim@zeta.example,client_project_lead,sam@example.com,emea\n"
        "Acme,,Jane,jane@acme.example,client_admin,sam@example.com,\n"
        "Globex,,Gil,gil@globex.example,client_admin,sam@example.com,apac\n",
        encoding="utf-8",
    )
    code, out, err = run(cfg, "deals", "import", str(csv), capsys=capsys)
    assert code == 2 and "imported 2 deals" in out
    assert f"{csv}:4: team: unknown team 'apac'; expected one of ['emea']" in err
    zeta, acme = as_json(cfg, capsys, "deals", "show", "Zeta"), as_json(cfg, capsys, "deals", "show", "Acme")
    assert (zeta["team"], zeta["pipeline"], zeta["timezone"]) == (
        "emea",
        "project-onboarding",
        "Europe/Paris",
    )
    assert (acme["team"], acme["pipeline"], acme["timezone"]) == ("", "standard-onboarding", "Europe/London")
    code, _, err = run(cfg, "deals", "add", "--name", "X", "--team", "apac", "--csm", "sam@example.com",
                       capsys=capsys)  # fmt: skip
    assert code == 2 and "team: unknown team 'apac'" in err
    assert run(cfg, "run", "--once", capsys=capsys)[0] == 0
    sent = {p.read_text().split("Subject:")[0] for p in (tmp_path / "state" / "sent").glob("*.eml")}
    froms = {line for text in sent for line in text.splitlines() if line.startswith("From:")}
    assert froms == {
        "From: Onboarding Team <emea@example.com>",
        "From: Onboarding Team <onboarding@example.com>",
    }


@pytest.mark.integration
def test_an_import_on_postgresql_leaves_the_planner_statistics_of_what_it_wrote(
    tmp_path: Path, postgres: Postgres, capsys: pytest.CaptureFixture[str]
) -> None:
    """Until autovacuum analyzes them, PostgreSQL plans a table as it last saw it: a look-up of a
    message's addresses read all of 100,000 imported contacts (docs/performance.md)."""
    from sqlalchemy import text

    from agent.store.db import make_engine

    url = postgres.create("cli_import")
    cfg = write_config(tmp_path, f'[store]\nurl = "{url}"\n')
    csv = tmp_path / "handover.csv"
    csv.write_text(
        "deal,pipeline,contact_name,contact_email,contact_role,csm\n"
        + "".join(f"Deal {n},,P{n},p{n}@client{n}.example,client_admin,sam@example.com\n" for n in range(30)),
        encoding="utf-8",
    )
    engine = make_engine(url)
    seen = text("SELECT relname, reltuples FROM pg_class WHERE relname IN ('deals', 'contacts')")
    code, out, err = run(cfg, "deals", "import", str(csv), capsys=capsys)
    assert code == 0 and "imported 30 deals" in out, err
    with engine.connect() as conn:
        # reltuples is -1 for a table never analyzed (PostgreSQL 14 on); ANALYZE counts its rows
        assert dict(conn.execute(seen).all()) == {"deals": 30, "contacts": 30}
    engine.dispose()


def test_import_csv_reports_broken_rows_by_line_and_imports_the_good_ones(
    cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "handover.csv"
    csv.write_text(
        "deal,pipeline,contact_name,contact_email,contact_role,csm,account_manager,timezone,region\n"
        "Acme Radio,standard-onboarding,Jane Doe,jane@acme.example,client_admin,sam@example.com,alex@example.com,"
        "Europe/London,EMEA\n"
        "Acme Radio,standard-onboarding,Bob Roe,bob@acme.example,client_sponsor,sam@example.com,,,\n"
        "Globex,no-such-pipeline,Gil,gil@globex.example,client_admin,sam@example.com,,,\n"
        "Initech,project-onboarding,Peter,not-an-email,client_project_lead,sam@example.com,,,\n"
        "Hooli,hybrid-onboarding,Gavin,gavin@hooli.example,client_admin,sam@example.com,,Mars/Base,\n",
        encoding="utf-8",
    )
    code, out, err = run(cfg, "deals", "import", str(csv), capsys=capsys)
    assert code == 2  # some rows were broken
    assert "imported 1 deals" in out
    assert f"{csv}:4: pipeline: unknown pipeline 'no-such-pipeline'" in err
    assert f"{csv}:5: contact_email: 'not-an-email': expected an email address" in err
    assert f"{csv}:6: timezone: 'Mars/Base'" in err
    show = as_json(cfg, capsys, "deals", "show", "Acme Radio")
    assert [c["email"] for c in show["contacts"]] == ["jane@acme.example", "bob@acme.example"]
    assert show["roles"]["account_manager"]["email"] == "alex@example.com"
    assert show["attributes"] == {"region": "EMEA"} and show["timezone"] == "Europe/London"
    code, _, err = run(cfg, "deals", "import", str(csv), capsys=capsys)
    assert "exists already" in err  # importing twice never duplicates a deal
    missing = tmp_path / "bad.csv"
    missing.write_text("deal,pipeline\nX,standard-onboarding\n", encoding="utf-8")
    code, _, err = run(cfg, "deals", "import", str(missing), capsys=capsys)
    assert code == 2 and f"{missing}:1: missing column(s) contact_name" in err


def test_task_done(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_acme(cfg, capsys)
    code, _, err = run(cfg, "deals", "task-done", "1", "no-such-task", capsys=capsys)
    assert code == 2 and "schedule-intro" in err
    code, _, _ = run(cfg, "deals", "task-done", "1", "schedule-intro", capsys=capsys)
    assert code == 0


def test_no_show_from_the_command_line(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_acme(cfg, capsys)
    code, _, err = run(cfg, "deals", "no-show", "1", capsys=capsys)
    assert code == 2 and "no meeting that has started" in err
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC) - timedelta(minutes=5)  # started, not yet over
    ics = cfg.parent / "state" / "calendar" / "intro.ics"
    ics.parent.mkdir(parents=True, exist_ok=True)
    ics.write_text(
        ics_event(
            "cli-intro@example.com",
            "Acme Radio intro",
            start,
            60,
            stamp=start,
            method="",
            organizer="sam@example.com",
            attendees=("jane@acme.example",),
        )
    )
    run(cfg, "run", "--once", capsys=capsys)
    code, out, _ = run(cfg, "deals", "no-show", "Acme Radio", capsys=capsys)
    assert code == 0 and "'Acme Radio intro' marked a no-show" in out
    show = as_json(cfg, capsys, "deals", "show", "1")
    assert show["meetings"][0]["status"] == "no_show"
    assert any(e["template"] == "notice" for e in show["emails"])  # the Responsible person is told


def test_a_write_that_meets_a_busy_database_waits_tries_again_then_says_so_plainly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3
    import threading

    cfg = write_config(tmp_path, "[store]\nbusy_timeout_seconds = 1\n")
    add_acme(cfg, capsys)
    holder = sqlite3.connect(tmp_path / "state" / "agent.db", check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        code, _, err = run(cfg, "deals", "advance", "Acme Radio", "--reason", "test", capsys=capsys)
    finally:
        holder.rollback()
    assert code == 1 and "the database refused the command (database is locked); nothing was changed" in err
    assert err.count("the database is busy (database is locked)") == 2 and "trying again (3 of 3)" in err
    assert "Traceback" not in err
    # held past one wait (as the daemon may, up to an item's budget), the write goes through on a later try
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(1.5, holder.rollback).start()
    code, out, err = run(cfg, "deals", "advance", "Acme Radio", "--reason", "test", capsys=capsys)
    assert code == 0 and out.strip() == "deal 1 Acme Radio: stage set-up", err
    assert "trying again (2 of 3)" in err
    holder.close()


def test_an_import_goes_through_while_the_daemon_drains_a_backlog(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "[daemon]\npoll_seconds = 1\n")
    new = tmp_path / "state" / "mail" / "new"
    new.mkdir(parents=True)
    for n in range(1500):  # strangers' mail: each one a transaction of the daemon's
        (new / f"{n}.backlog.test").write_bytes(
            f"From: someone{n}@elsewhere.example\r\nTo: agent@example.com\r\nSubject: hello {n}\r\n"
            f"Message-ID: <backlog-{n}@elsewhere.example>\r\n\r\nHello.\r\n".encode()
        )
    csv = tmp_path / "handover.csv"
    csv.write_text(
        "deal,pipeline,contact_name,contact_email,contact_role,csm\n"
        + "".join(
            f"Client {n},,Jo {n},jo@client{n}.example,client_admin,sam@example.com\n" for n in range(30)
        ),
        encoding="utf-8",
    )
    proc = start_daemon(cfg)
    try:
        wait_until(lambda: len(os.listdir(new)) < 1400, timeout=60)  # it is draining
        done = subprocess.run(
            [sys.executable, "-m", "agent", "--config", str(cfg), "deals", "import", str(csv)],
            env=agent_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        left = len(os.listdir(new))
    finally:
        stop_daemon(proc)
    assert done.returncode == 0 and "imported 30 deals; 0 problems" in done.stdout, done.stderr
    assert left > 0, "the daemon finished its backlog before the import: the test proved nothing"
    print(f"import done with {left} messages of the backlog still waiting")
