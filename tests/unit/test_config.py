"""agent.config: embedded defaults, a full file, and every way a config can be wrong.

Every error must name the file, the line, the section and key, the bad value and
what was expected, and `check` must report it before it touches the disk.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from agent.cli import main
from agent.config import CONFIG_ENV, PROJECT_ROOT, Config, find_config, load_config
from agent.errors import ConfigError


def line_of(text: str, needle: str) -> int:
    """1-based number of the one line of `text` that contains `needle`."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


# --- embedded defaults ------------------------------------------------------------------------
def test_embedded_defaults_resolve_documented_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None)
    here = tmp_path.resolve()

    assert cfg.source == "embedded defaults"
    assert cfg.state_dir.resolve() == here / "state"
    assert cfg.store_url == f"sqlite:///{cfg.state_dir / 'agent.db'}"
    assert cfg.maildir_path.resolve() == here / "state" / "mail"
    assert cfg.sent_path.resolve() == here / "state" / "sent"
    assert cfg.ics_path.resolve() == here / "state" / "calendar"
    # No rules/ or templates/ beside us: the ones shipped with the code are used.
    assert cfg.rules_dir == PROJECT_ROOT / "rules"
    assert cfg.templates_dir == PROJECT_ROOT / "templates" / "emails"
    assert sorted(p.name for p in cfg.rules_dir.glob("*.yaml")) == [
        "hybrid-onboarding.yaml",
        "learning-platform-onboarding.yaml",
        "project-onboarding.yaml",
        "standard-onboarding.yaml",
    ]
    assert (cfg.templates_dir / "intro" / "subject.txt").is_file()
    assert (cfg.mailbox.backend, cfg.transport.backend, cfg.calendar.backend) == ("maildir", "file", "ics")
    assert cfg.agent.timezone == "UTC"
    assert cfg.agent.address == "onboarding@example.com"
    # Loading the config is pure: nothing is created.
    assert list(tmp_path.iterdir()) == []


def test_defaults_prefer_rules_and_templates_beside_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "templates" / "emails").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None)
    assert cfg.rules_dir.resolve() == tmp_path.resolve() / "rules"
    assert cfg.templates_dir.resolve() == tmp_path.resolve() / "templates" / "emails"


def test_find_config_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    assert find_config(None) is None
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "from-env.toml"))
    assert find_config(None) == tmp_path / "from-env.toml"
    write(tmp_path / "agent.toml", "")
    assert find_config(None) == Path("agent.toml")
    assert find_config("explicit.toml") == Path("explicit.toml")


# --- a full, valid file -----------------------------------------------------------------------
FULL = """\
# Every section, every kind of value.
[agent]
address = "Onboarding@Acme.example"
name = "Acme Onboarding"
internal_domains = ["@Acme.example", "acme-group.example"]
timezone = "Europe/Paris"
business_days = ["mon", "tue", "wed", "thu"]
holidays = ["2026-12-25"]
max_emails_per_deal_per_day = 5
max_emails_per_recipient_per_day = 3

[store]
url = "postgresql+psycopg://agent@db.acme.example/agent"

[mailbox]
backend = "imap"
host = "imap.acme.example"
port = 993
tls = "ssl"
username = "onboarding"
password_env = "CSM_TEST_IMAP_PASSWORD"
folder = "INBOX/Onboarding"

[transport]
backend = "smtp"
host = "smtp.acme.example"
port = 587
tls = "starttls"
username = "onboarding"
password_file = "smtp-password.txt"

[calendar]
backend = "invites"
url = "https://dav.acme.example/calendars/onboarding/"
username = "onboarding"
password_env = "CSM_TEST_DAV_PASSWORD"
completion_grace_minutes = 30
lookahead_days = 60
lookbehind_days = 7

[paths]
rules = "my-rules"
templates = "my-templates"
state = "/var/lib/csm-agent"

[daemon]
poll_seconds = 10
log_level = "DEBUG"
"""


