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
