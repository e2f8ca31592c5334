"""Config keys from the environment (CSM_AGENT__SECTION__KEY, …_FILE): the mapping, the precedence, the errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import Config, load_config
from agent.config.env import parse_value, sections, variable
from agent.errors import ConfigError


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def error(path: Path | None, environ: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=environ)
    return str(info.value)


def test_every_key_of_every_table_has_a_variable() -> None:
    reachable = sections(Config)
    assert {"agent", "mailbox", "transport", "calendar", "graph", "exchange", "daemon", "chat"} <= set(
        reachable
    )
    assert not {"teams", "picks", "source", "base_dir"} & set(reachable)  # arrays of tables: the file only
    assert variable("mailbox", "host") == "CSM_AGENT__MAILBOX__HOST"
    assert variable("daemon", "poll_seconds") == "CSM_AGENT__DAEMON__POLL_SECONDS"


def test_values_are_toml_when_they_parse_else_text() -> None:
    assert parse_value("60") == 60
    assert parse_value("true") is True
    assert parse_value('["mon", "tue"]') == ["mon", "tue"]
    assert parse_value("imap.example.com") == "imap.example.com"  # no quotes needed
    assert parse_value('"quoted"') == "quoted"
    # a string key keeps the text where TOML would read a number or a date
    fields = Config.model_fields["exchange"].annotation.model_fields  # type: ignore[union-attr]
    assert parse_value("15.1", fields["version"]) == "15.1"
    assert parse_value("60", fields["timeout_seconds"]) == 60


def test_environment_sets_keys_of_any_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(
        None,
        environ={
            "CSM_AGENT__MAILBOX__BACKEND": "imap",
            "CSM_AGENT__MAILBOX__HOST": "imap.example.com",
            "CSM_AGENT__MAILBOX__PORT": "1993",
            "CSM_AGENT__DAEMON__POLL_SECONDS": "5",
            "CSM_AGENT__AGENT__BUSINESS_DAYS": '["mon", "wed"]',
            "CSM_AGENT__TRANSPORT__TLS_VERIFY": "false",
            "CSM_AGENT__EXCHANGE__VERSION": "15.1",
            "OTHER": "ignored",
        },
    )
    assert (cfg.mailbox.backend, cfg.mailbox.host, cfg.mailbox.port) == ("imap", "imap.example.com", 1993)
    assert cfg.daemon.poll_seconds == 5
    assert cfg.agent.business_days == ("mon", "wed")
    assert cfg.transport.tls_verify is False
    assert cfg.exchange.version == "15.1"


def test_precedence_flag_over_environment_over_file_over_defaults(tmp_path: Path) -> None:
    cfg_file = write(
        tmp_path / "agent.toml",
        '[daemon]\npoll_seconds = 7\nlog_level = "WARNING"\n[paths]\nstate = "from-file"\n'
        '[mailbox]\nfolder = "Onboarding"\n',
    )
    environ = {"CSM_AGENT__DAEMON__POLL_SECONDS": "9", "CSM_AGENT__PATHS__STATE": "from-env"}
    cfg = load_config(cfg_file, environ=environ)
    assert cfg.daemon.poll_seconds == 9  # environment over file
    assert cfg.daemon.log_level == "WARNING"  # the file's other keys stay
    assert cfg.mailbox.folder == "Onboarding"
    assert cfg.daemon.lease_seconds == 60.0  # embedded default
    assert cfg.paths.state == Path("from-env")
    flagged = load_config(cfg_file, state_override=tmp_path / "from-flag", environ=environ)
    assert flagged.state_dir == tmp_path / "from-flag"  # --state over everything


def test_key_file_reads_a_value_from_a_private_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    host = write(tmp_path / "host", "imap.example.com\n")
    url = write(tmp_path / "url", "postgresql+psycopg://agent:s3cret@db/agent\n")
    cfg = load_config(
        None,
        environ={
            "CSM_AGENT__MAILBOX__HOST_FILE": str(host),
            "CSM_AGENT__STORE__URL_FILE": str(url),
            # a key that is a file name is set by its own name, as in the file
            "CSM_AGENT__MAILBOX__PASSWORD_FILE": str(host),
        },
    )
    assert cfg.mailbox.host == "imap.example.com"
    assert cfg.store.url == "postgresql+psycopg://agent:s3cret@db/agent"
    assert cfg.mailbox.password_file == host


def test_key_file_refuses_a_file_others_may_read(tmp_path: Path) -> None:
    shared = write(tmp_path / "url", "postgresql://agent:s3cret@db/agent\n", mode=0o644)
    message = error(None, {"CSM_AGENT__STORE__URL_FILE": str(shared)})
    assert "CSM_AGENT__STORE__URL_FILE" in message and str(shared) in message
    assert "others may read it" in message and "s3cret" not in message


def test_a_bad_value_names_the_variable_the_value_and_what_was_expected() -> None:
    message = error(None, {"CSM_AGENT__MAILBOX__PORT": "abc"})
    assert message == (
        "environment CSM_AGENT__MAILBOX__PORT: [mailbox] port = 'abc': "
        "Input should be a valid integer, unable to parse string as an integer"
    )
    message = error(None, {"CSM_AGENT__DAEMON__POLL_SECONDS": "0"})
    assert message.startswith("environment CSM_AGENT__DAEMON__POLL_SECONDS: [daemon] poll_seconds = 0: ")
    assert "greater than or equal to 1" in message


def test_a_value_read_from_a_file_is_never_echoed(tmp_path: Path) -> None:
    secret = write(tmp_path / "port", "s3cret-token\n")
    message = error(None, {"CSM_AGENT__MAILBOX__PORT_FILE": str(secret)})
    assert "CSM_AGENT__MAILBOX__PORT_FILE" in message and f"(read from {secret})" in message
    assert "s3cret" not in message


def test_unknown_sections_and_keys_are_refused_without_their_value() -> None:
    message = error(None, {"CSM_AGENT__MAILBOX__PASSWORD": "hunter2-secret"})
    assert "environment CSM_AGENT__MAILBOX__PASSWORD: [mailbox] has no key 'password'" in message
    assert "password_file" in message and "hunter2" not in message
    message = error(None, {"CSM_AGENT__TEAMS__NAME": "emea"})
    assert "CSM_AGENT__TEAMS__NAME: not a config key" in message and "[[teams]]" in message
    message = error(None, {"CSM_AGENT__MAILBOX": "x", "CSM_AGENT__NOPE__KEY": "y"})
    assert message.count("not a config key") == 2  # every problem at once


def test_the_environment_is_read_when_no_environ_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSM_AGENT__AGENT__NAME", "Team From Env")
    assert load_config(None).agent.name == "Team From Env"
