"""The command-line contracts of DESIGN.md, driven as a person would."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.simulation import ics_event
from tests.conftest import ROOT, agent_env, start_daemon, stop_daemon, write_config


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def run(cfg: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--config", str(cfg), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def as_json(cfg: Path, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = run(cfg, *args, "--json", capsys=capsys)
    assert code == 0, err
    return json.loads(out)


def add_acme(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        cfg,
        "deals",
        "add",
        "--name",
        "Acme Radio",
        "--contact",
        "Jane Doe,jane@acme.example,client_admin",
        "--csm",
        "sam@example.com",
        "--role",
        "onboarding_manager=olivia@example.com",
        capsys=capsys,
    )
    assert code == 0, err
    assert "stage introduction-call" in out


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

    code, out, _ = run(cfg, "deals", "advance", "Acme Radio", capsys=capsys)
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


def test_run_once_sends_what_is_queued_and_outbox_lists_it(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_acme(cfg, capsys)
    code, out, _ = run(cfg, "run", "--once", "--dry-run", capsys=capsys)
    assert code == 0 and "1 held (dry run)" in out
    assert not (cfg.parent / "state" / "sent").exists() or not list((cfg.parent / "state" / "sent").iterdir())
    code, out, _ = run(cfg, "run", "--once", capsys=capsys)
    assert "1 emails sent" in out
    [email] = as_json(cfg, capsys, "outbox", "list")
    assert email["template"] == "intro" and email["status"] == "sent" and email["to"] == ["jane@acme.example"]
    assert email["message_id"].startswith("<") and email["deal"] == 1
    assert len(list((cfg.parent / "state" / "sent").glob("*.eml"))) == 1


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


def test_unmatched_list_and_assign_runs_the_rules(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_acme(cfg, capsys)
    maildir = cfg.parent / "state" / "mail"
    (maildir / "new").mkdir(parents=True, exist_ok=True)
    (maildir / "new" / "1.x.test").write_bytes(
        b"From: Someone <someone@gmail.com>\r\nTo: onboarding@example.com\r\nSubject: Who am I\r\n"
        b"Message-ID: <who@gmail.com>\r\n\r\nHi.\r\n"
    )
    run(cfg, "run", "--once", capsys=capsys)
    [item] = as_json(cfg, capsys, "unmatched", "list")
    assert item["subject"] == "Who am I" and item["from"] == "someone@gmail.com"
    code, _, _ = run(cfg, "unmatched", "assign", str(item["id"]), "Acme Radio", capsys=capsys)
    assert code == 0
    assert as_json(cfg, capsys, "unmatched", "list") == []
    show = as_json(cfg, capsys, "deals", "show", "1")
    [msg] = show["messages"]
    assert msg["match_reason"] == "assigned by the command line"
    code, _, _ = run(cfg, "unmatched", "assign", "999", "1", capsys=capsys)
    assert code == 2


def test_render_previews_a_template_for_a_deal(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_acme(cfg, capsys)
    code, out, _ = run(cfg, "render", "intro", "--deal", "1", capsys=capsys)
    assert code == 0 and out.startswith("Subject: Welcome") and "Hello Jane" in out
    code, out, _ = run(cfg, "render", "intro", "--deal", "1", "--html", capsys=capsys)
    assert "<strong>Acme Radio</strong>" in out
    code, _, err = run(cfg, "render", "nope", "--deal", "1", capsys=capsys)
    assert code == 2 and "no such email template" in err


def test_task_done_and_quarantine_commands(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_acme(cfg, capsys)
    code, _, err = run(cfg, "deals", "task-done", "1", "no-such-task", capsys=capsys)
    assert code == 2 and "schedule-intro" in err
    code, _, _ = run(cfg, "deals", "task-done", "1", "schedule-intro", capsys=capsys)
    assert code == 0
    maildir = cfg.parent / "state" / "mail" / "new"
    maildir.mkdir(parents=True, exist_ok=True)
    (maildir / "2.x.test").write_bytes(b"")
    run(cfg, "run", "--once", capsys=capsys)
    [q] = as_json(cfg, capsys, "quarantine", "list")
    assert q["source"] == "mail" and "cannot parse" in q["error"]
    code, out, _ = run(cfg, "quarantine", "retry", str(q["id"]), capsys=capsys)
    assert code == 1 and "quarantined" in out  # still broken: it goes back, nothing lost
    assert len(as_json(cfg, capsys, "quarantine", "list")) == 1


def daemon(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python daemon.py ARGS` to its end, as an operator runs it."""
    return subprocess.run(
        [sys.executable, str(ROOT / "daemon.py"), *args],
        cwd=cwd,
        env=agent_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_daemon_once_with_embedded_defaults_in_a_fresh_folder(tmp_path: Path) -> None:
    done = daemon("--once", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "pass done" in done.stdout
    assert (tmp_path / "state" / "agent.db").is_file()  # SQLite at state/agent.db
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700  # client data: private
    assert (tmp_path / "state" / "agent.db").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "state" / "mail" / "new").is_dir()  # Maildir at state/mail
    assert (tmp_path / "state" / "calendar").is_dir()


def test_daemon_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "[daemon]\npoll_seconds = 1\n")
    proc = start_daemon(cfg)
    time.sleep(1.5)  # in its loop
    err = stop_daemon(proc)
    assert proc.returncode == 0, err
    assert "agent stopped" in err