def test_full_config_with_every_section_loads(tmp_path: Path) -> None:
    path = write(tmp_path / "conf" / "agent.toml", FULL)
    cfg = load_config(path)
    base = path.resolve().parent

    assert cfg.source == str(path)
    assert cfg.agent.address == "onboarding@acme.example"
    assert cfg.agent.domain == "acme.example"
    assert cfg.agent.name == "Acme Onboarding"
    assert cfg.agent.internal_domains == ("acme.example", "acme-group.example")
    assert cfg.agent.timezone == "Europe/Paris"
    assert cfg.agent.business_days == ("mon", "tue", "wed", "thu")
    assert cfg.agent.holidays == ("2026-12-25",)
    assert cfg.agent.max_emails_per_deal_per_day == 5
    assert cfg.agent.max_emails_per_recipient_per_day == 3
    assert cfg.store_url == "postgresql+psycopg://agent@db.acme.example/agent"

    mb = cfg.mailbox
    assert (mb.backend, mb.host, mb.port, mb.tls, mb.username, mb.folder) == (
        "imap",
        "imap.acme.example",
        993,
        "ssl",
        "onboarding",
        "INBOX/Onboarding",
    )
    assert mb.password_env == "CSM_TEST_IMAP_PASSWORD"
    tr = cfg.transport
    assert (tr.backend, tr.host, tr.port, tr.tls) == ("smtp", "smtp.acme.example", 587, "starttls")
    assert tr.password_file == base / "smtp-password.txt"
    cal = cfg.calendar
    assert (cal.backend, cal.url) == ("invites", "https://dav.acme.example/calendars/onboarding/")
    assert (cal.completion_grace_minutes, cal.lookahead_days, cal.lookbehind_days) == (30, 60, 7)

    assert cfg.rules_dir == base / "my-rules"
    assert cfg.templates_dir == base / "my-templates"
    assert cfg.state_dir == Path("/var/lib/csm-agent")  # absolute stays as written
    assert (cfg.daemon.poll_seconds, cfg.daemon.log_level) == (10, "DEBUG")


def test_shipped_example_config_loads_and_shows_every_section() -> None:
    example = PROJECT_ROOT / "agent.example.toml"
    cfg = load_config(example)
    assert cfg.source == str(example)
    sections = {name for name, field in Config.model_fields.items() if not field.exclude}
    assert set(tomllib.loads(example.read_text(encoding="utf-8"))) == sections


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path / "agent.toml", "# nothing to change\n"))
    assert cfg == Config.model_validate(
        {"source": str(tmp_path / "agent.toml"), "base_dir": tmp_path.resolve()}
    )
    assert cfg.state_dir == tmp_path.resolve() / "state"


# --- unknown keys -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "needle", "where"),
    [
        ('[agent]\ntimezone = "UTC"\n\n[mailbx]\nhost = "x"\n', "[mailbx]", "mailbx"),
        ('[agent]\ntimezone = "UTC"\ncolour = "blue"\n', "colour", "[agent] colour"),
        ('[mailbox]\nbackend = "imap"\nhost = "imap.example.com"\nhots = "typo"\n', "hots", "[mailbox] hots"),
        # A password is never accepted inline: only password_env / password_file.
        ('[transport]\nbackend = "smtp"\npassword = "hunter2"\n', "password =", "[transport] password"),
        ('debug = true\n[agent]\ntimezone = "UTC"\n', "debug", "debug"),
    ],
    ids=["section", "key-in-agent", "key-in-mailbox", "inline-password", "top-level-key"],
)
def test_unknown_key_is_rejected_with_file_line_and_key(
    tmp_path: Path, text: str, needle: str, where: str
) -> None:
    path = write(tmp_path / "agent.toml", text)
    msg = config_error(path)
    assert f"{path}:{line_of(text, needle)}: {where}: unknown key" in msg, msg
    assert "hunter2" not in msg  # a secret given by mistake is not echoed


# --- bad values -------------------------------------------------------------------------------
BAD_VALUES = [
    ("mailbox", "port", '"abc"', "'abc'", "valid integer"),
    ("transport", "port", "70000", "70000", "less than or equal to 65535"),
    ("mailbox", "tls", '"maybe"', "'maybe'", "'none', 'starttls' or 'ssl'"),
    ("mailbox", "backend", '"pop3"', "'pop3'", "'maildir', 'imap', 'exchange' or 'graph'"),
    ("mailbox", "history", '"ignore"', "'ignore'", "'record' or 'act'"),
    ("agent", "timezone", '"Mars/Base"', "'Mars/Base'", "expected an IANA time zone name"),
    ("agent", "address", '"nope"', "'nope'", "expected an email address"),
    ("agent", "business_days", '["mon", "funday"]', "'funday'", "'mon', 'tue', 'wed'"),
    ("daemon", "log_level", '"LOUD"', "'LOUD'", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
    ("daemon", "poll_seconds", "0", "0", "greater than or equal to 1"),
]


@pytest.mark.parametrize(("section", "key", "literal", "shown", "expected"), BAD_VALUES)
def test_bad_value_names_file_line_key_value_and_expectation(
    tmp_path: Path, section: str, key: str, literal: str, shown: str, expected: str
) -> None:
    # Some valid lines first, so that the line number is not trivially 1 or 2.
    text = f'# test\n[store]\nurl = ""\n\n[{section}]\n{key} = {literal}\n'
    path = write(tmp_path / "agent.toml", text)
    msg = config_error(path)
    assert msg.startswith(f"{path}:6: [{section}] {key}"), msg
    assert shown in msg
    assert expected in msg


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = '[agent]\naddress = "nope"\ntimezone = "Mars/Base"\n\n[mailbox]\nport = "abc"\ntls = "maybe"\n'
    path = write(tmp_path / "agent.toml", text)
    lines = config_error(path).splitlines()
    assert [line.split(" = ")[0] for line in lines] == [
        f"{path}:2: [agent] address",
        f"{path}:3: [agent] timezone",
        f"{path}:6: [mailbox] port",
        f"{path}:7: [mailbox] tls",
    ]


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "agent.toml", '[agent]\naddress = "unterminated\n')
    msg = config_error(path)
    assert msg.startswith(f"{path}: not valid TOML"), msg
    assert "line 2" in msg


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    msg = config_error(path)
    assert msg.startswith(f"{path}: cannot read the config file"), msg


