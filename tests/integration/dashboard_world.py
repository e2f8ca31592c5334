"""What the dashboard's browser tests add to the seeded world (tests/integration/browser.py) before
the daemon starts: mail that waits for a person with the matcher's candidate, a second pipeline's deal."""

from __future__ import annotations

from pathlib import Path

from agent.cli import main
from agent.config import load_config
from agent.simulation import CSM
from tests.conftest import Harness, RealTime, client_email

JANE_2 = ("Jane 2", "jane@client2.example")


def mail_for_a_closed_deal(cfg: Path) -> None:
    """Jane 2 writes after Client 2 went live: only a closed deal fits her, so the message waits with
    Client 2 as the matcher's candidate ("Likely" in the picker)."""
    sim = Harness(load_config(cfg), RealTime())
    try:
        sim.deliver(client_email("New invoice address", "Please send invoices to our new office.", JANE_2))
        sim.run()
    finally:
        sim.agent.close()


def a_project_deal(cfg: Path) -> None:
    """Kilo Kites handed over today on the project pipeline, whose KPI cards include trends."""
    code = main(
        ["--config", str(cfg), "deals", "add", "--name", "Kilo Kites", "--pipeline", "project-onboarding"]
        + ["--contact", "Kim Lee,kim@kilo-kites.example,client_project_lead", "--csm", CSM[1]]
    )
    assert code == 0
