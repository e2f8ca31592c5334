"""`deals hybrid` and `deals escalate` on the command line (the flows themselves: test_becoming_hybrid.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.cli_helpers import add_acme, as_json, run

TEAM = ("--role", "csm_team_lead=Tara Lead <tara@example.com>", "--role", "sales_manager=rita@example.com")


def add_hybrid(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        cfg,
        "deals",
        "add",
        "--name",
        "Globex",
        "--pipeline",
        "hybrid-onboarding",
        "--contact",
        "Gil,gil@globex.example,client_admin",
        "--csm",
        "sam@example.com",
        *TEAM,
        "--role",
        "fmc_team_lead=fiona@example.com",
        capsys=capsys,
    )
    assert code == 0, err


def test_deals_hybrid_switches_the_pipeline_into_the_stage_asked(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_acme(cfg, capsys)  # standard-onboarding, in introduction-call
    data = as_json(
        cfg,
        capsys,
        "deals",
        "hybrid",
        "Acme Radio",
        "--path",
        "learning-bought-service",
        "--stage",
        "adoption",
        *TEAM,
    )
    assert data == {
        "id": 1,
        "name": "Acme Radio",
        "pipeline": "hybrid-onboarding",
        "stage": "adoption",
        "path": "learning-bought-service",
        "switched": True,
        "previous_pipeline": "standard-onboarding",
        "expansion_opportunity": "",
        "roles_missing": ["cs_operations", "fmc_team_lead", "fmc_lead"],
        "missing_attributes": ["state", "products"],
    }
    show = as_json(cfg, capsys, "deals", "show", "1")
    assert [h["stage"] for h in show["stage_history"]] == ["customer-brief", "introduction-call", "adoption"]
    assert show["roles"]["sales_manager"]["email"] == "rita@example.com"
    [changed] = [e for e in show["events"] if e["kind"] == "pipeline_changed"]
    assert (
        changed["reason"]
        == "standard-onboarding → hybrid-onboarding: learning-bought-service, by the command line"
    )
    # the intro that entering introduction-call queued is no longer true once the deal left it
    assert [e["status"] for e in show["emails"] if e["template"] == "intro"] == ["withdrawn"]

    code, out, _ = run(cfg, "deals", "hybrid", "1", "--path", "learning-bought-service", capsys=capsys)
    assert code == 0 and "on hybrid-onboarding already (stage adoption): no switch" in out


def test_what_deals_hybrid_refuses_changes_nothing(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_acme(cfg, capsys)
    events = len(as_json(cfg, capsys, "deals", "show", "1")["events"])
    code, _, err = run(cfg, "deals", "hybrid", "1", "--path", "bought-fmc", capsys=capsys)
    assert code == 2 and "'bought-fmc'" in err
    assert "learning-bought-service" in err and "service-bought-learning" in err
    for args, said in (
        (("--path", "service-bought-learning", "--stage", "won"), "no stage 'won' in hybrid-onboarding"),
        (
            ("--path", "service-bought-learning", "--role", "account_manager=al@example.com"),
            "not a role of ours",
        ),
        (("--path", "service-bought-learning", "--role", "csm=other@example.com"), "csm is sam@example.com"),
        (("--path", "service-bought-learning", "--as", "not an address"), "--as 'not an address'"),
    ):
        code, _, err = run(cfg, "deals", "hybrid", "1", *args, capsys=capsys)
        assert code == 2 and said in err, (args, err)
    show = as_json(cfg, capsys, "deals", "show", "1")
    assert (show["pipeline"], len(show["events"])) == ("standard-onboarding", events)

    add_hybrid(cfg, capsys)
    code, _, err = run(
        cfg,
        "deals",
        "hybrid",
        "Globex",
        "--path",
        "service-bought-learning",
        "--stage",
        "onboarding",
        capsys=capsys,
    )
    assert code == 2 and "on hybrid-onboarding already" in err


def test_deals_escalate(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_hybrid(cfg, capsys)
    data = as_json(
        cfg,
        capsys,
        "deals",
        "escalate",
        "Globex",
        "--reason",
        "the client  threatens to cancel",
        "--as",
        "tara@example.com",
    )
    assert data == {
        "id": 1,
        "name": "Globex",
        "pipeline": "hybrid-onboarding",
        "stage": "account-assignment",
        "escalated_by": "tara@example.com",
        "reason": "the client threatens to cancel",
        "channels": ["escalation"],
    }
    show = as_json(cfg, capsys, "deals", "show", "1")
    assert [e["rule"] for e in show["events"] if e["kind"] == "rule_fired"].count("escalation") == 1
    [escalated] = [e for e in show["events"] if e["kind"] == "escalated"]
    assert escalated["reason"] == "by tara@example.com: the client threatens to cancel"

    add_acme(cfg, capsys)
    code, _, err = run(cfg, "deals", "escalate", "Acme Radio", "--reason", "unhappy", capsys=capsys)
    assert code == 2 and "standard-onboarding has no rule for an escalation" in err
    code, _, err = run(cfg, "deals", "escalate", "Globex", "--reason", "  ", capsys=capsys)
    assert code == 2 and "needs its why" in err


def test_the_deals_group_lists_them(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run(cfg, "deals", "--help", capsys=capsys)
    listed = capsys.readouterr().out
    assert "hybrid" in listed and "escalate" in listed