def test_bad_config_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, '[mailbox]\nbackend = "pigeon"\n')
    done = daemon("--config", str(cfg), "--once")
    assert done.returncode == 2
    assert f"{cfg}:" in done.stderr and "[mailbox] backend = 'pigeon'" in done.stderr
    assert not (tmp_path / "state").exists()  # refused before any I/O


def test_outbox_show_cancel_and_retry(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_acme(cfg, capsys)
    shown = as_json(cfg, capsys, "outbox", "show", "1")
    assert (shown["template"], shown["status"], shown["to"]) == ("intro", "queued", ["jane@acme.example"])
    assert [h["kind"] for h in shown["history"]] == ["email_queued"]
    code, _, err = run(cfg, "outbox", "retry", "1", capsys=capsys)
    assert code == 2 and "only failed or withdrawn" in err
    code, out, _ = run(cfg, "outbox", "cancel", "1", capsys=capsys)
    assert code == 0 and "cancelled" in out
    run(cfg, "run", "--once", capsys=capsys)
    assert not (cfg.parent / "state" / "sent").exists() or not list((cfg.parent / "state" / "sent").iterdir())
    code, out, _ = run(cfg, "outbox", "retry", "1", capsys=capsys)
    assert code == 0
    run(cfg, "run", "--once", capsys=capsys)
    shown = as_json(cfg, capsys, "outbox", "show", "1")
    assert shown["status"] == "sent" and shown["delivery"] == {
        "jane@acme.example": "sent",
        "sam@example.com": "sent",
    }
    assert [h["kind"] for h in shown["history"]] == [
        "email_queued",
        "email_withdraw",
        "email_requeued",
        "email_sent",
    ]
    code, out, _ = run(cfg, "outbox", "show", "1", capsys=capsys)
    assert "jane@acme.example: sent" in out and "email_requeued" in out
    code, _, err = run(cfg, "outbox", "show", "42", capsys=capsys)
    assert code == 2 and "no email 42" in err


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


def test_a_second_daemon_on_the_same_state_refuses_to_start(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "[daemon]\npoll_seconds = 1\n")
    first = start_daemon(cfg)
    try:
        time.sleep(0.5)
        second = daemon("--config", str(cfg), "--once")
        assert second.returncode == 1
        assert f"another agent (pid {first.pid}) is running" in second.stderr
    finally:
        stop_daemon(first)
    again = daemon("--config", str(cfg), "--once")
    assert again.returncode == 0, again.stderr  # the lock went with the first process


def test_sighup_reloads_rules_and_a_broken_version_is_refused(tmp_path: Path) -> None:
    import shutil

    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    cfg = write_config(tmp_path, "[daemon]\npoll_seconds = 1\n")
    cfg.write_text(cfg.read_text().replace(f'rules = "{ROOT / "rules"}"', f'rules = "{rules}"'))
    proc = start_daemon(cfg)
    try:
        time.sleep(1.0)
        standard = rules / "standard-onboarding.yaml"
        good = standard.read_text()
        standard.write_text(good.replace("{advance: set-up}", "{advance: nowhere}"))
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        standard.write_text(good.replace("name: Standard onboarding", "name: Standard onboarding v2"))
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        assert proc.poll() is None  # still running after both
    finally:
        err = stop_daemon(proc)
    assert proc.returncode == 0
    assert "reload refused, the running version stays" in err and "unknown stage 'nowhere'" in err
    assert err.index("reload refused") < err.index("reloaded: 3 pipelines")


def test_status_shows_each_part_its_errors_and_the_sizes(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_acme(cfg, capsys)
    (cfg.parent / "state" / "mail" / "new").mkdir(parents=True, exist_ok=True)
    (cfg.parent / "state" / "mail" / "new" / "1.x.test").write_bytes(b"")  # will be quarantined
    (cfg.parent / "state" / "calendar").mkdir(parents=True, exist_ok=True)
    before = as_json(cfg, capsys, "status")
    assert before["mailbox"]["backlog"] == 1 and "last_ok" not in before["mailbox"]
    assert before["outbox"] == {"backend": "file"} and before["deals"] == 1
    run(cfg, "run", "--once", capsys=capsys)
    after = as_json(cfg, capsys, "status")
    assert after["mailbox"]["backlog"] == 0 and after["mailbox"]["last_ok"]
    assert after["quarantined"] == 1 and after["emails"] == {"sent": 1}
    assert after["outbox"]["last_ok"] and not after["outbox"]["last_error"]
    assert after["calendar"]["last_ok"] and not after["calendar"]["last_error"]
    code, text, _ = run(cfg, "status", capsys=capsys)
    assert code == 0 and "quarantined: 1" in text and "mailbox   maildir" in text


def test_an_old_database_is_upgraded_only_by_migrate(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    from agent.store.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    db = cfg.parent / "state" / "agent.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(f"sqlite:///{db}"), "0001")
    code, _, err = run(cfg, "run", "--once", capsys=capsys)
    assert code == 2 and "python -m agent migrate" in err
    code, out, _ = run(cfg, "migrate", capsys=capsys)
    assert code == 0 and f"0001 → {head}" in out
    code, _, _ = run(cfg, "run", "--once", capsys=capsys)
    assert code == 0


def test_health_endpoint_and_metrics_on_loopback(tmp_path: Path) -> None:
    import json as json_
    import urllib.error
    import urllib.request

    from tests.servers import free_port

    port = free_port()
    cfg = write_config(tmp_path, f"[daemon]\npoll_seconds = 1\nhealth_port = {port}\n")
    main(
        [
            "--config",
            str(cfg),
            "deals",
            "add",
            "--name",
            "Acme Radio",
            "--contact",
            "Jane,jane@acme.example",
            "--csm",
            "sam@example.com",
        ]
    )
    proc = start_daemon(cfg)
    try:
        health: dict[str, Any] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    health = json_.loads(r.read())
                if health.get("emails", {}).get("sent"):
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            metrics = r.read().decode()
    finally:
        stop_daemon(proc)
    assert health["deals"] == 1 and health["emails"] == {"sent": 1} and health["mailbox"]["last_ok"]
    assert 'csm_agent_emails{status="sent"} 1' in metrics
    assert 'csm_agent_part_up{part="mailbox",backend="maildir"} 1' in metrics
    assert "csm_agent_quarantined 0" in metrics


def test_check_connect_on_the_embedded_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path)
    code, out, err = run(cfg, "check", "--connect", capsys=capsys)
    assert code == 0, err
    assert f"ok: mailbox: Maildir {tmp_path / 'state' / 'mail'}: 0 new messages" in out
    assert f"ok: calendar: {tmp_path / 'state' / 'calendar'}: 0 .ics files" in out
    assert f"ok: transport: {tmp_path / 'state' / 'sent'}: writable" in out
