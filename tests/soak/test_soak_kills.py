"""Soak: a whole onboarding with a backlog of client mail while the real daemon is SIGKILLed 50+ times.

    .venv/bin/python -m pytest -m soak tests/soak -x -s                 # a new seed, printed
    CSM_SOAK_SEED=123 .venv/bin/python -m pytest -m soak tests/soak -x -s   # replays seed 123
    (CSM_SOAK_KILLS: at least this many kills, 50; CSM_SOAK_BACKLOG: client emails, 300)

Two state folders play the same script: the onboarding of tests/integration/scenario.py
(three deals, hand-over to won: 15 emails) plus a backlog of client emails, half of them with a
CSV attachment, spread over the deals and over the steps after the hand-over. The calm side
runs each step as one `run --once`, undisturbed. The killed side runs the real daemon (the
command line's continuous `run`, in a process group of its own with its parse-ahead helper)
and SIGKILLs the group after a delay drawn uniformly from [0.2, 5] s, then starts it again,
for as long as the step's work is unfinished as seen from outside (mail in new/, an item in
hand, the step's actions or meetings not in the store, a timer or an email due, an attempt
to send with no outcome), and at least once a step; the last step tops the kills up to
CSM_SOAK_KILLS. A `run --once` then finishes the step and prints what it found left.

Inputs: a Maildir and a folder of .ics files, as in scenario.py (no mail server: the
Maildir's cursor is where each file is). Output: SMTP to a sink in this process (aiosmtpd,
on loopback, no TLS) that records every DATA it takes. The killed side's sink answers
SMTP_SECONDS after the message is in, as a relay that scans content does: sending is then
where most of the daemon's time goes, so many kills land between handing an email over and
recording that, the one window where a resend is allowed. (The file transport names its files
after the outbox row and would hide a second delivery.)

The daemon runs on the step's time (a ManualClock handed to the command line's `main`,
which is what `python -m agent run` calls), so the story, weeks in the past, plays as it
did. Compared at the end: every inbound message logged exactly once (rows in `messages` per
Message-ID); every email delivered, and more than once only as often as its audit trail says
`email_resent`; and scenario.end_state() (deals, stages and their times, tasks, messages,
meetings, audit trail, outbox) identical. Printed: the kills and where they landed, the
messages, the emails, deliveries and resends, and the durations. The seed replays the script
and the delays; where each kill lands also depends on the machine's timing.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from email.utils import format_datetime
from pathlib import Path
from typing import IO, Any

import pytest

from agent.config import Config, load_config
from agent.mailboxes.maildir import MaildirMailbox
from agent.simulation import CSM
from tests.conftest import ROOT, agent_env, write_config
from tests.integration.scenario import DEALS, STEPS, end_state
from tests.integration.test_kill_scenario import differences
from tests.servers import free_port

KILLS = int(os.environ.get("CSM_SOAK_KILLS") or 50)
BACKLOG = int(os.environ.get("CSM_SOAK_BACKLOG") or 300)
DELAYS = (0.2, 5.0)  # seconds from a start to its SIGKILL
SMTP_SECONDS = 1.0  # the killed side's relay answers DATA this long after the message is in
STALLED = 10  # kills in a row without progress in one step: leave the rest to the step's `run --once`
MODULE = "tests.soak.test_soak_kills"


# --- the world's part: the client backlog ------------------------------------------------------------
def backlog_share(index: int) -> range:
    """Which backlog emails arrive before step `index`: none before the hand-over, then an equal share
    before each later step (37 or so: above the 32 from which the daemon parses a backlog ahead in a
    helper process, so that the helper is killed with it)."""
    if index == 0:
        return range(0)
    share = BACKLOG // (len(STEPS) - 1)
    start = share * (index - 1)
    return range(start, BACKLOG if index == len(STEPS) - 1 else start + share)


def deliver_backlog(config: Config, index: int) -> list[str]:
    """Client emails from the deals' people to the CSM, the agent in copy (a reply to all of a CSM's
    email that had the agent in CC), dated before the step; their Message-IDs."""
    at = STEPS[index].at
    mailbox = MaildirMailbox(config.maildir_path)
    ids = []
    for n in backlog_share(index):
        deal, (_, client) = DEALS[n % len(DEALS)]
        domain = client.split("@")[1]
        person = ("Jane", "Omar", "Lena", "Kofi")[n % 4]
        msg = EmailMessage()
        msg["From"] = f"{person} <{person.lower()}@{domain}>"
        msg["To"] = f"{CSM[0]} <{CSM[1]}>"
        msg["Cc"] = f"Onboarding <{config.agent.address}>"
        msg["Subject"] = f"{deal}: about the rollout ({n})"
        msg["Date"] = format_datetime(at - timedelta(minutes=n % 50))
        msg["Message-ID"] = f"<soak-{n}@{domain}>"
        msg.set_content(f"Hello,\n\nA question about our rollout, for the team.\n\n{person}\n")
        if n % 2 == 0:  # the learner lists a client sends for the import
            rows = "\n".join(f"{j},learner{j}@{domain},Learner {j},team {j % 17}" for j in range(3000))
            msg.add_attachment(rows.encode(), maintype="text", subtype="csv", filename=f"learners-{n}.csv")
        mailbox.deliver(msg.as_bytes(), f"soak-{n:05d}", at=at)  # after the step's own mail (by name)
        ids.append(str(msg["Message-ID"]))
    return ids


# --- the relay --------------------------------------------------------------------------------------
class SmtpSink:
    """aiosmtpd on loopback: takes every email, records (Message-ID, recipients), answers 250 after a while."""

    def __init__(self, latency: float) -> None:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.deliveries: list[tuple[str, tuple[str, ...]]] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
                data = envelope.original_content or envelope.content
                mid = BytesParser(policy=default).parsebytes(data, headersonly=True)["Message-ID"]
                # in: a client killed before it reads the 250 leaves it delivered, its outcome unknown
                sink.deliveries.append((str(mid), tuple(envelope.rcpt_tos)))
                await asyncio.sleep(latency)
                return "250 Message accepted for delivery"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def per_message(self) -> Counter[str]:
        return Counter(mid for mid, _ in self.deliveries)


# --- one side ----------------------------------------------------------------------------------------
@dataclass
class Side:
    name: str
    cfg: Path
    config: Config
    sink: SmtpSink
    log: IO[str]
    delivered: list[str] = field(default_factory=list)  # Message-IDs of the inbound mail

    @classmethod
    @contextmanager
    def made(cls, folder: Path, name: str, latency: float) -> Iterator[Side]:
        with SmtpSink(latency) as sink, open(folder / f"{name}.log", "a", encoding="utf-8") as log:
            cfg = write_config(
                folder / name,
                "[calendar]\ncompletion_grace_minutes = 15\n"
                f'[transport]\nbackend = "smtp"\nhost = "127.0.0.1"\nport = {sink.port}\ntls = "none"\n',
            )
            yield cls(name, cfg, load_config(cfg), sink, log)

    def world(self, index: int) -> None:
        """What happens before the step: the scenario's mail and meetings, then the step's share of the backlog."""
        new = MaildirMailbox(self.config.maildir_path).root / "new"
        before = set(os.listdir(new))
        STEPS[index].world(self.config, index)
        for name in sorted(set(os.listdir(new)) - before):
            msg = BytesParser(policy=default).parsebytes((new / name).read_bytes(), headersonly=True)
            self.delivered.append(str(msg["Message-ID"]))
        self.delivered += deliver_backlog(self.config, index)

    def start(self, index: int, *, once: bool = False) -> subprocess.Popen[str]:
        now = datetime.now().isoformat(" ", "milliseconds").replace(".", ",")  # as the daemon's log has it
        self.log.write(f"=== {now} step {index}: {'run --once' if once else 'run'}\n")
        self.log.flush()
        return subprocess.Popen(
            [sys.executable, "-m", MODULE, str(self.cfg), str(index), *(["--once"] if once else [])],
            cwd=ROOT,
            env=agent_env(),
            stdout=subprocess.PIPE if once else self.log,
            stderr=self.log,
            text=True,
            start_new_session=True,  # its own process group: the kill takes the parse-ahead helper too
        )

    def once(self, index: int) -> dict[str, int]:
        """One `run --once` to its end; what its pass did, by the line it prints."""
        proc = self.start(index, once=True)
        out, _ = proc.communicate(timeout=300)
        self.log.write(out)
        assert proc.returncode == 0, f"{self.name} step {index}: run --once exited {proc.returncode}"
        return {
            what: int(n)
            for n, what in re.findall(r"(\d+) (messages|meeting updates|timers|emails sent)", out)
        }

    def left(self, index: int) -> Left:
        """What the step still has to do, as seen from outside while no daemon runs."""
        from sqlalchemy import func, select
        from sqlalchemy.exc import OperationalError

        from agent.daemon.poison import note_path, read
        from agent.store import models as m
        from agent.store.db import make_engine

        at, config = STEPS[index].at, self.config
        note = read(note_path(config.state_dir, ""))
        left = Left(
            mail=sum(1 for _ in os.scandir(config.maildir_path / "new")), in_hand=repr(note) if note else ""
        )
        uids = {
            line.split(":", 1)[1].strip()
            for f in config.ics_path.glob("*.ics")
            for line in f.read_text(encoding="utf-8").splitlines()
            if line.startswith("UID:")
        }
        actions = {f"scenario:{':'.join(a)}" for a in STEPS[index].agent}
        engine = make_engine(config.store_url)
        try:
            with engine.connect() as c:

                def count(*where: Any) -> int:
                    return int(c.scalar(select(func.count()).where(*where)) or 0)

                e, t = m.OutboxEmail, m.Timer
                left.actions = len(actions - set(c.scalars(select(m.InboundEvent.key))))
                left.meetings = len(uids - set(c.scalars(select(m.Meeting.uid))))
                left.timers = count(t.fired_at.is_(None), t.due_at <= at)
                left.sending = count(e.status == "sending")
                left.due = count(e.status == "queued", e.due_at <= at)
                left.events = int(c.scalar(select(func.count()).select_from(m.InboundEvent)) or 0)
                left.audit = int(c.scalar(select(func.count()).select_from(m.AuditEntry)) or 0)
                left.sent = count(e.status == "sent")
        except OperationalError:  # killed before the schema was made
            left.schema = False
        finally:
            engine.dispose()
        return left


@dataclass
class Left:
    """A step's work not done yet: its mail, the item in hand, its actions and meetings, due timers and emails."""

    mail: int
    in_hand: str  # the item a killed process was working on, and its deaths (agent.daemon.poison)
    schema: bool = True
    actions: int = 0
    meetings: int = 0
    timers: int = 0
    sending: int = 0  # attempts recorded whose outcome is not
    due: int = 0
    events: int = 0  # inputs and actions committed
    audit: int = 0  # lines in the audit trail: every item, claim and send writes some
    sent: int = 0

    def unfinished(self) -> bool:
        work = (self.mail, self.in_hand, self.actions, self.meetings, self.timers, self.sending, self.due)
        return not self.schema or any(work)

    def progress(self) -> tuple[object, ...]:
        """Changes when the daemon got something done (a claim to send again is not that)."""
        return (self.schema, self.mail, self.events, self.timers, self.sent, self.due)

    def where(self, before: Left) -> str:
        """Where the kill that left this landed (`before`: as the start found it)."""
        if self.in_hand and self.in_hand != before.in_hand:
            return "in an item"  # its transaction open or committing: the note is cleared after the commit
        if (self.schema, self.mail, self.audit) == (before.schema, before.mail, before.audit):
            # nothing done since the start: imports, schema, lock, or nothing to do
            return "starting" if self.unfinished() else "idle"
        if self.sending:
            return "mid-send"  # an attempt recorded, its outcome not
        if self.mail:
            return "mid-batch"  # between two messages of a backlog
        return "between parts" if self.unfinished() else "after the work"


