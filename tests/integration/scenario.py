"""A full onboarding of three deals, as steps: what the world does, then what the agent does.

The world's part (mail arriving in the Maildir, meetings booked in the .ics folder) is
written by the test; the agent's part (hand-overs, ticked tasks, a pass) runs in a child
process (tests/integration/scenario_step.py) that the SIGKILL test kills at random points.
Everything the agent does here is keyed, so a step run again after a kill repeats nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from agent import deals
from agent.config import Config
from agent.mailboxes.maildir import MaildirMailbox
from agent.simulation import ACCOUNT_MANAGER, CSM, MANAGER, Simulation, ics_event
from agent.store.db import open_store
from agent.store.repo import Repo


def _monday(weeks_ago: int) -> datetime:
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday() + 7 * weeks_ago)
    return datetime.combine(monday, datetime.min.time(), tzinfo=UTC).replace(hour=9)


# A Monday eight weeks ago: the whole story is in the past, so the command line (on the real
# clock) sees it as a person would, weeks later.
START = _monday(8)
DAY = timedelta(days=1)
DEALS = [(f"Client {n}", (f"Jane {n}", f"jane@client{n}.example")) for n in (1, 2, 3)]
SET_UP_TASKS = (  # seeds/001's Set-Up, ticked by the CSM (the training is booked later, with the launch)
    "receive-set-up-info",
    "send-station-details",
    "create-entities",
    "create-training-users",
    "schedule-training",
)


@dataclass
class Step:
    at: datetime
    world: Callable[[Config, int], None] = lambda config, index: None
    agent: list[tuple[str, ...]] = field(default_factory=list)  # then a pass (run_once)


# --- the world's part -----------------------------------------------------------------------------
def deliver(
    config: Config, index: int, n: int, sender: tuple[str, str], subject: str, body: str, **hdr: str
) -> None:
    msg = EmailMessage()
    msg["From"] = f"{sender[0]} <{sender[1]}>"
    msg["To"] = hdr.pop("to", f"Onboarding <{config.agent.address}>")
    msg["Subject"] = subject
    msg["Date"] = format_datetime(STEPS[index].at)
    msg["Message-ID"] = f"<scenario-{index}-{n}@{sender[1].split('@')[1]}>"
    for k, v in hdr.items():
        msg[k.replace("_", "-")] = v
    msg.set_content(body)
    MaildirMailbox(config.maildir_path).deliver(msg.as_bytes(), f"scenario-{index}-{n}", at=STEPS[index].at)


def book(config: Config, index: int, kind: str, title: str, start: datetime, minutes: int) -> None:
    config.ics_path.mkdir(parents=True, exist_ok=True)
    for n, (name, client) in enumerate(DEALS):
        text = ics_event(
            f"{kind}-{n}@example.com",
            f"{name} {title}",
            start + timedelta(hours=n),
            minutes,
            stamp=STEPS[index].at,
            attendees=(client[1], config.agent.address),
        )
        (config.ics_path / f"{kind}-{n}.ics").write_text(text, encoding="utf-8")


def reply_address(config: Config, deal_name: str) -> str:
    """The deal's plus-address, as a person replying to the agent's email has it."""
    with open_store(config.store_url).begin() as s:
        deal = Repo(s).deal_by_name(deal_name)
        assert deal is not None
        token = deal.token
    local, domain = config.agent.address.split("@")
    return f"{local}+{token}@{domain}"


def replies_and_intro_calls(config: Config, index: int) -> None:
    for n, (name, client) in enumerate(DEALS):
        deliver(config, index, 10 * n, client, "Re: Welcome to your onboarding", "Thanks, looking forward.")
        deliver(
            config, index, 10 * n + 1, CSM, f"{name}: your rollout plan", "Hi,\n\nThe plan.\n",
            to=f"{client[0]} <{client[1]}>", Delivered_To=config.agent.address,
        )  # fmt: skip
        deliver(
            config, index, 10 * n + 2, client, "Automatic reply: your rollout plan", "Out of office.",
            Auto_Submitted="auto-replied",
        )  # fmt: skip
    deliver(config, index, 99, ("Someone", "who@elsewhere.example"), "A question", "Which deal am I?")
    book(config, index, "intro", "introduction call", START + DAY + timedelta(hours=5), 45)


def launch_calls(config: Config, index: int) -> None:
    book(config, index, "launch", "learner launch", START + 8 * DAY + timedelta(hours=1), 60)


def csat_answers(config: Config, index: int) -> None:
    for n, (name, client) in enumerate(DEALS):
        deliver(
            config, index, n, client, "Re: One question about your onboarding", f"{5 - n} - thank you!",
            to=reply_address(config, name),
        )  # fmt: skip


def sales_moves_to_won(config: Config, index: int) -> None:
    """Post Training - Sales has no tasks (seeds/001 gives it none): Sales moves the deal on, by email."""
    for n, (name, _) in enumerate(DEALS):
        deliver(
            config,
            index,
            n,
            ACCOUNT_MANAGER,
            f"Re: {name}: Post Training - Sales is yours",
            "advance to won\n\nAlex",
            to=reply_address(config, name),
        )


STEPS = [
    Step(START, agent=[("add", name) for name, _ in DEALS]),
    Step(START + timedelta(hours=2), replies_and_intro_calls),
    Step(START + DAY + timedelta(hours=9)),  # every intro call is over: recaps
    Step(
        START + 2 * DAY + timedelta(hours=1),
        launch_calls,
        [("task", name, t) for name, _ in DEALS for t in SET_UP_TASKS],
    ),
    Step(START + 8 * DAY + timedelta(hours=6)),  # the launches are over: completion emails
    Step(START + 9 * DAY + timedelta(hours=6)),  # the surveys go out
    Step(START + 9 * DAY + timedelta(hours=7), csat_answers),
    Step(START + 9 * DAY + timedelta(hours=9), sales_moves_to_won),
]


# --- the agent's part (in the child process) ----------------------------------------------------
def act(sim: Simulation, action: tuple[str, ...]) -> None:
    agent = sim.agent
    if action[0] == "add":
        name = action[1]
        client = dict(DEALS)[name]
        spec = deals.DealSpec(
            name=name,
            pipeline="standard-onboarding",
            contacts=[deals.ContactSpec(client[0], client[1], "client_admin")],
            roles={"csm": CSM, "onboarding_manager": MANAGER, "account_manager": ACCOUNT_MANAGER},
            timezone="Europe/London",
            client_domains=[client[1].split("@")[1]],
        )

        def add(repo: Repo, cause: Any) -> None:
            agent.runtime.handlers.handover(repo, spec, cause, sim.clock.now())

        agent.work(f"scenario:add:{name}", "cli", None, add)
    elif action[0] == "task":
        _, name, task = action

        def done(repo: Repo, cause: Any) -> None:
            deal = repo.deal_by_name(name)
            assert deal is not None
            agent.runtime.handlers.runner.complete_task(
                repo, deal, task, cause, sim.clock.now(), who="scenario"
            )

        agent.work(f"scenario:task:{name}:{task}", "cli", None, done)
    else:
        raise ValueError(action)


# --- what is compared -----------------------------------------------------------------------------
def end_state(config: Config) -> dict[str, Any]:
    """Everything the agent recorded and sent, with what is random per run (tokens, Message-IDs) named alike.

    Also "resent": emails sent again because a kill came between handing them over and
    recording it (the one window docs/outbox.md names); the .eml transport makes those harmless.
    """
    from sqlalchemy import func, select

    from agent.store import models as m

    with open_store(config.store_url).begin() as s:
        repo = Repo(s)
        emails = list(repo.outbox_all())
        renames = {e.message_id: f"<sent-{e.id}>" for e in emails}
        state: dict[str, Any] = {"counts": repo.counts()}
        state["deals"] = []
        for deal in sorted(repo.deals(), key=lambda d: d.name):
            renames[deal.token] = renames[deal.token.lower()] = f"TOKEN-{deal.id}"  # addresses are lowercased
            show = deals.summary(repo, deal, None, STEPS[-1].at)
            show["events"] = [e for e in show["events"] if e["kind"] != "email_resent"]
            state["deals"].append(show)
        state["outbox"] = [
            (e.id, e.deal_id, e.template, e.to, e.cc, e.status, e.subject, e.body_text, e.in_reply_to)
            for e in emails
        ]
        resent = s.scalar(
            select(func.count()).select_from(m.AuditEntry).where(m.AuditEntry.kind == "email_resent")
        )
    state["files"] = [sent_file(p) for p in sorted(config.sent_path.glob("*.eml"))]
    text = json.dumps(state, sort_keys=True, default=str)
    for old, new in renames.items():
        text = text.replace(old, new)
    return {**json.loads(text), "resent": resent}


def sent_file(path: Path) -> tuple[str, ...]:
    msg = BytesParser(policy=default).parsebytes(path.read_bytes())
    body = msg.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    return (path.name, str(msg["Message-ID"]), str(msg["Subject"]), str(msg["To"]), str(msg["Cc"]), text)


def step_config(folder: Path) -> Path:
    from tests.conftest import write_config

    return write_config(folder, "[calendar]\ncompletion_grace_minutes = 15\n")


__all__ = ["STEPS", "Step", "act", "end_state", "play", "step_config"]


def play(sim: Simulation) -> None:
    """The whole scenario in this process, undisturbed: three deals from hand-over to won."""
    for index, step in enumerate(STEPS):
        step.world(sim.config, index)
        sim.at(step.at)
        for action in step.agent:
            act(sim, action)
        sim.run()
