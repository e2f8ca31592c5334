"""An account becoming hybrid, and an escalation on it (seeds/004), through the public ways in: deals
handed over with `deals add`/`deals import`, our people's emails taken by the daemon's pass, `deals hybrid`,
and what the agent sent read back from its .eml files.

No chat service is configured: a channel a rule opens is recorded on the deal with the people to
invite, and they are asked by email to open it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.clock import ManualClock
from agent.config import load_config
from agent.store.repo import Repo
from tests.conftest import CLIENT, CSM, Harness, write_config

MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
CSM_TL = ("Tara Lead", "tara@example.com")
CS_OPS = ("Oscar Ops", "oscar@example.com")
FMC_TL = ("Fiona Field", "fiona@example.com")
RSM = ("Rita Sales", "rita@example.com")
PATHS = ("learning-bought-service", "service-bought-learning")


class World:
    """The agent's pass (the harness) and its command line, on one store and one clock."""

    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.cfg = write_config(tmp_path)
        self.h = Harness(load_config(self.cfg), ManualClock(MONDAY))
        self.capsys = capsys

    def cli(self, *args: str) -> tuple[int, str, str]:
        code = main(["--config", str(self.cfg), *args], clock=self.h.clock)
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def add(self, *args: str) -> int:
        code, out, err = self.cli("deals", "add", "--contact", f"{CLIENT[0]},{CLIENT[1]},client_admin", *args)
        assert code == 0, err
        return int(out.split()[1])

    def write(self, who: tuple[str, str], deal: int, text: str, subject: str = "Acme Radio") -> None:
        """One of ours (or not) writes to the agent at the deal's address; the daemon's pass takes it."""
        self.h.mail(who, [("Onboarding", self.h.reply_address(deal))], subject, f"{text}\n\n{who[0]}")
        self.h.run()

    def events(self, deal: int, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.h.show(deal)["events"] if e["kind"] == kind]

    def channels(self, deal: int) -> dict[str, Any]:
        with self.h.agent.sessions.begin() as s:
            found = Repo(s).deal(deal)
            assert found is not None
            return dict(found.chat_channels)

    def sent_to(self, email: str, subject: str = "") -> list[EmailMessage]:
        return [m for m in self.h.sent() if email in str(m["To"]) and subject in str(m["Subject"])]


