"""`init DIR`: a team's own copy of the shipped rules and templates, and a config naming them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from agent.cli import main
from agent.config import load_config
from agent.config.paths import shipped_default


def init(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_init_writes_a_copy_that_check_accepts_and_the_agent_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no agent.toml, rules/ or templates/ in the cwd
    code, out, err = init(capsys, "init", "team")
    assert code == 0, err
    assert "4 pipelines in team/rules" in out and "csm-agent --config team/agent.toml check" in out

    team = tmp_path / "team"
    assert files_under(team / "rules") == files_under(shipped_default("rules"))
    assert files_under(team / "templates/emails") == files_under(shipped_default("templates/emails"))
    assert (team / "rules/standard-onboarding.yaml").read_bytes() == (
        shipped_default("rules") / "standard-onboarding.yaml"
    ).read_bytes()
    text = (team / "agent.toml").read_text()
    assert text.startswith("# This team's csm-agent configuration")
    assert "[mailbox]" in text and "# password_file" in text  # the example's comments are kept
    assert tomllib.loads(text)["paths"] == {
        "state": "state",
        "rules": "rules",
        "templates": "templates/emails",
    }

    # the config names the copies, wherever the agent is started from
    monkeypatch.chdir(tmp_path.parent)
    config = load_config(team / "agent.toml")
    assert config.rules_dir.resolve() == (team / "rules").resolve()
    assert config.templates_dir.resolve() == (team / "templates/emails").resolve()
    assert config.state_dir.resolve() == (team / "state").resolve()
    code, out, err = init(capsys, "--config", str(team / "agent.toml"), "check")
    assert code == 0, err
    assert "4 pipelines" in out

    # an edit of the copy is what check reads: a broken rule is named in the team's file
    rules = team / "rules/standard-onboarding.yaml"
    rules.write_text(rules.read_text().replace("pipeline: standard-onboarding", "pipeline: [broken", 1))
    code, _, err = init(capsys, "--config", str(team / "agent.toml"), "check")
    assert code == 2 and str(rules) in err


def test_init_refuses_to_overwrite_and_names_what_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "team").mkdir()
    (tmp_path / "team/agent.toml").write_text("# ours\n")
    code, out, err = init(capsys, "init", "team")
    assert code == 2 and out == ""
    assert "team/agent.toml already exists" in err and "nothing was written" in err
    assert (tmp_path / "team/agent.toml").read_text() == "# ours\n"
    assert not (tmp_path / "team/rules").exists()  # all or nothing

    (tmp_path / "other/rules").mkdir(parents=True)
    (tmp_path / "other/rules/standard-onboarding.yaml").write_text("pipeline: ours\n")
    code, _, err = init(capsys, "init", "other")
    assert code == 2 and "other/rules/standard-onboarding.yaml already exists" in err
    assert not (tmp_path / "other/agent.toml").exists()

    (tmp_path / "a-file").write_text("")
    code, _, err = init(capsys, "init", "a-file")
    assert code == 2 and "a-file exists and is not a folder" in err


def test_init_with_a_state_folder_elsewhere_puts_all_runtime_data_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    state = tmp_path / "var-lib"
    code, _, err = init(capsys, "--state", str(state), "init", "etc")
    assert code == 0, err
    config = load_config(tmp_path / "etc/agent.toml")
    assert config.state_dir == state
    # the example's explicit state/mail, state/sent and state/calendar now follow the state folder
    assert (config.maildir_path, config.sent_path, config.ics_path) == (
        state / "mail",
        state / "sent",
        state / "calendar",
    )
    assert not state.exists()  # init writes the config, never the runtime data
