"""A whole onboarding, end to end, on the embedded defaults, with a simulated clock.

Everything goes through the real parts: emails are dropped into the Maildir,
meetings into the .ics folder, and the agent's passes write real .eml files.
Only time is simulated, so that two weeks of onboarding take seconds.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from email.utils import format_datetime
from pathlib import Path

from agent import deals
from agent.clock import ManualClock
from agent.config import Config
from agent.errors import InputError
from agent.mailboxes.maildir import MaildirMailbox
from agent.service import Agent
from agent.store.repo import Repo

MARKER = ".csm-agent-demo"
DAY = timedelta(days=1)


def _start() -> datetime:
    """A Monday 09:00 UTC three to four weeks ago: the story is over by today, so `deals show` reads right."""
    today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    return today - timedelta(days=21 + today.weekday())
CSM = ("Sam Carter", "sam@example.com")
MANAGER = ("Olivia Grant", "olivia@example.com")
ACCOUNT_MANAGER = ("Alex Reed", "alex@example.com")
CLIENT = ("Jane Doe", "jane@acme-radio.example")


def run_demo(config: Config) -> int:
    state = config.state_dir
    _fresh(state)
    start = _start()
    clock = ManualClock(start)
    agent = Agent(config, clock=clock)
    demo = _Demo(agent, clock, config, start)
    demo.run()
    return 0


def _fresh(state: Path) -> None:
    """Start from an empty state folder, but never wipe one the demo did not make."""
    if state.exists() and any(state.iterdir()):
        if not (state / MARKER).exists():
            raise InputError(
                f"{state}: not empty and not a demo folder; give the demo its own --state folder"
            )
        shutil.rmtree(state)
    state.mkdir(parents=True, exist_ok=True)
    (state / MARKER).write_text("made by `python -m agent demo`; safe to delete\n")


class _Demo:
    def __init__(self, agent: Agent, clock: ManualClock, config: Config, start: datetime) -> None:
        self.start = start
        self.agent = agent
        self.clock = clock
        self.config = config
        self.maildir = MaildirMailbox(config.maildir_path)
        self.step = 0
        self.sent_seen: set[str] = set()

    def run(self) -> None:
        print(
            f"csm-agent demo — state in {self.config.state_dir}/ (simulated clock from {self.start:%a %d %b %Y %H:%M} UTC)"
        )
        self.title("Sales hands over a won deal: Acme Radio")
        deal_id = self.handover()
        self.agent.run_once()
        self.show_sent()

        self.title("The CSM writes to the client with the agent in BCC; the client's out-of-office answers")
        self.mail(
            CSM,
            [CLIENT],
            "Acme Radio: your rollout plan",
            "Hi Jane,\n\nAttached is the rollout plan.\n\nSam",
            bcc_agent=True,
        )
        self.mail(
            CLIENT,
            [CSM],
            "Automatic reply: Acme Radio: your rollout plan",
            "I am out of the office.",
            headers={"Auto-Submitted": "auto-replied"},
        )
        self.agent.run_once()
        self.show_messages(deal_id)
        self.show_sent()

        self.title("The introduction call is booked (an .ics in state/calendar/), then held")
        intro_start = self.start + DAY + timedelta(hours=5)  # Tuesday 14:00
        self.meeting(
            "intro",
            "Acme Radio introduction call",
            intro_start,
            45,
            "Agreed: go-live on 15 January; Jane owns the data import; weekly check-ins on Tuesdays.",
        )
        self.agent.run_once()
        self.show_stage(deal_id)
        self.at(intro_start + timedelta(minutes=45 + 16))
        self.agent.run_once()
        self.show_sent()
        self.show_stage(deal_id)

        self.title("Set-up is done (the CSM ticks the tasks: `deals task-done`)")
        for task in ("provision-account", "import-data"):
            self.task_done(deal_id, task)
        self.show_stage(deal_id)

        self.title("The final onboarding call (learner launch) is held")
        launch = self.start + 8 * DAY + timedelta(hours=1)  # the next Tuesday 10:00
        self.meeting("launch", "Acme Radio learner launch", launch, 60, "All 40 learners are invited.")
        self.agent.run_once()
        self.at(launch + timedelta(minutes=60 + 16))
        self.agent.run_once()
        self.show_sent()
        self.show_stage(deal_id)

        self.title("One business day later the survey goes out; the client answers it")
        self.at(launch + timedelta(days=1, hours=1, minutes=20))
        self.agent.run_once()
        self.show_sent()
        self.mail(
            CLIENT,
            [(self.config.agent.name, self.reply_address(deal_id))],
            "Re: One question about your onboarding",
            "5 - it went really well, thank you!\n\nOn Wed, Sam wrote:\n> How satisfied are you?",
        )
        self.agent.run_once()
        self.show_stage(deal_id)

        self.title("Sales hand-over done; leaving the stage needs the Onboarding Manager's approval")
        self.task_done(deal_id, "sales-handover")
        self.agent.run_once()
        self.show_sent()
        self.mail(
            MANAGER,
            [(self.config.agent.name, self.reply_address(deal_id))],
            "Re: Approve: Acme Radio",
            "Approve.\n\nOlivia",
        )
        self.agent.run_once()
        self.show_stage(deal_id)

        self.title("Where the deal stands (`python -m agent deals show 1`)")
        self.summary(deal_id)
        print(f"\nThe emails are in {self.config.sent_path}/ — open any .eml with a mail client.")
        print(
            f"Look around: python -m agent --state {self.config.state_dir} deals show 1   (or outbox list, deals list)"
        )

    # --- the actors ---------------------------------------------------------------------
    def handover(self) -> int:
        spec = deals.DealSpec(
            name="Acme Radio",
            pipeline="standard-onboarding",
            timezone="Europe/London",
            contacts=[deals.ContactSpec(CLIENT[0], CLIENT[1], "client_admin")],
            roles={"csm": CSM, "onboarding_manager": MANAGER, "account_manager": ACCOUNT_MANAGER},
            products=["Scheduling", "Analytics"],
            contract_months=12,
            payment_type="annual",
        )
        proc = self.agent.processor
        with self.agent.sessions.begin() as s:
            repo = Repo(s)
            cause = proc.begin(repo, "demo:handover", "cli", self.clock.now())
            assert cause is not None
            deal = deals.create_deal(repo, spec, now=self.clock.now(), default_tz="UTC")
            proc.deal_created(repo, deal, cause, self.clock.now(), None)
            print(f"   deal {deal.id} '{deal.name}' created in {deal.pipeline}; now in stage {deal.stage}")
            return deal.id

    def task_done(self, deal_id: int, task: str) -> None:
        with self.agent.sessions.begin() as s:
            repo = Repo(s)
            cause = self.agent.processor.begin(repo, f"demo:task:{task}", "cli", self.clock.now())
            deal = repo.deal(deal_id)
            assert cause is not None and deal is not None
            self.agent.processor.complete_task(repo, deal, task, cause, self.clock.now(), who=CSM[1])
            print(f"   task {task} done")

    def mail(
        self,
        sender: tuple[str, str],
        to: list[tuple[str, str]],
        subject: str,
        body: str,
        *,
        bcc_agent: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        msg = EmailMessage()
        msg["From"] = f"{sender[0]} <{sender[1]}>"
        msg["To"] = ", ".join(f"{n} <{e}>" for n, e in to)
        msg["Subject"] = subject
        msg["Date"] = format_datetime(self.clock.now())
        msg["Message-ID"] = (
            f"<demo-{self.clock.now().timestamp():.0f}-{len(subject)}@{sender[1].split('@')[1]}>"
        )
        if bcc_agent:
            msg["Delivered-To"] = self.config.agent.address
        for k, v in (headers or {}).items():
            msg[k] = v
        msg.set_content(body)
        unique = f"{self.clock.now().timestamp():.0f}.{subject.__hash__() & 0xFFFFFF}.demo"
        self.maildir.deliver(msg.as_bytes(), unique)
        print(
            f"   mail in: {sender[1]} → {', '.join(e for _, e in to)}{' (agent in BCC)' if bcc_agent else ''}: "
            f"'{subject}'"
        )

    def meeting(self, name: str, title: str, start: datetime, minutes: int, description: str) -> None:
        end = start + timedelta(minutes=minutes)
        fmt = "%Y%m%dT%H%M%SZ"
        ics = "\r\n".join(
            [
                "BEGIN:VCALENDAR",
                "VERSION:2.0",
                "PRODID:-//csm-agent demo//EN",
                "METHOD:REQUEST",
                "BEGIN:VEVENT",
                f"UID:demo-{name}@example.com",
                "SEQUENCE:0",
                f"DTSTAMP:{self.clock.now():{fmt}}",
                f"DTSTART:{start:{fmt}}",
                f"DTEND:{end:{fmt}}",
                f"SUMMARY:{title}",
                f"DESCRIPTION:{description}",
                f"ORGANIZER;CN={CSM[0]}:mailto:{CSM[1]}",
                f"ATTENDEE;CN={CLIENT[0]};ROLE=REQ-PARTICIPANT:mailto:{CLIENT[1]}",
                f"ATTENDEE;CN={self.config.agent.name}:mailto:{self.config.agent.address}",
                "END:VEVENT",
                "END:VCALENDAR",
                "",
            ]
        )
        path = self.config.ics_path / f"{name}.ics"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(ics, encoding="utf-8")
        print(f"   meeting booked: '{title}' {start:%a %d %b %H:%M} UTC ({minutes} min) → {path.name}")

    def at(self, when: datetime) -> None:
        self.clock.set(when)
        print(f"   … clock moves to {when:%a %d %b %Y %H:%M} UTC")

    def reply_address(self, deal_id: int) -> str:
        with self.agent.sessions.begin() as s:
            deal = Repo(s).deal(deal_id)
            assert deal is not None
            local, domain = self.config.agent.address.split("@")
            return f"{local}+{deal.token}@{domain}"

    # --- what the agent did -----------------------------------------------------------------
    def title(self, text: str) -> None:
        self.step += 1
        print(f"\n{self.step}. {text}")

    def show_sent(self) -> None:
        folder = self.config.sent_path
        for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
            if path.name in self.sent_seen:
                continue
            self.sent_seen.add(path.name)
            msg = BytesParser(policy=default).parsebytes(path.read_bytes())
            cc = f" cc {msg['Cc']}" if msg["Cc"] else ""
            print(f"   ✉ sent {path.name}: '{msg['Subject']}' to {msg['To']}{cc}")

    def show_messages(self, deal_id: int) -> None:
        with self.agent.sessions.begin() as s:
            for msg in Repo(s).messages_for(deal_id):
                verdict = "logged, never answered" if msg.status == "ignored" else "logged on the deal"
                print(
                    f"   message '{msg.subject}' ({msg.direction}, {msg.kind}): {verdict} — {msg.match_reason}"
                )

    def show_stage(self, deal_id: int) -> None:
        with self.agent.sessions.begin() as s:
            repo = Repo(s)
            deal = repo.deal(deal_id)
            assert deal is not None
            done = [t.key for t in repo.tasks(deal_id) if t.status == "done"]
            extra = f"; CSAT {deal.csat}" if deal.csat else ""
            print(f"   → deal is in stage '{deal.stage}'; tasks done: {', '.join(done) or 'none'}{extra}")

    def summary(self, deal_id: int) -> None:
        with self.agent.sessions.begin() as s:
            repo = Repo(s)
            deal = repo.deal(deal_id)
            assert deal is not None
            data = deals.summary(
                repo, deal, self.agent.runtime.rules.pipelines.get(deal.pipeline), self.clock.now()
            )
        for h in data["stage_history"]:
            days = data["time_in_stage_seconds"].get(h["stage"], 0) / 86400
            print(f"   {h['stage']:<22} entered {h['entered_at'][:16]}  ({days:.1f} days in stage)")
        print(
            f"   total onboarding time: {data['total_onboarding_seconds'] / 86400:.1f} days (the clock stops at Won)"
        )
        for e in data["emails"]:
            print(f"   email {e['template']:<16} {e['status']:<9} rule {e['rule']}")
        print("   why, for the recap:")
        for ev in data["events"]:
            if ev["kind"] in ("rule_fired", "stage_changed") and "intro" in (ev["rule"] + ev["reason"]):
                print(f"     {ev['kind']}: {ev['rule'] + ' — ' if ev['rule'] else ''}{ev['reason']}")
