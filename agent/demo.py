"""`python -m agent demo`: a whole onboarding, end to end, on the embedded defaults.

The story runs on agent.simulation (the real agent, a simulated clock) and
narrates what the agent did and why, from its own records. Without --pipeline it
is the standard onboarding told step by step; `--pipeline ID` walks any shipped
pipeline from hand-over to its end stage (agent.demo_walk), on the same narration.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

from agent.clock import ManualClock
from agent.config import Config
from agent.errors import InputError
from agent.simulation import ACCOUNT_MANAGER, CLIENT, CSM, Simulation
from agent.store.repo import Repo

MARKER = ".csm-agent-demo"
DAY = timedelta(days=1)


def monday(weeks_ago: int) -> datetime:
    """A Monday 09:00 UTC that many weeks (and a few days) ago: the story is over by today, so
    `deals show` on the real clock reads right."""
    today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    return today - timedelta(days=7 * weeks_ago + today.weekday())


def run_demo(config: Config) -> int:
    fresh(config.state_dir)
    start = monday(3)
    Story(Simulation(config, ManualClock(start)), start).run()
    return 0


def fresh(state: Path) -> None:
    """Start from an empty state folder, but never wipe one the demo did not make."""
    if state.exists() and any(state.iterdir()):
        if not (state / MARKER).exists():
            raise InputError(
                f"{state}: not empty and not a demo folder; give the demo its own --state folder"
            )
        shutil.rmtree(state)
    state.mkdir(parents=True, exist_ok=True)
    (state / MARKER).write_text("made by `python -m agent demo`; safe to delete\n")


class Story:
    """The standard onboarding, told step by step; its narration helpers serve agent.demo_walk too."""

    def __init__(self, sim: Simulation, start: datetime) -> None:
        self.sim = sim
        self.start = start
        self.config = sim.config
        self.step = 0
        self.sent_seen = 0

    def run(self) -> None:
        sim = self.sim
        print(f"csm-agent demo — state in {self.config.state_dir}/")
        print(f"(the clock is simulated and starts on {self.start:%a %d %b %Y} 09:00 UTC)")

        self.title("Sales hands over a won deal: Acme Radio")
        deal = sim.add_deal(
            "Acme Radio", products=["Scheduling", "Analytics"], contract_months=12, payment_type="annual"
        )
        print(f"   deal {deal} 'Acme Radio' created in standard-onboarding; now in stage {sim.stage(deal)}")
        sim.run()
        self.show_sent()

        self.title("The CSM writes to the client with the agent in BCC; the client's out-of-office answers")
        self.mail(
            CSM,
            [CLIENT],
            "Acme Radio: your rollout plan",
            "Hi Jane,\n\nHere is the rollout plan.\n\nSam",
            bcc=True,
        )
        self.mail(
            CLIENT,
            [CSM],
            "Automatic reply: Acme Radio: your rollout plan",
            "I am out of the office.",
            headers={"Auto-Submitted": "auto-replied"},
        )
        sim.run()
        for msg in sim.show(deal)["messages"]:
            verdict = "logged, never answered" if msg["kind"] != "normal" else "logged on the deal"
            print(
                f"   message '{msg['subject']}' ({msg['direction']}, {msg['kind']}): {verdict} — {msg['match_reason']}"
            )
        self.show_sent()

        self.title(
            "The introduction call is booked (an .ics in state/calendar/), held, and its recap reviewed"
        )
        intro = self.start + DAY + timedelta(hours=5)  # Tuesday 14:00
        self.meeting(
            "intro",
            "Acme Radio introduction call",
            intro,
            45,
            "Agreed: go-live on 15 January; Jane owns the data import; weekly check-ins on Tuesdays.",
        )
        sim.run()
        self.show_stage(deal)
        self.at(intro + timedelta(minutes=45 + 16))
        sim.run()
        self.show_sent()  # the recap's draft, for the CSM to review
        self.show_stage(deal)
        review = sim.sent()[-1]
        self.at(intro + timedelta(minutes=45 + 40))
        self.mail(
            CSM,
            [(self.config.agent.name, self.config.agent.address)],
            f"Re: {review['Subject']}",
            "send\n\nSam",
            headers={"In-Reply-To": review["Message-ID"], "References": review["Message-ID"]},
        )
        sim.run()
        self.show_sent()

        self.title(
            "Set-up: stations and users received, entities and training users created (`deals task-done`)"
        )
        self.at(self.start + 4 * DAY + timedelta(hours=7))
        for task in (
            "receive-set-up-info",
            "send-station-details",
            "create-entities",
            "create-training-users",
        ):
            sim.task_done(deal, task)
            print(f"   task {task} done")
        self.show_stage(deal)

        self.title(
            "The training is booked (its last session, the learner launch, ends Set-Up's tasks) and held"
        )
        launch = self.start + 8 * DAY + timedelta(hours=1)  # the next Tuesday 10:00
        self.meeting("launch", "Acme Radio learner launch", launch, 60, "All 40 learners are invited.")
        sim.run()
        self.show_stage(deal)
        self.at(launch + timedelta(minutes=60 + 16))
        sim.run()
        self.show_sent()
        self.show_stage(deal)

        self.title("One business day later the survey goes out; the client answers it")
        self.at(launch + DAY + timedelta(minutes=60 + 20))
        sim.run()
        self.show_sent()
        agent = (self.config.agent.name, sim.reply_address(deal))
        self.mail(
            CLIENT,
            [agent, CSM],  # "Reply" goes to the survey's Reply-To: the deal's address and the CSM
            "Re: One question about your onboarding",
            "5 - it went really well, thank you!\n\nOn Wed, Sam wrote:\n> How satisfied are you?",
        )
        sim.run()
        self.show_stage(deal)

        self.title(
            "Post Training - Sales is Sales' own (no tasks): the Account Manager moves the deal to Won"
        )
        self.show_sent()  # the agent told them the deal is theirs
        self.mail(
            ACCOUNT_MANAGER,
            [agent],
            "Re: Acme Radio: Post Training - Sales is yours",
            "advance to won\n\nAlex",
        )
        sim.run()
        self.show_stage(deal)

        self.title(f"Where the deal stands (`python -m agent deals show {deal}`)")
        self.summary(deal)
        print(f"\nThe emails are in {self.config.sent_path}/ — open any .eml with a mail client.")
        print(
            f"Look around: python -m agent --state {self.config.state_dir} deals show {deal}  (or outbox list, "
            "report, dashboard)"
        )

    # --- narrated actions ------------------------------------------------------------------
    def mail(
        self,
        sender: tuple[str, str],
        to: list[tuple[str, str]],
        subject: str,
        body: str,
        *,
        bcc: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        # A BCC copy shows the agent only in Delivered-To, as a real mail server writes it.
        extra = {**(headers or {}), **({"Delivered-To": self.config.agent.address} if bcc else {})}
        self.sim.mail(sender, to, subject, body, headers=extra)
        print(
            f"   mail in: {sender[1]} → {', '.join(e for _, e in to)}{' (agent in BCC)' if bcc else ''}: '{subject}'"
        )

    def meeting(self, name: str, title: str, start: datetime, minutes: int, description: str) -> None:
        path = self.sim.meeting(
            name,
            title,
            start,
            minutes,
            description=description,
            attendees=(CLIENT[1], self.config.agent.address),
        )
        print(f"   meeting booked: '{title}' {start:%a %d %b %H:%M} UTC ({minutes} min) → {path.name}")

    def at(self, when: datetime) -> None:
        self.sim.at(when)
        print(f"   … clock moves to {when:%a %d %b %Y %H:%M} UTC")

    # --- what the agent did --------------------------------------------------------------------
    def title(self, text: str) -> None:
        self.step += 1
        print(f"\n{self.step}. {text}")

    def show_sent(self) -> None:
        folder = self.config.sent_path
        names = {m["Message-ID"]: p.name for p in folder.glob("*.eml") for m in [self._headers(p)]}
        sent = self.sim.sent()
        for msg in sent[self.sent_seen :]:
            cc = f" cc {msg['Cc']}" if msg["Cc"] else ""
            print(f"   ✉ sent {names[msg['Message-ID']]}: '{msg['Subject']}' to {msg['To']}{cc}")
        self.sent_seen = len(sent)

    @staticmethod
    def _headers(path: Path) -> EmailMessage:
        return BytesParser(policy=default).parsebytes(path.read_bytes(), headersonly=True)

    def show_stage(self, deal_id: int) -> None:
        show = self.sim.show(deal_id)
        done = [t["id"] for t in show["tasks"] if t["status"] == "done"]
        extra = f"; CSAT {show['csat']}" if show["csat"] else ""
        print(f"   → deal is in stage '{show['stage']}'; tasks done: {', '.join(done) or 'none'}{extra}")

    def summary(self, deal_id: int) -> None:
        data = self.sim.show(deal_id)
        for h in data["stage_history"]:
            days = data["time_in_stage_seconds"].get(h["stage"], 0) / 86400
            print(f"   {h['stage']:<22} entered {h['entered_at'][:16]}  ({days:.1f} days in stage)")
        print(
            f"   total onboarding time: {data['total_onboarding_seconds'] / 86400:.1f} days (the clock stops at Won)"
        )
        for e in data["emails"]:
            print(f"   email {e['template']:<16} {e['status']:<9} rule {e['rule']}")
        print("   why the recap went out:")
        with self.sim.agent.sessions.begin() as s:
            for ev in Repo(s).events_for(deal_id):
                if ev.rule == "recap-after-intro" or (
                    ev.kind == "meeting_completed" and "introduction" in ev.reason
                ):
                    print(f"     {ev.kind}: {ev.rule + ' — ' if ev.rule else ''}{ev.reason}")