# --- secrets ----------------------------------------------------------------------------------
def test_password_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path / "agent.toml", '[mailbox]\nbackend = "imap"\nhost = "h"\npassword_env = "CSM_TEST_PW"\n'
    )
    cfg = load_config(path)
    monkeypatch.setenv("CSM_TEST_PW", "s3cret")
    assert cfg.mailbox.password() == "s3cret"
    monkeypatch.delenv("CSM_TEST_PW")
    with pytest.raises(ConfigError, match=r"environment variable CSM_TEST_PW \(password_env\) is not set"):
        cfg.mailbox.password()


def test_no_secret_configured_means_no_password(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path / "agent.toml", '[transport]\nbackend = "smtp"\nhost = "h"\n'))
    assert cfg.transport.password() is None


def test_password_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = write(tmp_path / "secrets" / "smtp.txt", "hunter2  \nsecond line is ignored\n")
    secret.chmod(0o644)
    path = write(
        tmp_path / "agent.toml", f'[transport]\nbackend = "smtp"\nhost = "h"\npassword_file = \'{secret}\'\n'
    )
    with pytest.raises(ConfigError, match=r"others may read it \(mode 644\); expected it private: chmod 600"):
        load_config(path).transport.password()
    secret.chmod(0o600)
    assert load_config(path).transport.password() == "hunter2"

    secret.unlink()
    with pytest.raises(ConfigError) as info:
        load_config(path).transport.password()
    assert f"password_file {secret}: cannot read a password" in str(info.value)

    write(secret, "").chmod(0o600)
    with pytest.raises(ConfigError, match="cannot read a password"):
        load_config(path).transport.password()


def test_relative_password_file_is_read_beside_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "etc" / "smtp.txt", "from-beside-config\n").chmod(0o600)
    write(tmp_path / "elsewhere" / "smtp.txt", "from-working-folder\n").chmod(0o600)
    path = write(tmp_path / "etc" / "agent.toml", '[transport]\npassword_file = "smtp.txt"\n')
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert load_config(path).transport.password() == "from-beside-config"


# --- relative paths ---------------------------------------------------------------------------
def test_relative_paths_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    path = write(
        conf / "agent.toml",
        "[paths]\n"
        'state = "var/state"\n'
        'rules = "pipelines"\n'
        'templates = "../shared/emails"\n'
        '[mailbox]\npath = "inbox"\n'
        '[transport]\npath = "outbox"\n'
        '[calendar]\npath = "meetings"\n',
    )
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    cfg = load_config(path)
    base = conf.resolve()
    assert cfg.state_dir == base / "var" / "state"
    assert cfg.store_url == f"sqlite:///{base / 'var' / 'state' / 'agent.db'}"
    assert cfg.rules_dir == base / "pipelines"
    assert cfg.templates_dir.resolve() == tmp_path.resolve() / "shared" / "emails"
    assert cfg.maildir_path == base / "inbox"
    assert cfg.sent_path == base / "outbox"
    assert cfg.ics_path == base / "meetings"


def test_state_override_replaces_paths_state(tmp_path: Path) -> None:
    path = write(tmp_path / "conf" / "agent.toml", '[paths]\nstate = "ignored"\n')
    assert load_config(path).state_dir == tmp_path.resolve() / "conf" / "ignored"
    other = tmp_path / "other-state"
    cfg = load_config(path, state_override=other)
    assert cfg.state_dir == other
    assert cfg.maildir_path == other / "mail"


