"""The operator's commands on the command line (check, migrate, status, run, report, render) and the daemon."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from tests.conftest import ROOT, agent_env, start_daemon, stop_daemon, wait_until, write_config
from tests.integration.cli_helpers import add_acme, as_json, run


def test_render_previews_a_template_for_a_deal(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_acme(cfg, capsys)
    code, out, _ = run(cfg, "render", "intro", "--deal", "1", capsys=capsys)
    assert code == 0 and out.startswith("Subject: Welcome") and "Hello Jane" in out
    code, out, _ = run(cfg, "render", "intro", "--deal", "1", "--html", capsys=capsys)
    assert "<strong>Acme Radio</strong>" in out
    code, _, err = run(cfg, "render", "nope", "--deal", "1", capsys=capsys)
    assert code == 2 and "no such email template" in err


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
    assert err.index("reload refused") < err.index("reloaded: 4 pipelines")


def test_status_shows_each_part_its_errors_and_the_sizes(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_acme(cfg, capsys)
    (cfg.parent / "state" / "mail" / "new").mkdir(parents=True, exist_ok=True)
    (cfg.parent / "state" / "mail" / "new" / "1.x.test").write_bytes(b"")  # will be quarantined
    (cfg.parent / "state" / "calendar").mkdir(parents=True, exist_ok=True)
    before = as_json(cfg, capsys, "status")
    assert before["mailbox"]["backlog"] == 1 and "last_ok" not in before["mailbox"]
    assert (
        before["outbox"]["backend"] == "file" and "last_ok" not in before["outbox"] and before["deals"] == 1
    )
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
    # prometheus_client writes labels in alphabetical order (and values as floats: "1.0")
    assert 'csm_agent_part_up{backend="maildir",part="mailbox"} 1' in metrics
    assert "csm_agent_quarantined 0" in metrics


def test_check_connect_on_the_embedded_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path)
    code, out, err = run(cfg, "check", "--connect", capsys=capsys)
    assert code == 0, err
    assert f"ok: mailbox: Maildir {tmp_path / 'state' / 'mail'}: 0 new messages" in out
    assert f"ok: calendar: {tmp_path / 'state' / 'calendar'}: 0 .ics files" in out
    assert f"ok: transport: {tmp_path / 'state' / 'sent'}: writable" in out


def test_the_command_line_says_its_name_and_version() -> None:
    script = Path(sys.executable).parent / "csm-agent"  # the console script of the installed package
    if not script.exists():
        pytest.skip("the package is not installed in this environment (no csm-agent script)")
    for command, name in (([str(script)], "csm-agent"), ([sys.executable, "-m", "agent"], "python -m agent")):
        version = subprocess.run([*command, "--version"], capture_output=True, text=True, env=agent_env())
        expected = f"csm-agent {metadata.version('csm-agent')}"
        assert version.returncode == 0 and version.stdout.strip() == expected, version
        usage = subprocess.run([*command, "--help"], capture_output=True, text=True, env=agent_env())
        assert usage.stdout.startswith(f"usage: {name} "), usage.stdout  # before: always "python -m agent"


def test_check_names_the_chat_channels_rules_post_to_that_nothing_carries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(write_config(tmp_path / "none"), "check", capsys=capsys)
    assert code == 0, err  # a warning: the posts go by email
    warned = {line.split("'")[1] for line in out.splitlines() if line.startswith("warning: chat channel")}
    assert warned == {"fmc-intake", "deal", "escalation", "expansion", "product-support"}
    monkeypatch.setenv("HOOK", "https://hooks.slack.example/services/T0/B0/x")
    monkeypatch.setenv("BOT", "xoxb-1")
    chat = """
[chat]
deal_channels = "bot"
[[chat.channels]]
name = "fmc-intake"
service = "teams"
password_env = "HOOK"
[[chat.channels]]
name = "product-support"
service = "slack-webhook"
password_env = "HOOK"
[[chat.channels]]
name = "bot"
service = "slack"
channel = "C0ALERTS"
password_env = "BOT"
"""
    code, out, err = run(write_config(tmp_path / "all", chat), "check", capsys=capsys)
    assert code == 0, err
    assert "warning: chat channel" not in out  # the bot opens the deal's own channels


def test_a_reload_asked_while_the_daemon_starts_waits_for_it_instead_of_killing_it(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "[daemon]\npoll_seconds = 1\n")
    log = tmp_path / "daemon.log"  # read while it runs; the reload comes after the first pass, however long
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "daemon.py"), "--config", str(cfg)],
            env=agent_env(),
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
        )
    try:
        lock = tmp_path / "state" / "agent.lock"
        deadline = time.monotonic() + 30
        while not lock.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGHUP)  # at once: long before the first pass is done
        wait_until(lambda: "reloaded" in log.read_text() or proc.poll() is not None, timeout=60)
        assert proc.poll() is None, log.read_text()  # SIGHUP's default would have ended it
    finally:
        stop_daemon(proc)
    assert proc.returncode == 0, log.read_text()
    assert "reloaded" in log.read_text()
