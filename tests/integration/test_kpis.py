"""KPI cards defined in a pipeline file (`scorecard: {cards}`): computed by `report` and on the dashboard.

The world (tests/data/pipelines/station-onboarding.yaml), days counted from START (a Monday 09:00):
Alpha (EMEA) files its contract on day 2, goes to Set-Up, and is live on day 4; Bravo (EMEA) goes to
Set-Up on day 3 with its contract task open, and is live on day 10; Charlie (AMER) stays in Kick Off
until day 8, then in Set-Up; Delta (EMEA) and Echo are handed over on days 18 and 19. Alpha's client
rates onboarding 5, Bravo's 3, both on day 12. The report's period is days 7 to 21 (the two weeks
before are the trend's), so at its end Charlie, Delta and Echo are onboarding, and Charlie is at
risk (past Set-Up's 10 days, its tasks overdue).
"""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from agent.cli import main
from agent.clock import ManualClock
from agent.deals import ContactSpec
from agent.pipeline.loader import load_pipelines
from tests.conftest import Harness, write_config
from tests.integration.browser import in_process
from tests.integration.scenario import DAY, START
from tests.integration.station import PIPELINE, RULES, station_config, station_world

FIXTURE = RULES / "station-onboarding.yaml"
SINCE, UNTIL = (START + 7 * DAY).date(), (START + 21 * DAY).date()


def hand_over(sim: Harness, name: str, region: str = "") -> int:
    slug = name.split()[0].lower()
    return sim.add_deal(
        name,
        pipeline=PIPELINE,
        contacts=[ContactSpec(f"Pat {name}", f"pat@{slug}.example", "client_admin")],
        attributes={"region": region} if region else {},
    )


def rate(sim: Harness, deal: int, name: str, score: str) -> None:
    """The client answers the survey to the deal's reply address."""
    contact = (f"Pat {name}", f"pat@{name.split()[0].lower()}.example")
    sim.mail(
        contact, [("Onboarding", sim.reply_address(deal))], "Re: One question about your onboarding", score
    )
    sim.run()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Harness]:
    folder = tmp_path_factory.mktemp("kpis")
    sim = station_world(folder, ManualClock(START))
    alpha, bravo, charlie = (
        hand_over(sim, n, r)
        for n, r in (("Alpha FM", "EMEA"), ("Bravo Radio", "EMEA"), ("Charlie TV", "AMER"))
    )
    sim.run()

    def on(day: int) -> None:
        sim.at(START + day * DAY)

    on(2)
    sim.task_done(alpha, "upload-contract")
    sim.advance(alpha, "set-up")
    on(3)
    sim.advance(bravo, "set-up")
    on(4)
    sim.advance(alpha, "live")
    sim.run()  # the survey goes to Alpha's client
    on(8)
    sim.advance(charlie, "set-up")
    on(10)
    sim.advance(bravo, "live")
    sim.run()
    on(12)
    rate(sim, alpha, "Alpha FM", "5")
    rate(sim, bravo, "Bravo Radio", "3")
    on(18)
    hand_over(sim, "Delta Dairy", "EMEA")
    on(19)
    hand_over(sim, "Echo Energy")
    sim.run()
    on(21)
    return folder / "agent.toml", sim