# --- the CLI: bad config is reported before any I/O -------------------------------------------
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[mailbox]\nport = "abc"\n', [":5: [mailbox] port = 'abc'", "valid integer"]),
        ("[mailbox]\nfolders = 3\n", [":5: [mailbox] folders: unknown key"]),
        ("[mailbox\nport = 1\n", [": not valid TOML", "line 4"]),
        ('[agent]\ntimezone = "Mars/Base"\n', [":5: [agent] timezone = 'Mars/Base'", "IANA"]),
    ],
    ids=["bad-value", "unknown-key", "bad-toml", "bad-timezone"],
)
def test_check_with_bad_config_exits_2_and_creates_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    body: str,
    expected: list[str],
) -> None:
    state = tmp_path / "state-folder"
    path = write(tmp_path / "bad.toml", f"[paths]\nstate = '{state}'\n\n{body}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CONFIG_ENV, raising=False)

    code = main(["--config", str(path), "check"])

    err = capsys.readouterr().err
    assert code == 2
    assert f"error: {path}" in err
    for fragment in expected:
        assert fragment in err, err
    # Nothing on disk: no state folder, no database, not even in the working folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]
    assert not state.exists()


@pytest.mark.parametrize(
    ("section", "text", "expected"),
    [
        (
            "calendar",
            '[calendar]\nbackend = "exchange"\n',
            "[exchange] url = '': the exchange backend needs the EWS endpoint",
        ),
        (
            "mailbox",
            '[mailbox]\nbackend = "graph"\n',
            "[graph] tenant_id and client_id: the graph backend needs the app registration's tenant and client IDs",
        ),
        ("mailbox", '[mailbox]\nbackend = "imap"\n', "[mailbox] host: the imap backend needs a host name"),
        (
            "transport",
            '[transport]\nbackend = "smtp"\n',
            "[transport] host: the smtp backend needs a host name",
        ),
    ],
)
def test_backends_this_version_cannot_run_are_refused_before_any_io(
    tmp_path: Path, section: str, text: str, expected: str
) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"{path}:2: {expected}" in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.toml"]


def test_the_live_test_example_config_loads() -> None:
    config = load_config(PROJECT_ROOT / "tests" / "live" / "live.example.toml")
    assert (config.mailbox.backend, config.transport.backend, config.calendar.backend) == ("graph",) * 3


def test_folders_to_file_mail_in_need_imap(tmp_path: Path) -> None:
    path = write(tmp_path / "agent.toml", '[mailbox]\nbackend = "maildir"\nprocessed_folder = "Done"\n')
    with pytest.raises(
        ConfigError, match=r"agent.toml:3: \[mailbox\] processed_folder: filing mail in folders needs"
    ):
        load_config(path)


TEAMS = """[agent]
address = "onboarding@example.com"
timezone = "Europe/London"

[[teams]]
name = "emea"
address = "emea@example.com"
pipeline = "project-onboarding"
timezone = "Europe/Paris"
[teams.mailbox]
backend = "maildir"
[teams.calendar]
backend = "ics"

[[teams]]
name = "apac"
address = "apac@example.com"
"""


def test_teams_have_their_identity_folders_and_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path / "agent.toml", TEAMS))
    assert [t.name for t in cfg.teams] == ["emea", "apac"]
    assert cfg.addresses() == ("onboarding@example.com", "emea@example.com", "apac@example.com")
    emea = cfg.for_team(cfg.teams[0])
    # its own address and zone on its emails, its own folders beside the main ones, no teams of its own
    assert (emea.agent.address, emea.agent.timezone, emea.teams) == ("emea@example.com", "Europe/Paris", ())
    assert emea.maildir_path == cfg.state_dir / "teams" / "emea" / "mail" != cfg.maildir_path
    assert emea.ics_path == cfg.state_dir / "teams" / "emea" / "calendar"
    assert emea.graph.mailbox == emea.exchange.mailbox == "emea@example.com"
    assert cfg.identity("apac").timezone == "Europe/London"  # no zone of its own: the agent's
    assert cfg.identity("") == cfg.agent and cfg.identity("gone") == cfg.agent
    assert cfg.for_team(cfg.teams[1]).calendar.backend == "invites"  # a team reads invitations by default


