"""The README's first command: the demo shows the whole flow on the embedded defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli import main


def test_demo_shows_the_whole_flow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no agent.toml here: embedded defaults
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for expected in (
        "created in standard-onboarding; now in stage introduction-call",
        "sent 000001.eml: 'Welcome to standard onboarding",
        "(bcc, normal): logged on the deal — jane@acme-radio.example is a contact on the deal",
        "(inbound, auto_reply): logged, never answered",
        "sent 000003.eml: '[agent] Review before it goes: Recap: Acme Radio introduction call",
        "sent 000002.eml: 'Recap: Acme Radio introduction call",
        "deal is in stage 'set-up'",
        "sent 000004.eml: 'Acme Radio: your onboarding is complete",
        "sent 000005.eml: 'One question about your onboarding",
        "CSAT 5",
        # seeds/001's Post Training - Sales has no tasks: Sales is told, and moves the deal on
        "sent 000006.eml: '[agent] Acme Radio: Post Training - Sales is yours",
        "mail in: alex@example.com → onboarding+",
        "deal is in stage 'won'",
        "total onboarding time:",
        "rule_fired: recap-after-intro",
    ):
        assert expected in out, expected
    sent = sorted((tmp_path / "state" / "demo" / "sent").glob("*.eml"))
    assert [p.name for p in sent] == [f"{i:06d}.eml" for i in range(1, 7)]
    assert main(["demo"]) == 0  # runs again from a fresh demo folder
    capsys.readouterr()
    assert len(list((tmp_path / "state" / "demo" / "sent").glob("*.eml"))) == 6


def test_demo_never_wipes_a_folder_it_did_not_make(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "agent.db").write_text("real data")
    assert main(["--state", str(precious), "demo"]) == 2
    assert "not a demo folder" in capsys.readouterr().err
    assert (precious / "agent.db").read_text() == "real data"


# What each shipped pipeline's walk must show: the stages it passes through, in order, and a
# line that only its own process writes.
WALKS = {
    "standard-onboarding": (
        ["Introduction Call", "Set-Up", "Training", "Post Training - Sales"],
        "nothing moves post-training-sales on by itself: a person of ours does",  # seeds/001's stage 6
    ),
    "project-onboarding": (
        ["Kick Off", "Business Discovery", "Integration", "Configuration", "Training/UAT"],
        "'[agent] Approve: Write the success plan (Acme Radio)?",  # the Business Discovery play's A
    ),
    "learning-platform-onboarding": (
        ["Introduction", "Learning Paths", "Set-Up", "Launch"],
        "'For you: Watch the self-serve set-up material",  # the Admin's task (seeds/000, action 2)
    ),
    "hybrid-onboarding": (
        ["Account Assignment", "Onboarding"],
        "'[agent] Approve before it goes: Welcome to your managed credentialing service",  # seeds/004's FMC welcome
    ),
}


@pytest.mark.parametrize("pipeline", sorted(WALKS))
def test_demo_walks_any_shipped_pipeline_to_its_end_stage(
    pipeline: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.pipeline.loader import load_pipelines
    from tests.conftest import ROOT

    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--pipeline", pipeline]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"csm-agent demo of {pipeline} ")
    stages, own = WALKS[pipeline]
    rounds = [line.split(". In ", 1)[1] for line in out.splitlines() if ". In " in line]
    assert rounds == stages, rounds  # each stage once: its calls, answers and tasks take it on
    assert own in out
    end = sorted(load_pipelines(ROOT / "rules").pipelines[pipeline].final_stages)[0]
    assert f"→ deal is in stage '{end}'" in out
    assert "did not reach an end stage" not in out
    tasks = [line for line in out.splitlines() if line.startswith("     [")]
    assert tasks and all(line.startswith("     [done]") for line in tasks), tasks  # nothing left open
    assert list((tmp_path / "state" / "demo" / "sent").glob("*.eml"))


def test_demo_of_an_unknown_pipeline_names_the_shipped_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--pipeline", "no-such-pipeline"]) == 2
    err = capsys.readouterr().err
    assert "--pipeline 'no-such-pipeline': no such pipeline" in err
    assert "learning-platform-onboarding" in err and "project-onboarding" in err
    assert not (tmp_path / "state" / "demo").exists()  # nothing was started