def report(cfg: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(["--config", str(cfg), "report", "--since", f"{SINCE}", "--until", f"{UNTIL}", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_each_card_counts_its_segment_against_its_target(
    world: tuple[Path, Harness], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, _ = world
    cards = {k["name"]: k for k in json.loads(report(cfg, capsys, "--json"))["kpis"]}
    assert list(cards) == [
        "Accounts in onboarding",
        "Accounts at risk",
        "Went live",
        "Time to live",
        "Time in Set-Up",
        "Time in each stage",
        "CSAT",
        "EMEA accounts",
    ]
    onboarding = cards["Accounts in onboarding"]
    # Charlie, Delta, Echo now; Bravo and Charlie at the end of the period before
    assert (onboarding["value"], onboarding["previous"], onboarding["change"]) == (3, 2, 1)
    assert onboarding["display"] == "3 (+1)" and onboarding["met"] is True
    at_risk = cards["Accounts at risk"]  # Charlie alone of the three: a bare 25 is "at most" for at_risk
    assert (at_risk["value"], at_risk["display"], at_risk["target"]["op"], at_risk["met"]) == (
        33.3,
        "33%",
        "<=",
        False,
    )
    live = cards["Went live"]  # Bravo in the period; Alpha went live before it
    assert (live["value"], live["target"]["op"], live["met"]) == (1, ">=", False)
    to_live = cards["Time to live"]  # Alpha 4 days, Bravo 10: the median is a value that occurred
    assert (to_live["value"], to_live["display"], to_live["met"]) == (4.0, "4.0 d", True)
    assert cards["Time in Set-Up"]["value"] == pytest.approx(12.6)  # p90 of 2, 7 and Charlie's 12.6 days
    each = {b["stage"]: b for b in cards["Time in each stage"]["breakdown"]}
    assert list(each) == ["kick-off", "set-up"]  # not the end stage; Delta and Echo 2.6 and 1.6 days in
    assert each["kick-off"]["value"] == 2.6 and each["kick-off"]["target"]["text"] == "≤ 5"
    assert each["set-up"]["value"] == 7.0 and each["set-up"]["met"] is True
    csat = cards["CSAT"]  # one of two answers is a 4 or 5 on the 1-5 survey
    assert (csat["value"], csat["display"], csat["met"]) == (50.0, "50%", False)
    assert cards["EMEA accounts"]["value"] == 3 and cards["EMEA accounts"]["segment"] == "region = EMEA"


def test_the_table_and_the_csv_show_the_cards(
    world: tuple[Path, Harness], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, _ = world
    table = report(cfg, capsys)
    assert "Key results (the pipelines' KPI cards):" in table
    line = next(x for x in table.splitlines() if x.strip().startswith("Accounts at risk"))
    assert "33%" in line and "target ≤ 25%: NOT MET" in line and "onboarding (station-onboarding)" in line
    assert "Onboarding scorecard" in table  # the rows per pipeline and CSM follow
    rows = list(csv.DictReader(io.StringIO(report(cfg, capsys, "--kpis", "--csv"))))
    by = {(r["name"], r["stage"]): r for r in rows}
    assert (
        by[("Accounts in onboarding", "")]["change"] == "1.0"
        and by[("Accounts in onboarding", "")]["met"] == "yes"
    )
    assert (
        by[("Time in each stage", "set-up")]["value"] == "7.0"
        and by[("Time in each stage", "set-up")]["target"] == "<= 10"
    )
    assert by[("CSAT", "")]["unit"] == "%" and by[("CSAT", "")]["met"] == "no"
    kpis_only = report(cfg, capsys, "--kpis")
    assert kpis_only.startswith(f"Key results, {SINCE}") and "Onboarding scorecard" not in kpis_only


def test_the_filters_narrow_the_cards(
    world: tuple[Path, Harness], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, _ = world
    none = json.loads(report(cfg, capsys, "--json", "--kpis", "--csm", "nobody@example.com"))
    assert {k["name"]: k["value"] for k in none}["Accounts in onboarding"] == 0
    assert json.loads(report(cfg, capsys, "--json", "--kpis", "--pipeline", "other")) == []


def test_the_dashboard_shows_the_cards_met_and_missed(world: tuple[Path, Harness]) -> None:
    _, sim = world
    server = in_process(sim)
    try:
        base = f"{server.url.rstrip('/')}"
        page = urllib.request.urlopen(base + "/scorecard", timeout=10).read().decode()
    finally:
        server.shutdown()
    cards = {
        name: (classes.split(), inner)
        for classes, name, inner in re.findall(
            r'<div class="([^"]*)" data-kpi="([^"]*)">(.*?)</div>', page, re.S
        )
    }
    classes, inner = cards["Accounts at risk"]
    assert "missed" in classes and "<b>33%</b>" in inner and "target ≤ 25%" in inner and "off target" in inner
    classes, inner = cards["Went live"]  # Alpha and Bravo, in the dashboard's 90 days
    assert "met" in classes and "<b>2</b>" in inner
    classes, inner = cards["Time in each stage"]
    assert "met" in classes and 'data-stage="set-up"' in inner and "7.0 d" in inner


def test_a_broken_card_is_named_by_file_key_and_expected_and_the_others_load(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    broken = (
        FIXTURE.read_text()
        .replace("      metric: went_live\n", "      metric: went-live\n")
        .replace("      stage: set-up\n      stat: p90\n", "      stage: setup\n      stat: p90\n")
    )
    broken = broken.replace('      target: ">= 80"\n', '      target: "about 80"\n')
    broken = broken.replace("  - payment_type\n", "  - payment_typ\n")
    (folder / "station.yaml").write_text(broken)
    loaded = load_pipelines(folder, None)
    issues = [str(i) for i in loaded.issues]
    assert any(
        "scorecard card 'Went live': metric = 'went-live': Input should be 'accounts'" in i for i in issues
    )
    assert any(
        "scorecard card 'Time in Set-Up': unknown stage 'setup'; expected one of ['kick-off', 'set-up', 'live']"
        in i
        for i in issues
    )
    assert any(
        "scorecard card 'CSAT': target = 'about 80': expected a number, or '<= N' / '>= N'" in i
        for i in issues
    )
    assert any(
        "requires: unknown attribute 'payment_typ'" in i and "{attribute: payment_typ" in i for i in issues
    )
    assert all(i.startswith(f"{folder / 'station.yaml'}:") for i in issues)
    line = next(i for i in loaded.issues if "went-live" in i.message).line
    assert line is not None and broken.splitlines()[line - 1].strip() == "metric: went-live"
    pipeline = loaded.pipelines[PIPELINE]  # the pipeline runs; the broken cards are left out
    assert [c.name for c in pipeline.cards] == [
        "Accounts in onboarding", "Accounts at risk", "Time to live", "Time in each stage", "EMEA accounts",
    ]  # fmt: skip
    assert "payment_type" not in [r.name for r in pipeline.required]


def test_check_refuses_a_card_that_cannot_be(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = station_config(tmp_path)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "station.yaml").write_text(
        FIXTURE.read_text().replace("      stat: p90\n", "      format: percent\n")
    )
    cfg.write_text(cfg.read_text().replace(str(RULES), str(rules)))
    assert main(["--config", str(cfg), "check"]) == 2
    err = capsys.readouterr().err
    assert "scorecard card 'Time in Set-Up': format percent is a share" in err and "station.yaml:" in err


def test_the_previous_period_of_a_trend_is_as_long_as_the_period(
    world: tuple[Path, Harness], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, _ = world
    card = json.loads(report(cfg, capsys, "--json", "--kpis"))
    # the fortnight before day 7 ended with Bravo (Set-Up) and Charlie (Kick Off) onboarding
    assert card[0]["previous"] == 2
    longer = main(
        [
            "--config",
            str(cfg),
            "report",
            "--json",
            "--kpis",
            "--since",
            f"{(START - timedelta(days=1)).date()}",
            "--until",
            f"{UNTIL}",
        ]
    )
    assert longer == 0
    assert json.loads(capsys.readouterr().out)[0]["previous"] == 0  # before the first hand-over


def test_the_successblocs_cards_show_once_the_team_runs_a_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path)
    assert json.loads(kpis_of(cfg, capsys)) == []  # no project deal: no card saying "-"
    code = main(
        [
            "--config",
            str(cfg),
            "deals",
            "add",
            "--name",
            "Initech",
            "--pipeline",
            "project-onboarding",
            "--contact",
            "Peter,peter@initech.example,client_project_lead",
            "--csm",
            "sam@example.com",
        ]
    )
    assert code == 0, capsys.readouterr().err
    names = [k["name"] for k in json.loads(kpis_of(cfg, capsys))]
    assert names == [
        "Accounts in onboarding",
        "Time in onboarding",
        "Time to live",
        "Time in each stage",
        "Potential risks",
        "CSAT",
    ]


def kpis_of(cfg: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    code = main(["--config", str(cfg), "report", "--json", "--kpis"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out