@pytest.mark.parametrize(
    ("extra", "line", "expected"),
    [
        ('[[teams]]\nname = "emea"\naddress = "other@example.com"\n', 20, "two teams have this name"),
        ('[[teams]]\nname = "x"\naddress = "emea@example.com"\n', 21, "already the address of team emea"),
        ('[[teams]]\nname = "x"\naddress = "onboarding@example.com"\n', 21, "already the address of [agent]"),
        ('[[teams]]\nname = "Bad Name"\naddress = "x@example.com"\n', 20, "lower-case letters"),
        ('[[teams]]\nname = "x"\naddress = "x@example.com"\ncolour = "red"\n', 22, "unknown key"),
        (
            '[[teams]]\nname = "x"\naddress = "x@example.com"\n[teams.mailbox]\nbackend = "imap"\n',
            23,
            "needs a host",
        ),
        ('[[teams]]\nname = "x"\naddress = "x@example.com"\n[teams.mailbox]\nport = 0\n', 23, "greater than"),
        ('[[teams]]\nname = "x"\n', 0, "address"),
    ],
)
def test_bad_teams_are_named_with_their_line(tmp_path: Path, extra: str, line: int, expected: str) -> None:
    path = write(tmp_path / "agent.toml", TEAMS + "\n" + extra)
    msg = config_error(path)
    assert expected in msg, msg
    if line:
        assert f"{path}:{line}:" in msg, msg


def test_check_refuses_a_team_pipeline_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write(tmp_path / "agent.toml", TEAMS.replace("project-onboarding", "no-such-pipeline"))
    assert main(["--config", str(cfg), "check"]) == 2
    err = capsys.readouterr().err
    assert "[[teams]] emea: pipeline = 'no-such-pipeline': no such pipeline" in err, err


# --- [[picks]] and [chat] -----------------------------------------------------------------------
def test_picks_name_who_covers_a_value_and_refuse_a_bad_address(tmp_path: Path) -> None:
    good = (
        '[[picks]]\nrole = "fmc_team_lead"\nby = "state"\n'
        'people = { TX = "Fiona Field <fiona@example.com>", "*" = "gil@example.com" }\n'
    )
    [pick] = load_config(write(tmp_path / "agent.toml", good)).picks
    assert pick.person(" tx ") == ("Fiona Field", "fiona@example.com")
    assert pick.person("CA") == ("", "gil@example.com")
    text = '[[picks]]\nrole = "fmc_team_lead"\nby = "state"\npeople = { TX = "Fiona <not-an-address>" }\n'
    message = config_error(write(tmp_path / "bad.toml", text))
    assert "picks" in message and "TX = 'Fiona <not-an-address>'" in message
    assert "expected an email address" in message


def test_a_chat_channel_without_its_secret_or_a_bot_for_deal_channels_is_refused(tmp_path: Path) -> None:
    no_secret = '[[chat.channels]]\nname = "fmc-intake"\nservice = "teams"\n'
    assert "needs password_env or password_file holding the webhook URL" in config_error(
        write(tmp_path / "a.toml", no_secret)
    )
    webhook_bot = (
        '[chat]\ndeal_channels = "fmc-intake"\n'
        '[[chat.channels]]\nname = "fmc-intake"\nservice = "slack-webhook"\npassword_env = "X"\n'
    )
    assert "expected the name of a [[chat.channels]] entry with service = 'slack'" in config_error(
        write(tmp_path / "b.toml", webhook_bot)
    )


def test_a_channel_name_means_the_teams_own_entry_before_the_common_one() -> None:
    from agent.config import Config

    cfg = Config.model_validate(
        {
            "chat": {
                "channels": [
                    {"name": "fmc-intake", "service": "teams", "password_env": "ALL"},
                    {"name": "fmc-intake", "service": "teams", "password_env": "EMEA", "team": "emea"},
                ]
            }
        }
    )
    emea, main, other = (cfg.chat.channel("fmc-intake", t) for t in ("emea", "", "apac"))
    assert (emea and emea.password_env, main and main.password_env, other and other.password_env) == (
        "EMEA",
        "ALL",
        "ALL",
    )
    assert cfg.chat.channel("nowhere", "") is None
    with pytest.raises(ValueError, match=r"two \[\[chat\.channels\]\] named 'fmc-intake' for team emea"):
        Config.model_validate(
            {
                "chat": {
                    "channels": [
                        {"name": "fmc-intake", "service": "teams", "password_env": "X", "team": "emea"}
                    ]
                    * 2
                }
            }
        )


def test_a_chat_channel_of_a_team_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    text = '[[chat.channels]]\nname = "fmc-intake"\nservice = "teams"\npassword_env = "X"\nteam = "emae"\n'
    assert "[[chat.channels]] fmc-intake: team = 'emae': no such [[teams]]" in config_error(
        write(tmp_path / "agent.toml", text)
    )
