"""`config show`: the effective config after the file, the environment and the flags, never a secret."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from agent.cli import main

IMAP_SECRET = "imap-s3cret-from-env"
PG_SECRET = "pg-s3cret-in-url"
FILE_SECRET = "client-s3cret-in-file"
SMTP_SECRET = "smtp-s3cret-in-file"


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config with secrets in every place one can be: the environment, files, a URL."""
    monkeypatch.chdir(tmp_path)
    smtp = tmp_path / "smtp.secret"
    smtp.write_text(SMTP_SECRET + "\n", encoding="utf-8")
    smtp.chmod(0o600)
    client = tmp_path / "client-id"
    client.write_text(FILE_SECRET + "\n", encoding="utf-8")
    client.chmod(0o600)
    cfg = tmp_path / "agent.toml"
    cfg.write_text(
        '[mailbox]\nbackend = "imap"\nhost = "imap.example.com"\npassword_env = "IMAP_PW"\n'
        '[transport]\nbackend = "smtp"\nhost = "smtp.example.com"\npassword_file = "smtp.secret"\n'
        '[daemon]\npoll_seconds = 7\nlog_level = "WARNING"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("IMAP_PW", IMAP_SECRET)
    monkeypatch.setenv("CSM_AGENT__DAEMON__POLL_SECONDS", "5")
    monkeypatch.setenv("CSM_AGENT__STORE__URL", f"postgresql+psycopg://agent:{PG_SECRET}@db/agent")
    monkeypatch.setenv("CSM_AGENT__GRAPH__CLIENT_ID_FILE", str(client))
    # a configured secret pasted into an ordinary key is masked too (the log's redaction knows it)
    monkeypatch.setenv("CSM_AGENT__MAILBOX__USERNAME", IMAP_SECRET)
    return cfg


def show(cfg: Path, capsys: pytest.CaptureFixture[str], *flags: str, as_json: bool = False) -> str:
    code = main(["--config", str(cfg), *flags, "config", "show", *(["--json"] if as_json else [])])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    for secret in (IMAP_SECRET, PG_SECRET, FILE_SECRET, SMTP_SECRET):
        assert secret not in captured.out + captured.err
    return captured.out


def test_text_is_the_effective_config_as_toml_with_origins(
    setup: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = show(setup, capsys, "--state", str(tmp_path / "st"))
    parsed = tomllib.loads(out)  # it reads as the config file it amounts to
    assert parsed["daemon"]["poll_seconds"] == 5  # the environment over the file's 7
    assert parsed["mailbox"]["password_env"] == "IMAP_PW"  # where a secret is: shown
    assert parsed["transport"]["password_file"] == str(tmp_path / "smtp.secret")
    assert parsed["store"]["url"] == "postgresql+psycopg://agent:***@db/agent"
    assert parsed["graph"]["client_id"] == "***"  # read from a file: it is a secret
    assert parsed["paths"]["state"] == str(tmp_path / "st")
    assert "poll_seconds = 5  # CSM_AGENT__DAEMON__POLL_SECONDS" in out
    assert f'state = "{tmp_path / "st"}"  # --state' in out
    assert "[mailbox]  # from " in out and "[agent]  # defaults" in out
    assert not (tmp_path / "st").exists()  # showing the config makes no state folder


def test_json_has_values_origins_and_resolved_locations(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(show(setup, capsys, as_json=True))
    assert data["source"] == str(setup)
    assert data["sections"]["daemon"]["poll_seconds"] == 5
    assert data["sections"]["mailbox"]["username"] == "***"
    origins = data["origins"]
    assert origins["daemon"] == {
        "file": str(setup),
        "environment": {"poll_seconds": "CSM_AGENT__DAEMON__POLL_SECONDS"},
        "flags": {},
    }
    assert origins["agent"] == {"file": None, "environment": {}, "flags": {}}
    assert origins["graph"]["environment"] == {"client_id": "CSM_AGENT__GRAPH__CLIENT_ID_FILE"}
    assert data["resolved"]["store"] == "postgresql+psycopg://agent:***@db/agent"


def test_a_bad_variable_is_an_input_error(setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--config", str(setup), "config", "show"])
    assert code == 0
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CSM_AGENT__DAEMON__POLL_SECONDS", "soon")
        code = main(["--config", str(setup), "config", "show"])
    err = capsys.readouterr().err
    assert code == 2
    assert "environment CSM_AGENT__DAEMON__POLL_SECONDS: [daemon] poll_seconds = 'soon'" in err


def test_a_team_from_the_environment_shows_under_its_own_header_with_its_variables(
    setup: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    team_secret = tmp_path / "team.secret"
    team_secret.write_text("team-s3cret-host\n", encoding="utf-8")
    team_secret.chmod(0o600)
    monkeypatch.setenv("CSM_AGENT__TEAMS__0__NAME", "emea")
    monkeypatch.setenv("CSM_AGENT__TEAMS__0__ADDRESS", "emea@example.com")
    monkeypatch.setenv("CSM_AGENT__TEAMS__0__MAILBOX__BACKEND", "imap")
    monkeypatch.setenv("CSM_AGENT__TEAMS__0__MAILBOX__HOST_FILE", str(team_secret))
    out = show(setup, capsys)
    assert "team-s3cret-host" not in out
    parsed = tomllib.loads(out)
    (team,) = parsed["teams"]
    assert (team["name"], team["mailbox"]["backend"], team["mailbox"]["host"]) == ("emea", "imap", "***")
    assert 'name = "emea"  # CSM_AGENT__TEAMS__0__NAME' in out
    assert 'host = "***"  # CSM_AGENT__TEAMS__0__MAILBOX__HOST_FILE' in out
    assert "[[teams]]\n" in out and "[teams.mailbox]\n" in out
    origins = json.loads(show(setup, capsys, as_json=True))["origins"]
    assert origins["teams.0.mailbox"] == {
        "environment": {
            "backend": "CSM_AGENT__TEAMS__0__MAILBOX__BACKEND",
            "host": "CSM_AGENT__TEAMS__0__MAILBOX__HOST_FILE",
        }
    }
