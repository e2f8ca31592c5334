"""A real agent on a pipeline of the test's own, for the tests of tasks over time (due dates,
reminders, escalations, client tasks, Informed digests and client plans), with a manual clock."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from agent.clock import ManualClock
from agent.config import load_config
from agent.store import models as m
from tests.conftest import ROOT, Harness

ROLES = """
roles:
  csm: {side: ours, title: Customer Success Manager}
  onboarding_manager: {side: ours, title: Onboarding Manager}
  account_manager: {side: ours, title: Account Manager}
  client_admin: {side: client, title: Client administrator}
  client_sponsor: {side: client, title: Executive sponsor}
"""


def world(tmp_path: Path, pipeline: str, start: datetime, agent: str = "", review: str = "") -> Harness:
    """An agent whose only pipeline is `timing` (its stages, rules and settings: `pipeline`), at `start`.

    Our people are in London, with England's public holidays unless `agent` says otherwise; no
    template is reviewed unless `review` names it.
    """
    rules = tmp_path / "rules"
    rules.mkdir(parents=True, exist_ok=True)
    (rules / "timing.yaml").write_text(
        f"pipeline: timing\nname: Timing\n{ROLES}\n{pipeline}", encoding="utf-8"
    )
    config = tmp_path / "agent.toml"
    config.write_text(
        f"""
[agent]
address = "onboarding@example.com"
internal_domains = ["example.com"]
timezone = "Europe/London"
country = "GB"
{agent}

[review]
templates = [{f'"{review}"' if review else ""}]

[paths]
state = "{tmp_path / "state"}"
rules = "{rules}"
templates = "{ROOT / "templates" / "emails"}"
""",
        encoding="utf-8",
    )
    return Harness(load_config(config), ManualClock(start))


def to(h: Harness, person: str, subject: str = "") -> list[EmailMessage]:
    """The emails sent to `person` (To), whose subject holds `subject`, in the order they went."""
    return [
        msg
        for msg in h.sent()
        if person in [a.addr_spec for a in msg["To"].addresses] and subject in str(msg["Subject"])
    ]


def text(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def task(h: Harness, deal_id: int, key: str) -> dict[str, object]:
    return next(t for t in h.show(deal_id)["tasks"] if t["id"] == key)


def events(h: Harness, deal_id: int, kind: str) -> list[str]:
    return [str(e["reason"]) for e in h.show(deal_id)["events"] if e["kind"] == kind]


def opt_out(h: Harness, email: str, when: datetime) -> None:
    """The contact asked to get no more email (as the opt-out step records it)."""
    with h.agent.sessions.begin() as s:
        flag = s.scalars(select(m.AddressFlag).where(m.AddressFlag.email == email)).first()
        if flag is None:
            s.add(m.AddressFlag(email=email, opted_out_at=when, reason="please stop emailing me"))
        else:
            flag.opted_out_at = when
