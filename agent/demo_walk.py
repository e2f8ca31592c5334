"""`python -m agent demo --pipeline ID`: any shipped pipeline walked from hand-over to its end stage.

Nothing here knows a pipeline: the walk reads the pipeline's own file and does what its people
would, through the agent's public ways in (mail to its mailbox, meetings in its calendar folder),
round by round until the deal reaches an end stage:

1. the calls of the deal's stage are booked and held (titled after their meeting type);
2. each email the agent sent to a person is answered as they would: a client's task "Done.", an
   approval "Approve.", a consultation with an answer, a survey with a score, a draft to review
   "send";
3. our people tick the stage's tasks still open that are theirs ("done TASK" to the agent);
4. a business day passes (the survey goes a business day later);
5. a stage where none of that moved anything (no task and no rule to leave it) is left by a
   person of ours: "advance to NEXT".
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from agent.clock import ManualClock
from agent.config import Config
from agent.deals import ContactSpec
from agent.demo import Story, fresh, monday
from agent.errors import InputError
from agent.pipeline.definition import Pipeline
from agent.simulation import ACCOUNT_MANAGER, CLIENT, CSM, MANAGER, Simulation

MAX_ROUNDS = 40  # a pipeline that needs more is stuck: the walk says where, instead of looping
OURS = {"csm": CSM, "onboarding_manager": MANAGER, "account_manager": ACCOUNT_MANAGER}
MORE_OURS = [
    ("Riley Park", "riley@example.com"),
    ("Morgan Lee", "morgan@example.com"),
    ("Casey Quinn", "casey@example.com"),
    ("Drew Hart", "drew@example.com"),
    ("Jordan Ames", "jordan@example.com"),
]
CLIENTS = [
    CLIENT,
    ("Bob Stone", "bob@acme-radio.example"),
    ("Priya Shah", "priya@acme-radio.example"),
    ("Ian Tech", "ian@acme-radio.example"),
    ("Mia Lopez", "mia@acme-radio.example"),
]
# what each of the agent's emails asks of the person it reaches, and their answer
ANSWERS = {
    "client-task": "Done.",
    "task-reminder": "Done.",
    "task-approval": "Approve.",
    "approval-request": "Approve.",
    "review-request": "send",
    "opt-out-confirm": "send",
    "consult": "Our input: the spring intake, about 40 users, should be ready by the end of the month.",
    "survey": "5 - it went really well, thank you!",
}


def run_walk(config: Config, pipeline_id: str) -> int:
    pipelines = _pipelines(config)
    if pipeline_id not in pipelines:
        raise InputError(f"--pipeline {pipeline_id!r}: no such pipeline; expected one of {sorted(pipelines)}")
    fresh(config.state_dir)
    start = monday(10)  # long enough ago for the longest walk to be over by today
    Walk(Simulation(config, ManualClock(start)), start, pipelines[pipeline_id]).run()
    return 0


def _pipelines(config: Config) -> dict[str, Pipeline]:
    from agent.pipeline.loader import load_pipelines

    return load_pipelines(config.rules_dir).pipelines


class Walk(Story):
    def __init__(self, sim: Simulation, start: datetime, pipeline: Pipeline) -> None:
        super().__init__(sim, start)
        self.pipeline = pipeline
        self.answered: set[str] = set()
        self.booked: set[str] = set()
        self.people: dict[str, tuple[str, str]] = {}

    def run(self) -> None:
        p, sim = self.pipeline, self.sim
        print(f"csm-agent demo of {p.id} ({p.head.name}) — state in {self.config.state_dir}/")
        print(f"(the clock is simulated and starts on {self.start:%a %d %b %Y} 09:00 UTC)")
        self.title(f"Sales hands over a won deal, Acme Radio, into {p.id}")
        deal = self.hand_over()
        sim.run()
        self.show_sent()
        self.show_stage(deal)
        for _ in range(MAX_ROUNDS):
            stage = sim.stage(deal)
            if stage in p.final_stages:
                break
            self.title(f"In {p.stage(stage).name}")
            before = self.state(deal)
            self.hold_calls(deal, stage)
            self.answer(deal)
            self.tick(deal, stage)
            self.next_day()
            self.answer(deal)  # what the day brought (a survey), answered the same day
            if self.state(deal) == before:
                self.move_on(deal, stage)
            self.show_stage(deal)
        else:
            print(
                f"\nThe deal did not reach an end stage in {MAX_ROUNDS} rounds: it waits in {sim.stage(deal)}."
            )
        self.title(f"Where the deal stands (`python -m agent deals show {deal}`)")
        self.report(deal)

    # --- the world's part --------------------------------------------------------------------
    def hand_over(self) -> int:
        ours, clients = iter(MORE_OURS), iter(CLIENTS[1:])
        roles = {r: OURS.get(r) or next(ours) for r in self.pipeline.internal_roles()}
        client_roles = self.pipeline.client_roles()
        first = "client_admin" if "client_admin" in client_roles else next(iter(client_roles), "")
        contacts = [ContactSpec(*(CLIENT if role == first else next(clients)), role) for role in client_roles]
        if not contacts:
            contacts.append(ContactSpec(CLIENT[0], CLIENT[1], "contact"))
        self.people = {**roles, **{c.role: (c.name, c.email) for c in contacts}}
        deal = self.sim.add_deal(
            "Acme Radio",
            pipeline=self.pipeline.id,
            roles=roles,
            contacts=contacts,
            products=["Scheduling", "Analytics"],
            contract_start=self.start.date(),
        )
        for role, (name, email) in self.people.items():
            print(f"   {self.pipeline.head.roles[role].title or role:<32} {name} <{email}>")
        return deal

    def hold_calls(self, deal: int, stage: str) -> None:
        """Book and hold each call of the stage not booked yet, on the next business day at 10:00."""
        for kind in self.pipeline.stage(stage).meetings:
            if kind in self.booked:
                continue
            self.booked.add(kind)
            title = self._title(stage, kind)
            when = self._next_business_day(self.sim.clock.now()).replace(hour=10, minute=0)
            attendees = tuple(e for r, (_, e) in self.people.items() if self.pipeline.side_of(r) == "client")
            self.sim.meeting(kind, title, when, 45, attendees=(*attendees, self.config.agent.address))
            print(f"   meeting booked: '{title}' {when:%a %d %b %H:%M} UTC")
            self.sim.run()
            self.at(when + timedelta(minutes=45 + 20))
            self.sim.run()
            print(f"   meeting held: '{title}'")
            self.show_sent()

    def answer(self, deal: int) -> None:
        """Each person answers what the agent's emails asked of them, in the email's thread."""
        templates = {e["message_id"]: e["template"] for e in self.sim.show(deal)["emails"]}
        for msg in self.sim.sent():
            mid = str(msg["Message-ID"])
            words = ANSWERS.get(templates.get(mid, ""))
            if words is None or mid in self.answered:
                continue
            self.answered.add(mid)
            to = msg["To"].addresses[0]
            sender = (to.display_name or to.addr_spec, to.addr_spec)
            reply_to = (
                msg["Reply-To"].addresses[0].addr_spec if msg["Reply-To"] else self.config.agent.address
            )
            self.mail(
                sender,
                [(self.config.agent.name, reply_to)],
                f"Re: {msg['Subject']}",
                f"{words}\n\n{sender[0].split()[0]}",
                headers={"In-Reply-To": mid, "References": mid},
            )
            self.sim.run()
            self.show_sent()

    def tick(self, deal: int, stage: str) -> None:
        """Our people mark done the open tasks of the stage that are theirs, by email to the agent."""
        for task in self.sim.show(deal)["tasks"]:
            if task["stage"] != stage or task["status"] != "open":
                continue
            if self.pipeline.side_of(task["R"]) != "ours" or task["R"] not in self.people:
                continue
            who = self.people[task["R"]]
            self.mail(who, [self._agent(deal)], f"Acme Radio: {task['id']} is done", f"done {task['id']}")
            self.sim.run()
            self.show_sent()

    def move_on(self, deal: int, stage: str) -> None:
        target = self.pipeline.next_stage(stage)
        if target is None:
            return
        who = next((self.people[r] for r in ("account_manager", "csm") if r in self.people), CSM)
        print(f"   nothing moves {stage} on by itself: a person of ours does")
        self.mail(who, [self._agent(deal)], f"Acme Radio: on to {target}", f"advance to {target}")
        self.sim.run()
        self.show_sent()

    def next_day(self) -> None:
        self.at(self._next_business_day(self.sim.clock.now()).replace(hour=11, minute=0))
        self.sim.run()
        self.show_sent()

    # --- what the agent did --------------------------------------------------------------------
    def state(self, deal: int) -> tuple[Any, ...]:
        show = self.sim.show(deal)
        return show["stage"], tuple(t["status"] for t in show["tasks"]), len(self.sim.sent())

    def report(self, deal: int) -> None:
        data = self.sim.show(deal)
        for h in data["stage_history"]:
            days = data["time_in_stage_seconds"].get(h["stage"], 0) / 86400
            print(f"   {h['stage']:<22} entered {h['entered_at'][:16]}  ({days:.1f} days in stage)")
        print(f"   total onboarding time: {data['total_onboarding_seconds'] / 86400:.1f} days")
        print("   tasks (R, A, C, I; done by):")
        for t in data["tasks"]:
            raci = f"R {t['R']}, A {t['A']}, C {', '.join(t['C']) or '-'}, I {', '.join(t['I']) or '-'}"
            print(f"     [{t['status']}] {t['id']:<24} {raci}; {t['done_by'] or '-'}")
        print("   emails:")
        for e in data["emails"]:
            print(f"     {e['template']:<16} {e['status']:<9} to {', '.join(e['to'])}")
        print(f"\nThe emails are in {self.config.sent_path}/ — open any .eml with a mail client.")

    # --- helpers -------------------------------------------------------------------------------
    def _agent(self, deal: int) -> tuple[str, str]:
        return (self.config.agent.name, self.sim.reply_address(deal))

    def _title(self, stage: str, kind: str) -> str:
        """ "Acme Radio <type>", or the first title pattern made plain when the type's name does not match."""
        title = f"Acme Radio {kind.replace('-', ' ')}"
        if self.pipeline.meeting_type(stage, title) == kind:
            return title
        pattern = self.pipeline.stage(stage).meetings[kind].title[0]
        plain = re.sub(r"\\b|[?()|\[\]^$]", "", pattern).replace("\\", "")
        return f"Acme Radio {plain}"

    @staticmethod
    def _next_business_day(now: datetime) -> datetime:
        day = now + timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return day
