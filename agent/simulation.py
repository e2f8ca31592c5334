"""A simulated onboarding world around a real agent: people who write emails and book calls.

Everything goes through the real parts (the Maildir, the .ics folder, the
store, the outbox and its .eml transport); only the clock is simulated, so two
weeks of onboarding take a second. `python -m agent demo` and the tests drive it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from agent import deals
from agent.clock import ManualClock
from agent.config import Config
from agent.daemon.ingest import PassReport
from agent.daemon.runner import Runner
from agent.handling.cause import Cause, begin
from agent.mailboxes.maildir import MaildirMailbox
from agent.store.repo import Repo

CSM = ("Sam Carter", "sam@example.com")
MANAGER = ("Olivia Grant", "olivia@example.com")
ACCOUNT_MANAGER = ("Alex Reed", "alex@example.com")
CLIENT = ("Jane Doe", "jane@acme-radio.example")


class Simulation:
    """Drives a real agent (the daemon's Runner): mail goes into its Maildir, meetings into its .ics folder,
    emails come out as .eml.

    Only time is simulated (a ManualClock). The demo and the tests both use it.
    """

    def __init__(self, config: Config, clock: ManualClock) -> None:
        self.config = config
        self.clock = clock
        self.agent = Runner(config, clock=clock)
        self.maildir = MaildirMailbox(config.maildir_path)
        self._ids = itertools.count(1)

    # --- inputs ---------------------------------------------------------------------------
    def add_deal(self, name: str = "Acme Radio", pipeline: str = "standard-onboarding", **kw: Any) -> int:
        roles = kw.pop(
            "roles", {"csm": CSM, "onboarding_manager": MANAGER, "account_manager": ACCOUNT_MANAGER}
        )
        contacts = kw.pop("contacts", [deals.ContactSpec(CLIENT[0], CLIENT[1], "client_admin")])
        spec = deals.DealSpec(
            name=name,
            pipeline=pipeline,
            contacts=contacts,
            roles=roles,
            timezone=kw.pop("timezone", "Europe/London"),
            **kw,
        )
        with self.agent.sessions.begin() as s:
            repo = Repo(s)
            cause = begin(repo, f"test:add:{next(self._ids)}", "cli", self.clock.now())
            assert cause is not None
            return self.agent.runtime.handlers.handover(repo, spec, cause, self.clock.now()).id

    def task_done(self, deal_id: int, task: str) -> None:
        with self._change("task") as (repo, cause):
            deal = repo.deal(deal_id)
            assert deal is not None
            self.agent.runtime.handlers.runner.complete_task(
                repo, deal, task, cause, self.clock.now(), who="test"
            )

    def advance(self, deal_id: int, stage: str) -> None:
        """A person moves the deal (`deals advance`)."""
        with self._change("advance") as (repo, cause):
            deal = repo.deal(deal_id)
            assert deal is not None
            self.agent.runtime.handlers.runner.advance(
                repo, deal, stage, cause, self.clock.now(), who="test", force=True
            )

    def no_show(self, deal_id: int) -> None:
        """The deal's last call did not happen (`deals no-show`)."""
        with self._change("no-show") as (repo, cause):
            meeting = [mt for mt in repo.meetings_for(deal_id) if mt.start <= self.clock.now()][-1]
            self.agent.runtime.handlers.meetings.mark_no_show(
                repo, meeting, cause, self.clock.now(), who="test"
            )

    @contextmanager
    def _change(self, what: str) -> Iterator[tuple[Repo, Cause]]:
        with self.agent.sessions.begin() as s:
            repo = Repo(s)
            cause = begin(repo, f"test:{what}:{next(self._ids)}", "cli", self.clock.now())
            assert cause is not None
            yield repo, cause

    def mail(
        self,
        sender: tuple[str, str],
        to: list[tuple[str, str]],
        subject: str,
        body: str = "Hello.",
        *,
        cc: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        message_id: str | None = None,
    ) -> str:
        msg = EmailMessage()
        msg["From"] = f"{sender[0]} <{sender[1]}>"
        msg["To"] = ", ".join(f"{n} <{e}>" for n, e in to)
        if cc:
            msg["Cc"] = ", ".join(f"{n} <{e}>" for n, e in cc)
        msg["Subject"] = subject
        msg["Date"] = format_datetime(self.clock.now())
        mid = message_id or f"<test-{next(self._ids)}@{sender[1].split('@')[1]}>"
        msg["Message-ID"] = mid
        for k, v in (headers or {}).items():
            msg[k] = v
        msg.set_content(body)
        self.deliver(msg.as_bytes())
        return mid

    def deliver(self, data: bytes) -> None:
        now = self.clock.now()
        self.maildir.deliver(data, f"{now.timestamp():.0f}.{next(self._ids)}.test", at=now)

    def meeting(
        self,
        name: str,
        title: str,
        start: datetime,
        minutes: int = 45,
        *,
        sequence: int = 0,
        method: str = "REQUEST",
        status: str = "",
        attendees: tuple[str, ...] = (CLIENT[1],),
        description: str = "Agreed: next steps.",
    ) -> Path:
        text = ics_event(
            f"{name}@example.com",
            title,
            start,
            minutes,
            stamp=self.clock.now(),
            sequence=sequence,
            method=method,
            status=status,
            attendees=attendees,
            description=description,
        )
        path = self.config.ics_path / f"{name}.ics"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    # --- time and passes -----------------------------------------------------------------
    def at(self, when: datetime) -> None:
        self.clock.set(when)

    def run(self) -> PassReport:
        return self.agent.run_once()

    # --- outputs -------------------------------------------------------------------------
    def sent(self) -> list[EmailMessage]:
        folder = self.config.sent_path
        # in the order they were sent (a reviewed draft goes out after emails queued later)
        files = (
            sorted(folder.glob("*.eml"), key=lambda p: (p.stat().st_mtime_ns, p.name))
            if folder.exists()
            else []
        )
        return [BytesParser(policy=default).parsebytes(p.read_bytes()) for p in files]

    def sent_templates(self) -> list[str]:
        with self.agent.sessions.begin() as s:
            return [e.template for e in Repo(s).outbox_all() if e.status == "sent"]

    def reply_address(self, deal_id: int) -> str:
        """The deal's plus-address, as in the Reply-To of the agent's emails."""
        local, domain = self.config.agent.address.split("@")
        return f"{local}+{self.show(deal_id)['token']}@{domain}"

    def show(self, deal_id: int) -> dict[str, Any]:
        with self.agent.sessions.begin() as s:
            repo = Repo(s)
            deal = repo.deal(deal_id)
            assert deal is not None
            pipeline = self.agent.runtime.rules.pipelines.get(deal.pipeline)
            return deals.summary(repo, deal, pipeline, self.clock.now())

    def stage(self, deal_id: int) -> str:
        return str(self.show(deal_id)["stage"])


def ics_event(
    uid: str,
    title: str,
    start: datetime,
    minutes: int = 45,
    *,
    stamp: datetime,
    sequence: int = 0,
    method: str = "REQUEST",
    status: str = "",
    organizer: str = CSM[1],
    attendees: tuple[str, ...] = (CLIENT[1],),
    description: str = "Agreed: next steps.",
) -> str:
    """One meeting as an iCalendar object, the way calendar servers and invitations carry it."""
    fmt = "%Y%m%dT%H%M%SZ"
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//csm-agent simulation//EN"]
    lines += [f"METHOD:{method}"] if method else []
    lines += [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"SEQUENCE:{sequence}",
        f"DTSTAMP:{stamp:{fmt}}",
        f"DTSTART:{start:{fmt}}",
        f"DTEND:{start + timedelta(minutes=minutes):{fmt}}",
        f"SUMMARY:{title}",
        f"DESCRIPTION:{description}",
        f"ORGANIZER:mailto:{organizer}",
    ]
    lines += [f"ATTENDEE:mailto:{a}" for a in attendees]
    lines += [f"STATUS:{status}"] if status else []
    lines += ["END:VEVENT", "END:VCALENDAR", ""]
    return "\r\n".join(lines)