# --- what is compared -------------------------------------------------------------------------------
def inbound_counts(config: Config) -> Counter[str]:
    """Rows in `messages` per Message-ID of the mail that came in (not the agent's own copies)."""
    from sqlalchemy import select

    from agent.store import models as m
    from agent.store.db import open_store

    with open_store(config.store_url).begin() as s:
        rows = s.execute(select(m.Message.message_id, m.Message.direction)).all()
    return Counter(mid for mid, direction in rows if direction != "outbound")


def outbox_rows(config: Config) -> tuple[dict[str, tuple[int, str]], Counter[int]]:
    """{Message-ID: (outbox id, status)} and the `email_resent` lines per outbox id."""
    from sqlalchemy import select

    from agent.store import models as m
    from agent.store.db import open_store

    with open_store(config.store_url).begin() as s:
        emails = {e.message_id: (e.id, e.status) for e in s.scalars(select(m.OutboxEmail))}
        resent = Counter(
            int(a.details["outbox_id"])
            for a in s.scalars(select(m.AuditEntry).where(m.AuditEntry.kind == "email_resent"))
        )
    return emails, resent


def kill_through(
    side: Side, index: int, rng: random.Random, landed: Counter[str], at_least: int
) -> tuple[int, bool]:
    """Start the daemon and SIGKILL it after a random delay, again and again while the step's work is
    unfinished (and at least `at_least` times). Returns how many kills (where they landed goes in
    `landed`), and whether the work was still unfinished when STALLED kills in a row found nothing
    newly done: the step's `run --once` does the rest, and the figures say so."""
    kills, stalled, left = 0, 0, side.left(index)
    while kills < at_least or (left.unfinished() and stalled < STALLED):
        proc = side.start(index)
        time.sleep(rng.uniform(*DELAYS))
        assert proc.poll() is None, f"step {index}: the daemon stopped by itself ({proc.returncode})"
        os.killpg(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        kills += 1
        after = side.left(index)
        landed[after.where(left)] += 1
        stalled = 0 if after.progress() != left.progress() else stalled + 1
        left = after
    return kills, left.unfinished()


@pytest.mark.soak
def test_fifty_random_sigkills_of_the_daemon_change_nothing_in_the_end(tmp_path: Path) -> None:
    seed = int(os.environ.get("CSM_SOAK_SEED") or random.randrange(1 << 30))
    print(f"\nCSM_SOAK_SEED={seed} CSM_SOAK_KILLS={KILLS} CSM_SOAK_BACKLOG={BACKLOG} (logs: {tmp_path})")
    rng = random.Random(seed)
    started = time.monotonic()
    with Side.made(tmp_path, "calm", 0.0) as calm, Side.made(tmp_path, "killed", SMTP_SECONDS) as killed:
        for index in range(len(STEPS)):
            calm.world(index)
            calm.once(index)
        calm_seconds = time.monotonic() - started

        kills, landed, left, stalls = 0, Counter[str](), Counter[str](), []
        for index in range(len(STEPS)):
            killed.world(index)
            at_least = KILLS - kills if index == len(STEPS) - 1 else 1
            made, stalled = kill_through(killed, index, rng, landed, at_least)
            kills += made
            # not a failure: the daemon took longer to get going than the kills allowed (a loaded machine)
            stalls += [index] if stalled else []
            left.update(killed.once(index))  # finishes the step: what the kills left over
        killed_seconds = time.monotonic() - started - calm_seconds

        # -- the figures
        calm_in, killed_in = inbound_counts(calm.config), inbound_counts(killed.config)
        calm_out, calm_resent = outbox_rows(calm.config)
        killed_out, killed_resent = outbox_rows(killed.config)
        calm_sent, killed_sent = calm.sink.per_message(), killed.sink.per_message()
        again = [n for n in killed_sent.values() if n > 1]
        print(
            f"seed {seed}\n"
            f"  kills: {kills} in {len(STEPS)} steps, landing {dict(landed.most_common())}\n"
            f"  left for the steps' final `run --once`: {dict(left)}; steps the kills left unfinished ({STALLED}"
            f" kills in a row with nothing newly done): {stalls}\n"
            f"  inbound messages: {len(killed.delivered)} ({BACKLOG} backlog), each logged "
            f"{sorted(set(killed_in.values()))} time(s)\n"
            f"  emails: {len(killed_out)}; deliveries {sum(killed_sent.values())} (calm {sum(calm_sent.values())}),"
            f" email_resent lines {sum(killed_resent.values())}; {len(again)} emails delivered more than once,"
            f" at most {max(again, default=1)} times\n"
            f"  duration: calm {calm_seconds:.0f} s, killed {killed_seconds:.0f} s,"
            f" total {time.monotonic() - started:.0f} s"
        )

        # -- the calm run did what the scenario is about
        expected, got = end_state(calm.config), end_state(killed.config)
        assert expected.pop("resent") == 0 and not calm_resent
        assert [d["stage"] for d in expected["deals"]] == ["won"] * len(DEALS)
        assert {status for _, status in calm_out.values()} == {"sent"}
        assert expected["counts"]["quarantined"] == 0
        assert calm.delivered == killed.delivered and len(set(calm.delivered)) == len(calm.delivered)
        assert set(calm_in) == set(calm.delivered) and set(calm_in.values()) == {1}
        assert calm_sent == Counter(calm_out.keys())

        # -- the killed run: the kills were many, and nothing was lost or doubled
        assert kills >= KILLS
        assert killed_in == calm_in, f"seed {seed}: inbound messages differ: {diff(calm_in, killed_in)}"
        for mid, n in killed_sent.items():
            assert mid in killed_out, f"seed {seed}: {mid} delivered {n} times, and no outbox row has it"
            email_id, _ = killed_out[mid]
            assert 1 <= n <= 1 + killed_resent[email_id], (
                f"seed {seed}: outbox {email_id} ({mid}) delivered {n} times, "
                f"{killed_resent[email_id]} resends logged"
            )
        missing = [
            mid for mid, (_, status) in killed_out.items() if status == "sent" and mid not in killed_sent
        ]
        assert not missing, f"seed {seed}: marked sent, never delivered: {missing}"
        resent = got.pop("resent")
        assert resent == sum(killed_resent.values())
        assert got == expected, (
            f"seed {seed}: the killed run ended elsewhere ({kills} kills, {resent} resent): "
            + "; ".join(differences(expected, got))
        )


def diff(a: Counter[str], b: Counter[str]) -> str:
    keys = sorted(k for k in set(a) | set(b) if a[k] != b[k])
    return ", ".join(f"{k}: {a[k]} != {b[k]}" for k in keys[:10])


# --- the child process -------------------------------------------------------------------------------
def child(argv: list[str]) -> int:
    """python -m tests.soak.test_soak_kills CONFIG STEP [--once]: the step's agent actions, then the daemon.

    The actions (hand-overs, ticked tasks) are keyed, so a start after a kill repeats none; then
    the command line's `run` (or `run --once`) on the step's time.
    """
    from agent.cli import main
    from agent.clock import ManualClock
    from agent.simulation import Simulation
    from tests.integration.scenario import act

    cfg, index = Path(argv[0]), int(argv[1])
    clock = ManualClock(STEPS[index].at)
    if STEPS[index].agent:
        sim = Simulation(load_config(cfg), clock)
        for action in STEPS[index].agent:
            act(sim, action)
        sim.agent.close()
    return main(["--config", str(cfg), "run", *argv[2:]], clock=clock)


if __name__ == "__main__":
    sys.exit(child(sys.argv[1:]))
