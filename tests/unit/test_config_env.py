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
    assert not {"teams", "picks", "source", "base_dir"} & set(reachable)  # arrays of tables: by number
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
    assert message == (
        "environment CSM_AGENT__TEAMS__NAME: [[teams]] is an array of tables; "
        "expected CSM_AGENT__TEAMS__<number from 0>__KEY"
    )
    message = error(None, {"CSM_AGENT__TEAMS__0__MAILBOX": "x"})
    assert message == (
        "environment CSM_AGENT__TEAMS__0__MAILBOX: names a table, not a key; "
        "expected CSM_AGENT__TEAMS__0__MAILBOX__KEY"
    )
    message = error(None, {"CSM_AGENT__TEAMS__0__MAILBOX__HOTS": "x"})
    assert "CSM_AGENT__TEAMS__0__MAILBOX__HOTS: [teams.mailbox] has no key 'hots'; expected one of" in message
    message = error(None, {"CSM_AGENT__MAILBOX": "x", "CSM_AGENT__NOPE__KEY": "y"})
    assert message.splitlines() == [  # every problem at once
        "environment CSM_AGENT__MAILBOX: names a table, not a key; expected CSM_AGENT__MAILBOX__KEY",
        message.splitlines()[1],
    ]
    assert message.splitlines()[1].startswith("environment CSM_AGENT__NOPE__KEY: not a config key")


def test_the_environment_is_read_when_no_environ_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSM_AGENT__AGENT__NAME", "Team From Env")
    assert load_config(None).agent.name == "Team From Env"


TEAM_FILE = """
[[teams]]
name = "emea"
address = "emea@example.com"
[teams.mailbox]
backend = "maildir"
"""


def test_an_array_s_tables_are_set_by_number_and_one_past_the_file_s_last_adds_a_table(
    tmp_path: Path,
) -> None:
    cfg_file = write(tmp_path / "agent.toml", TEAM_FILE)
    cfg = load_config(
        cfg_file,
        environ={
            "CSM_AGENT__TEAMS__0__DISPLAY_NAME": "EMEA Onboarding",  # the file's first team
            "CSM_AGENT__TEAMS__0__MAILBOX__FOLDER": "Onboarding",  # its [teams.mailbox]
            "CSM_AGENT__TEAMS__1__NAME": "apac",  # a whole second team from the environment
            "CSM_AGENT__TEAMS__1__ADDRESS": "apac@example.com",
            "CSM_AGENT__TEAMS__1__MAILBOX__BACKEND": "maildir",
            "CSM_AGENT__CHAT__CHANNELS__0__NAME": "fmc-intake",
            "CSM_AGENT__CHAT__CHANNELS__0__SERVICE": "teams",
            "CSM_AGENT__CHAT__CHANNELS__0__PASSWORD_ENV": "FMC_WEBHOOK",
            "CSM_AGENT__PICKS__0__ROLE": "fmc_team_lead",
            "CSM_AGENT__PICKS__0__BY": "state",
            "CSM_AGENT__PICKS__0__PEOPLE": '{ TX = "Dana <dana@example.com>", "*" = "lee@example.com" }',
        },
    )
    assert [(t.name, t.address) for t in cfg.teams] == [
        ("emea", "emea@example.com"),
        ("apac", "apac@example.com"),
    ]
    assert cfg.teams[0].display_name == "EMEA Onboarding" and cfg.teams[0].mailbox.folder == "Onboarding"
    assert cfg.teams[0].mailbox.backend == "maildir"  # the file's keys stay
    (channel,) = cfg.chat.channels
    assert (channel.name, channel.service, channel.password_env) == ("fmc-intake", "teams", "FMC_WEBHOOK")
    (pick,) = cfg.picks
    assert pick.person("tx") == ("Dana", "dana@example.com") and pick.person("CA") == ("", "lee@example.com")


def test_tables_numbered_past_ten_keep_their_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    environ = {}
    for n in range(12):
        environ[f"CSM_AGENT__TEAMS__{n}__NAME"] = f"t{n}"
        environ[f"CSM_AGENT__TEAMS__{n}__ADDRESS"] = f"t{n}@example.com"
    assert [t.name for t in load_config(None, environ=environ).teams] == [f"t{n}" for n in range(12)]


def test_a_number_that_leaves_a_gap_or_a_bad_value_names_the_variable(tmp_path: Path) -> None:
    cfg_file = write(tmp_path / "agent.toml", TEAM_FILE)
    message = error(cfg_file, {"CSM_AGENT__TEAMS__2__NAME": "apac"})
    assert message == (
        "environment CSM_AGENT__TEAMS__2__NAME: [teams] has 1 table(s) before it, from the file and the "
        "environment; expected the number 1 or lower (numbers start at 0 and leave no gap)"
    )
    message = error(cfg_file, {"CSM_AGENT__TEAMS__0__MAILBOX__PORT": "imap"})
    assert message.startswith(
        "environment CSM_AGENT__TEAMS__0__MAILBOX__PORT: [[teams]] number 1: [teams.mailbox] port = 'imap': "
    )
    message = error(cfg_file, {"CSM_AGENT__TEAMS__1__NAME": "apac"})  # a new table lacking its address
    assert "[[teams]] number 2: address" in message and "Field required" in message


def test_checks_across_sections_name_the_variable_that_set_the_value(tmp_path: Path) -> None:
    cfg_file = write(tmp_path / "agent.toml", TEAM_FILE + '\n[mailbox]\nbackend = "imap"\n')
    message = error(
        cfg_file,
        {
            "CSM_AGENT__CALENDAR__BACKEND": "exchange",
            "CSM_AGENT__TEAMS__0__MAILBOX__BACKEND": "imap",
            "CSM_AGENT__TEAMS__1__NAME": "emea",
            "CSM_AGENT__TEAMS__1__ADDRESS": "apac@example.com",
        },
    )
    assert message.splitlines() == [
        f"{cfg_file}:9: [mailbox] host: the imap backend needs a host name",  # the file's line
        "environment CSM_AGENT__TEAMS__0__MAILBOX__BACKEND: [[teams]] emea: [teams.mailbox] host: "
        "the imap backend needs a host name",
        "environment CSM_AGENT__TEAMS__1__NAME: [[teams]] name = 'emea': two teams have this name",
        "environment CSM_AGENT__CALENDAR__BACKEND: [exchange] url = '': the exchange backend needs the EWS "
        "endpoint, like https://mail.example.com/EWS/Exchange.asmx",
    ]
