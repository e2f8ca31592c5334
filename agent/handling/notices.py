"""Telling people what went wrong outside any deal's rules: an email that could not be delivered."""

from __future__ import annotations

from agent.clock import Clock
from agent.handling.cause import Cause, Process
from agent.handling.enqueue import Enqueuer
from agent.store.repo import Repo


class DeliveryFailures:
    def __init__(self, enqueuer: Enqueuer, process: Process, clock: Clock) -> None:
        self.enqueuer = enqueuer
        self.process = process
        self.clock = clock

    def __call__(self, email_id: int, error: str) -> None:
        """Tell the deal's Responsible person; once per email (the item's key), whatever the retries."""

        def work(repo: Repo, cause: Cause) -> str | None:
            email = repo.outbox(email_id)
            deal = repo.deal(email.deal_id) if email and email.deal_id else None
            if email is None or deal is None or email.template == "notice":
                return None  # nobody to tell on a deal, or the notice itself failed: the log has it
            to = ", ".join(a["email"] for a in email.to)
            self.enqueuer.notify_responsible(
                repo,
                deal,
                cause,
                self.clock.now(),
                subject=f"{deal.name}: the {email.template} email could not be delivered",
                message=f"The {email.template} email to {to} could not be delivered: {error}. The agent keeps "
                f"trying where that can help (`python -m agent outbox show {email.id}`).",
            )
            return None

        self.process(f"delivery-failure:{email_id}", "timer", None, work)