@pytest.fixture
def world(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[World]:
    w = World(tmp_path, capsys)
    yield w
    w.h.agent.close()


def standard_deal(w: World, name: str = "Acme Radio") -> int:
    """A standard-onboarding deal that has come to Set-Up; the account's CSM team lead, RSM and FMC team
    lead came with the hand-over as attributes (standard-onboarding has no such roles)."""
    deal = w.add(
        "--name",
        name,
        "--csm",
        f"{CSM[0]} <{CSM[1]}>",
        "--attr",
        f"csm_team_lead={CSM_TL[0]} <{CSM_TL[1]}>",
        "--attr",
        f"sales_manager={RSM[1]}",
        "--attr",
        f"fmc_team_lead={FMC_TL[1]}",
    )
    code, _, err = w.cli("deals", "advance", str(deal), "set-up", "--reason", "the intro call was held")
    assert code == 0, err
    assert w.h.stage(deal) == "set-up"
    return deal


def hybrid_deal(w: World) -> int:
    return w.add(
        "--name",
        "Acme Radio",
        "--pipeline",
        "hybrid-onboarding",
        "--csm",
        f"{CSM[0]} <{CSM[1]}>",
        "--role",
        f"csm_team_lead={CSM_TL[0]} <{CSM_TL[1]}>",
        "--role",
        f"fmc_team_lead={FMC_TL[0]} <{FMC_TL[1]}>",
        "--role",
        f"sales_manager={RSM[0]} <{RSM[1]}>",
        "--attr",
        "state=Texas",
        "--product",
        "LMS",
    )


def test_a_learning_account_that_bought_fmc_becomes_hybrid_by_its_csms_email(world: World) -> None:
    deal = standard_deal(world)
    world.h.run()
    before = world.h.show(deal)
    world.write(CSM, deal, "hybrid learning-bought-service")

    show = world.h.show(deal)
    assert (show["pipeline"], show["stage"]) == ("hybrid-onboarding", "onboarding")
    # its history stays: the standard stages it went through, closed when it switched
    history = show["stage_history"]
    assert [v["stage"] for v in history] == ["customer-brief", "introduction-call", "set-up", "onboarding"]
    assert history[2]["exited_at"] == history[3]["entered_at"] and history[3]["exited_at"] is None
    assert show["attributes"]["previous_pipeline"] == "standard-onboarding"
    assert "expansion_opportunity" not in show["attributes"]  # the learning account was ours already
    [changed] = [e["reason"] for e in show["events"] if e["kind"] == "pipeline_changed"]
    assert changed == "standard-onboarding → hybrid-onboarding: learning-bought-service, by sam@example.com"
    # the old pipeline's tasks are as they were (Set-Up's open ones too); Onboarding's are opened
    tasks = {t["id"]: (t["stage"], t["status"]) for t in show["tasks"]}
    for t in before["tasks"]:
        assert tasks[t["id"]] == (t["stage"], t["status"])
    assert tasks["cs-onboarding-call"] == ("onboarding", "open")
    assert tasks["fmc-onboarding-call"] == ("onboarding", "open")
    assert show["time_in_stage_seconds"]["set-up"] >= 0 and "onboarding" in show["time_in_stage_seconds"]
    # the people of the hand-over's attributes are the hybrid pipeline's roles now
    assert show["roles"]["csm_team_lead"] == {"name": "Tara Lead", "email": CSM_TL[1]}
    assert show["roles"]["sales_manager"]["email"] == RSM[1]

    fired = [e["rule"] for e in show["events"] if e["kind"] == "rule_fired"]
    assert fired.count("learning-account-bought-fmc") == 1
    # "The CSM will create a Slack channel involving the CSM TL and the assigned RSM. FMC will not be
    # involved here."
    expansion = world.channels(deal)["expansion"]
    assert expansion["invite"] == sorted([CSM[1], CSM_TL[1], RSM[1]])
    assert FMC_TL[1] not in expansion["invite"]
    asked = world.sent_to(CSM_TL[1], "please open a expansion channel")
    assert len(asked) == 1 and RSM[1] in str(asked[0]["To"]) and FMC_TL[1] not in str(asked[0]["To"])
    [command] = world.events(deal, "command")
    assert command["reason"] == "'hybrid learning-bought-service' from sam@example.com"


def test_an_fmc_account_that_bought_learning_goes_to_account_assignment_and_cs_operations_is_told(
    world: World,
) -> None:
    deal = standard_deal(world)
    code, out, err = world.cli(
        "deals",
        "hybrid",
        str(deal),
        "--path",
        "service-bought-learning",
        "--role",
        f"cs_operations={CS_OPS[0]} <{CS_OPS[1]}>",
        "--as",
        "olivia@example.com",
    )
    assert code == 0, err
    assert (
        "standard-onboarding → hybrid-onboarding (service-bought-learning), stage account-assignment" in out
    )
    assert "expansion opportunity recorded: learning/compliance" in out
    show = world.h.show(deal)
    assert (show["pipeline"], show["stage"]) == ("hybrid-onboarding", "account-assignment")
    assert show["attributes"]["expansion_opportunity"] == "learning/compliance"
    assert show["attributes"]["previous_pipeline"] == "standard-onboarding"
    [recorded] = world.events(deal, "expansion_recorded")
    assert "learning/compliance" in recorded["reason"]
    [changed] = world.events(deal, "pipeline_changed")
    assert changed["reason"].endswith("service-bought-learning, by olivia@example.com")
    # CS Operations assign a CSM: Account Assignment's tasks are theirs
    tasks = {t["id"]: t for t in show["tasks"]}
    assert (tasks["set-up-lms"]["stage"], tasks["set-up-lms"]["R"]) == ("account-assignment", "cs_operations")

    world.h.run()  # the outbox is flushed: the notice is an .eml now
    [notice] = world.sent_to(CS_OPS[1], "An FMC account wants Learning")
    body = notice.get_body(("plain",))
    assert body is not None and "please assign a CSM" in str(body.get_content())
    fired = [e["rule"] for e in world.events(deal, "rule_fired")]
    assert fired.count("fmc-account-bought-learning") == 1
    # no net new account: the FMC department is not told of a "new hybrid account", and its welcome
    # email (the account has the service already) is not prepared
    assert "net-new-hybrid-account" not in fired
    assert not [e for e in world.h.show(deal)["emails"] if e["template"] == "service-welcome"]


def test_an_escalation_by_email_fires_the_rule_once_and_tells_both_departments(world: World) -> None:
    deal = hybrid_deal(world)
    world.h.run()
    sent_before = len(world.h.sent())
    # said in the subject and again in the body: one escalation
    world.write(CSM, deal, "escalate the client threatens to cancel", subject="Escalation: Acme Radio")

    fired = [e for e in world.events(deal, "rule_fired") if e["rule"] == "escalation"]
    assert len(fired) == 1 and "escalation by sam@example.com: Acme Radio" in fired[0]["reason"]
    [escalated] = world.events(deal, "escalated")
    assert escalated["reason"] == "by sam@example.com: Acme Radio"
    invite = world.channels(deal)["escalation"]["invite"]
    for person in (CSM_TL, FMC_TL, RSM):
        assert person[1] in invite
    notices = [m for m in world.h.sent()[sent_before:] if "Escalation on this account" in str(m["Subject"])]
    assert len(notices) == 1
    for person in (CSM_TL, FMC_TL, RSM):
        assert person[1] in str(notices[0]["To"])

    world.write(CSM_TL, deal, "escalate the client threatens to cancel")  # the body alone: its words
    again = [e for e in world.events(deal, "rule_fired") if e["rule"] == "escalation"]
    assert len(again) == 2 and "the client threatens to cancel" in again[1]["reason"]


def test_the_natural_words_say_which_way_the_account_became_hybrid(world: World) -> None:
    fmc = standard_deal(world)
    world.write(CSM, fmc, "Now hybrid, they bought the credentialing service.")
    assert (world.h.show(fmc)["pipeline"], world.h.stage(fmc)) == ("hybrid-onboarding", "onboarding")
    learning = standard_deal(world, "Acme TV")
    world.write(CSM, learning, "became hybrid: bought learning", subject="Acme TV")
    show = world.h.show(learning)
    assert (show["stage"], show["attributes"]["expansion_opportunity"]) == (
        "account-assignment",
        "learning/compliance",
    )


def test_a_deal_already_hybrid_runs_the_rule_without_a_switch(world: World) -> None:
    deal = hybrid_deal(world)
    world.write(CSM, deal, "hybrid learning-bought-service")
    show = world.h.show(deal)
    assert (show["pipeline"], show["stage"]) == ("hybrid-onboarding", "account-assignment")
    assert [v["stage"] for v in show["stage_history"]] == ["account-assignment"]
    assert "previous_pipeline" not in show["attributes"]
    [already] = world.events(deal, "hybrid_already")
    assert "on hybrid-onboarding already (stage account-assignment)" in already["reason"]
    assert [e["rule"] for e in world.events(deal, "rule_fired")].count("learning-account-bought-fmc") == 1


def test_what_cannot_be_done_is_said_and_changes_nothing(world: World) -> None:
    deal = standard_deal(world)
    world.write(CSM, deal, "hybrid credentialing-software")
    [failed] = world.events(deal, "command_failed")
    assert all(path in failed["reason"] for path in PATHS)
    assert world.h.show(deal)["pipeline"] == "standard-onboarding"

    # a client's words are never a command
    world.h.mail(
        CLIENT, [("Onboarding", world.h.reply_address(deal))], "Acme Radio", "hybrid learning-bought-service"
    )
    world.h.run()
    show = world.h.show(deal)
    assert (show["pipeline"], show["stage"]) == ("standard-onboarding", "set-up")
    assert not world.events(deal, "pipeline_changed") and len(world.events(deal, "command_failed")) == 1

    # standard-onboarding has no escalation rule: said, and nobody is told
    world.write(CSM, deal, "escalation: the client threatens to cancel")
    failed = world.events(deal, "command_failed")[-1]
    assert "standard-onboarding has no rule for an escalation" in failed["reason"]
    assert not world.events(deal, "escalated")
    assert not [e for e in world.events(deal, "rule_fired") if e["rule"] == "escalation"]
