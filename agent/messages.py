"""Inbound email: log it on the right deal with the reason, and turn it into triggers.

Auto-replies, bulk mail, read receipts and bounces are read and logged but
never answered and never move a deal; a bounce marks the address and tells
the Responsible person. Invitations go on to the meeting handler.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from agent import deals
from agent.calendars.parse import parse_invitation_parts
from agent.domain import Address, InboundMessage, MessageKind
from agent.matching import match_message
from agent.pipeline.engine import Trigger
from agent.store import models as m
from agent.store.repo import Repo

if TYPE_CHECKING:
    from agent.processor import Cause, Processor

APPROVE_WORDS = {"approve", "approved", "yes", "ok", "okay", "agreed"}
REJECT_WORDS = {"reject", "rejected", "no", "deny", "denied"}


class MessageHandler:
    def __init__(self, processor: Processor) -> None:
        self.p = processor

    def handle(self, repo: Repo, msg: InboundMessage, cause: Cause, now: datetime, raw: bytes) -> str | None:
        """Log the message and run its rules; returns "unmatched" when no deal could be told."""
        if msg.sender and self.p.party.is_agent(msg.sender.email):
            self._log_message(repo, msg, cause, now, None, "outbound", "ignored", "", "the agent's own email")
            return None
        if repo.message_by_id(msg.message_id) is not None:
            repo.audit(
                now,
                "duplicate",
                deal_id=None,
                event_id=cause.event_id,
                reason=f"message {msg.message_id} was already processed",
            )
            return None
        if msg.kind is MessageKind.BOUNCE:
            self._bounce(repo, msg, cause, now)
            return None
        match = match_message(msg, repo, self.p.party)
        direction = self._direction(msg)
        if msg.kind is MessageKind.INVITATION:
            self._log_message(
                repo,
                msg,
                cause,
                now,
                match.deal_id,
                direction,
                "matched" if match.deal_id else "ignored",
                match.strategy,
                match.reason,
            )
            self._invitation(repo, msg, cause, now)
            return None
        if msg.auto_submitted:
            # Read and logged, never answered and never a reason to move a deal.
            self._log_message(
                repo,
                msg,
                cause,
                now,
                match.deal_id,
                direction,
                "ignored",
                match.strategy,
                f"{msg.kind_reason}; {match.reason}",
            )
            repo.audit(
                now,
                "message_ignored",
                deal_id=match.deal_id,
                event_id=cause.event_id,
                reason=f"{msg.kind.value}: {msg.kind_reason}",
            )
            return None
        if match.deal_id is None:
            row = self._log_message(repo, msg, cause, now, None, direction, "unmatched", "", match.reason)
            row.candidates = list(match.candidates)
            row.raw = raw  # kept whole until a person assigns it: nothing of it is lost
            repo.audit(now, "message_unmatched", deal_id=None, event_id=cause.event_id, reason=match.reason)
            return "unmatched"
        deal = repo.deal(match.deal_id)
        assert deal is not None
        row = self._log_message(
            repo, msg, cause, now, deal.id, direction, "matched", match.strategy, match.reason
        )
        cause.message = row
        repo.audit(
            now,
            "message_logged",
            deal_id=deal.id,
            event_id=cause.event_id,
            reason=f"{direction} message '{msg.subject}' matched: {match.reason}",
        )
        self._message_triggers(repo, deal, msg, direction, cause, now)
        return None

    def assign(
        self, repo: Repo, message: m.Message, deal: m.Deal, cause: Cause, now: datetime, who: str
    ) -> None:
        """A person told us which deal an unmatched message belongs to."""
        message.deal_id = deal.id
        message.status = "matched"
        message.match_strategy = "manual"
        message.match_reason = f"assigned by {who}"
        cause.message = message
        repo.audit(
            now,
            "message_assigned",
            deal_id=deal.id,
            event_id=cause.event_id,
            reason=f"message '{message.subject}' assigned to {deal.name} by {who}",
        )
        side = "client" if message.direction == "inbound" else "internal"
        self.p.dispatch(
            repo,
            deal,
            [Trigger("message_received", side, f"message '{message.subject}' from {side}")],
            cause,
            now,
        )

    def _direction(self, msg: InboundMessage) -> str:
        sender = msg.sender.email if msg.sender else ""
        if not sender or not self.p.party.is_internal(sender):
            return "inbound"
        if any(self.p.party.is_agent(a.email) for a in msg.to):
            return "internal"
        if any(self.p.party.is_agent(a.email) for a in msg.cc):
            return "cc"
        return "bcc"

    def _log_message(
        self,
        repo: Repo,
        msg: InboundMessage,
        cause: Cause,
        now: datetime,
        deal_id: int | None,
        direction: str,
        status: str,
        strategy: str,
        reason: str,
    ) -> m.Message:
        row = m.Message(
            deal_id=deal_id,
            message_id=msg.message_id,
            source_key=cause.key,
            subject=msg.subject,
            sender=msg.sender.email if msg.sender else "",
            recipients=[a.email for a in (*msg.to, *msg.cc)],
            direction=direction,
            kind=msg.kind.value,
            status=status,
            match_strategy=strategy,
            match_reason=reason,
            candidates=[],
            received_at=now,
            date=msg.date,
            excerpt=msg.new_text[:2000],
        )
        repo.add(row)
        return row

    def _message_triggers(
        self, repo: Repo, deal: m.Deal, msg: InboundMessage, direction: str, cause: Cause, now: datetime
    ) -> None:
        side = "client" if direction == "inbound" else "internal"
        sender = msg.sender.email if msg.sender else ""
        word = _first_word(msg.new_text)
        triggers = [Trigger("message_received", side, f"{side} message '{msg.subject}' from {sender}")]
        approval = repo.pending_approval(deal.id)
        if approval is not None and sender == approval.approver and word in APPROVE_WORDS | REJECT_WORDS:
            self.p.decide_approval(repo, deal, word in APPROVE_WORDS, cause, now, who=sender)
        elif side == "internal" and word == "no-show":
            held = [
                mt
                for mt in repo.meetings_for(deal.id)
                if mt.status in ("scheduled", "completed") and mt.start <= now
            ]
            if held:
                self.p.meetings.mark_no_show(repo, held[-1], cause, now, who=sender)
        elif side == "internal" and word:
            triggers.append(Trigger("command", word, f"command '{word}' from {sender}"))
        if side == "client" and repo.has_sent(deal.id, "survey"):
            score = _csat(msg.new_text)
            if score is not None:
                deal.csat = score
                repo.audit(
                    now,
                    "csat_recorded",
                    deal_id=deal.id,
                    event_id=cause.event_id,
                    reason=f"{sender} rated onboarding {score}",
                    score=score,
                )
                triggers.append(Trigger("csat_received", str(score), f"CSAT {score} from {sender}"))
        self.p.dispatch(repo, deal, triggers, cause, now)

    def _bounce(self, repo: Repo, msg: InboundMessage, cause: Cause, now: datetime) -> None:
        self._log_message(repo, msg, cause, now, None, "inbound", "ignored", "", msg.kind_reason)
        for address in msg.bounced_recipients:
            flag = repo.flag(address)
            flag.bounced_at = now
            flag.reason = f"bounce {msg.message_id}: {msg.kind_reason}"
            for deal_id in repo.deals_by_email(address):
                deal = repo.deal(deal_id)
                assert deal is not None
                repo.audit(
                    now,
                    "address_bounced",
                    deal_id=deal_id,
                    event_id=cause.event_id,
                    reason=f"{address} bounced; no more mail goes to it",
                )
                extra = {
                    "notice": {
                        "subject": f"{deal.name}: {address} bounced",
                        "message": f"Mail to {address} bounced ({msg.kind_reason}). "
                        "Please find a working address for this contact.",
                    }
                }
                raci = deals.raci(repo, deal)
                to = tuple(
                    Address(r.email, r.name) for r in deal.roles if r.role in (raci.responsible or ("csm",))
                )
                self.p.queue_email(
                    repo,
                    deal,
                    "notice",
                    to,
                    (),
                    due=now,
                    rule="",
                    reason=f"{address} bounced",
                    cause=cause,
                    trigger=Trigger("bounce", address),
                    now=now,
                    extra=extra,
                )

    def _invitation(self, repo: Repo, msg: InboundMessage, cause: Cause, now: datetime) -> None:
        cal = self.p.config.calendar
        versions = parse_invitation_parts(
            msg.calendar_parts,
            window_start=now - timedelta(days=cal.lookbehind_days),
            window_end=now + timedelta(days=cal.lookahead_days),
            source=f"message {msg.message_id}",
            default_tz=self.p.config.agent.timezone,
        )
        for mv in versions:
            self.p.meetings.handle(repo, mv, cause, now)


def _first_word(text: str) -> str:
    m_ = re.match(r"\s*([A-Za-z][A-Za-z-]*)", text or "")
    return m_.group(1).lower() if m_ else ""


def _csat(text: str) -> int | None:
    """A 1-5 (or 1-10) rating opening a survey reply: "5", "4/5", "Rating: 3 - good".

    Only at the start: "we have 3 more questions" is not a score.
    """
    found = re.match(
        r"\s*(?:(?:rating|score)\s*:?\s*)?(10|[1-9])(?:\s*/\s*(?:5|10))?(?![\d.])", text or "", re.I
    )
    return int(found.group(1)) if found else None
