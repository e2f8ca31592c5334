"""Inbound email: log it on the right deal with the reason, and turn it into triggers.

Auto-replies, bulk mail, read receipts and bounces are read and logged but
never answered and never move a deal; a bounce marks the address and tells
the Responsible person. Invitations go on to the meeting handler.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from agent.calendars.parse import parse_invitation_parts
from agent.commands import Command, parse_commands
from agent.domain import InboundMessage, MessageKind
from agent.mailboxes.authenticity import verify_sender
from agent.matching import Match, match_message
from agent.pipeline.engine import Trigger
from agent.store import models as m
from agent.store.repo import Repo

if TYPE_CHECKING:
    from agent.processor import Cause, Processor


class MessageHandler:
    def __init__(self, processor: Processor) -> None:
        self.p = processor

    def handle(self, repo: Repo, msg: InboundMessage, cause: Cause, now: datetime, raw: bytes) -> str | None:
        """Log the message and run its rules; returns "unmatched" when no deal could be told."""
        party = self.p.party
        if msg.sender and party.is_agent(msg.sender.email):
            self._log_message(repo, msg, cause, now, None, "outbound", "ignored", "the agent's own email")
            return None
        if repo.message_known(msg.message_id):
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
        direction = self._direction(msg)
        commands = self._commands(repo, msg, direction, cause, now)
        if commands is not None and (
            self._answer(repo, msg, cause, now) or self._review(repo, msg, cause, now)
        ):
            return None
        deal_ref = next((c.arg for c in commands or [] if c.verb == "deal"), "")
        match = match_message(msg, repo, party, deal_ref)
        if msg.kind is MessageKind.INVITATION:
            status = "matched" if match.deal_id else "ignored"
            self._log_message(repo, msg, cause, now, match.deal_id, direction, status, match.reason, match)
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
                f"{msg.kind_reason}; {match.reason}",
                match,
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
            status = "held" if match.ambiguous else "unmatched"
            candidates = list(match.candidates)
            row_id = self._log_message(
                repo,
                msg,
                cause,
                now,
                None,
                direction,
                status,
                match.reason,
                match,
                candidates=candidates,
                raw=raw,  # kept whole until a person assigns it: nothing of it is lost
            )
            repo.audit(now, "message_" + status, deal_id=None, event_id=cause.event_id, reason=match.reason)
            if match.ambiguous:
                self._ask(repo, msg, row_id, candidates, cause, now)
            return "unmatched"
        deal = repo.deal(match.deal_id)
        assert deal is not None
        ignored = any(c.verb == "ignore" for c in commands or [])
        self._log_message(
            repo,
            msg,
            cause,
            now,
            deal.id,
            direction,
            "ignored" if ignored else "matched",
            match.reason,
            match,
        )
        repo.audit(
            now,
            "message_logged",
            deal_id=deal.id,
            event_id=cause.event_id,
            reason=f"{direction} message '{msg.subject}' matched ({match.confidence:.2f}): {match.reason}"
            + ("; a person said: ignore" if ignored else ""),
        )
        if not ignored:
            self._message_triggers(repo, deal, msg, direction, commands, cause, now)
        return None

    def _commands(
        self, repo: Repo, msg: InboundMessage, direction: str, cause: Cause, now: datetime
    ) -> list[Command] | None:
        """Commands of a verified person writing to the agent; None when the sender is not one of ours."""
        if direction == "inbound":
            return None
        verdict = verify_sender(
            msg, self.p.config.agent.internal_domains, self.p.config.agent.trusted_authserv_ids
        )
        found = parse_commands(msg.subject, msg.new_text) if direction == "internal" else []
        if not verdict.trusted:
            if found:
                repo.audit(
                    now,
                    "command_refused",
                    deal_id=None,
                    event_id=cause.event_id,
                    reason=f"'{found[0].line}' from {msg.sender.email if msg.sender else '?'}: {verdict.reason}",
                )
            return None
        return found

    def assign(
        self, repo: Repo, message: m.Message, deal: m.Deal, cause: Cause, now: datetime, who: str
    ) -> None:
        """A person told us which deal an unmatched message belongs to."""
        message.deal_id = deal.id
        message.status = "matched"
        message.match_strategy = "manual"
        message.match_reason = f"assigned by {who}"
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
        reason: str,
        match: Match | None = None,
        candidates: list[int] | None = None,
        raw: bytes | None = None,
    ) -> int:
        """The message's row (its id); `candidates` and `raw` are kept for one no deal could be told."""
        return repo.insert(
            m.Message,
            deal_id=deal_id,
            message_id=msg.message_id,
            source_key=cause.key,
            subject=msg.subject,
            sender=msg.sender.email if msg.sender else "",
            recipients=[a.email for a in (*msg.to, *msg.cc)],
            direction=direction,
            kind=msg.kind.value,
            status=status,
            match_strategy=match.strategy if match else "",
            match_reason=reason,
            match_confidence=match.confidence if match else 0.0,
            candidates=candidates or [],
            received_at=now,
            date=msg.date,
            excerpt=msg.new_text[:2000],
            references=list(msg.references),
            raw=raw,
        )

    def _message_triggers(
        self,
        repo: Repo,
        deal: m.Deal,
        msg: InboundMessage,
        direction: str,
        commands: list[Command] | None,
        cause: Cause,
        now: datetime,
    ) -> None:
        """`commands` is None when the sender is not a verified one of ours: then nothing is obeyed."""
        side = "client" if direction == "inbound" else "internal"
        sender = msg.sender.email if msg.sender else ""
        triggers = [Trigger("message_received", side, f"{side} message '{msg.subject}' from {sender}")]
        for command in commands or []:
            self._obey(repo, deal, command, sender, cause, now)
        if direction == "internal" and commands == []:
            word = _first_word(msg.new_text)
            if word:  # a word of the pipeline's own, for rules with `when: {command: WORD}`
                triggers.append(Trigger("command", word, f"command '{word}' from {sender}"))
        score = _csat(msg.new_text) if side == "client" else None
        # a survey answer: checked for a score first, which is cheaper than asking the store
        if score is not None and repo.has_sent(deal.id, "survey"):
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

    def _obey(
        self, repo: Repo, deal: m.Deal, command: Command, sender: str, cause: Cause, now: datetime
    ) -> None:
        """Carry out one command of a verified person; what cannot be done is said in the audit trail."""
        pipeline = self.p.pipelines.get(deal.pipeline)
        problem = ""
        if command.verb == "advance" and pipeline is not None:
            target = command.arg or pipeline.next_stage(deal.stage) or ""
            if pipeline.has_stage(target):
                self.p.advance(repo, deal, target, cause, now, who=sender)
            else:
                problem = f"no stage {target!r} in {deal.pipeline}"
        elif command.verb == "done":
            if repo.task(deal.id, command.arg) is not None:
                self.p.complete_task(repo, deal, command.arg, cause, now, who=sender)
            else:
                problem = f"no task {command.arg!r} on this deal"
        elif command.verb == "no-show":
            held = [
                mt
                for mt in repo.meetings_for(deal.id)
                if mt.status in ("scheduled", "completed") and mt.start <= now
            ]
            if held:
                self.p.meetings.mark_no_show(repo, held[-1], cause, now, who=sender)
            else:
                problem = "no meeting has started yet"
        elif command.verb in ("approve", "reject"):
            approval = repo.pending_approval(deal.id)
            if approval is not None and approval.approver == sender:
                self.p.decide_approval(repo, deal, command.verb == "approve", cause, now, who=sender)
            else:
                problem = "no approval of this deal is waiting for this sender"
        kind = "command_failed" if problem else "command"
        repo.audit(
            now,
            kind,
            deal_id=deal.id,
            event_id=cause.event_id,
            reason=f"'{command.line}' from {sender}" + (f": {problem}" if problem else ""),
        )

    # --- asking a person --------------------------------------------------------------------
    def _ask(
        self, repo: Repo, msg: InboundMessage, row_id: int, candidates: list[int], cause: Cause, now: datetime
    ) -> None:
        """Several deals fit: ask our own sender (or the candidates' CSMs) which one, and hold the message."""
        question = {
            "what": "message",
            "subject": msg.subject,
            "sender": msg.sender.email if msg.sender else "",
            "excerpt": msg.new_text[:500],
        }
        self.p.ask_which_deal(
            repo,
            candidates,
            msg.sender,
            question,
            cause,
            now,
            about_message_id=row_id,
            in_reply_to=msg.message_id,
        )

    def _answer(self, repo: Repo, msg: InboundMessage, cause: Cause, now: datetime) -> bool:
        """A reply to one of our questions: "2" ties the held message or meeting to option 2, "none" lets it go."""
        question = repo.question_in_thread([i for i in (msg.in_reply_to, *msg.references) if i])
        if question is None:
            return False
        sender = msg.sender.email if msg.sender else ""
        who = f"{sender} (answering the agent)"
        self._log_message(
            repo, msg, cause, now, None, "internal", "ignored", "an answer to the agent's question"
        )
        held_msg = repo.message(question.about_message_id) if question.about_message_id else None
        meeting = repo.meeting_by_id(question.about_meeting_id) if question.about_meeting_id else None
        if held_msg is not None and held_msg.status == "held":
            what, candidates = f"'{held_msg.subject}'", list(held_msg.candidates)
        elif meeting is not None and meeting.deal_id is None and meeting.candidates:
            what, candidates = f"meeting '{meeting.title}'", list(meeting.candidates)
        else:
            repo.audit(
                now,
                "answer_ignored",
                deal_id=None,
                event_id=cause.event_id,
                reason=f"{sender} answered, but it was already decided",
            )
            return True
        words = msg.new_text.strip().split()
        first = words[0].strip(".:)#").lower() if words else ""
        deal = (
            repo.deal(int(candidates[int(first) - 1]))
            if first.isdigit() and 1 <= int(first) <= len(candidates)
            else None
        )
        if deal is not None and held_msg is not None:
            self.assign(repo, held_msg, deal, cause, now, who)
        elif deal is not None and meeting is not None:
            self.p.meetings.assign(repo, meeting, deal, cause, now, who)
        elif first in ("none", "ignore", "neither"):
            if held_msg is not None:
                held_msg.status = "ignored"
            if meeting is not None:
                meeting.candidates = []
            repo.audit(
                now,
                "answer_none",
                deal_id=None,
                event_id=cause.event_id,
                reason=f"{sender} said {what} is about none of the deals",
            )
        else:
            repo.audit(
                now,
                "answer_not_understood",
                deal_id=None,
                event_id=cause.event_id,
                reason=f"{sender} answered {first!r}; expected a number 1-{len(candidates)} or 'none'",
            )
        return True

    def _review(self, repo: Repo, msg: InboundMessage, cause: Cause, now: datetime) -> bool:
        """A reply to a review request: only the reviewers asked may decide the draft."""
        request = repo.review_in_thread([i for i in (msg.in_reply_to, *msg.references) if i])
        if request is None or request.review_of is None:
            return False
        draft = repo.outbox(request.review_of)
        sender = msg.sender.email if msg.sender else ""
        self._log_message(
            repo, msg, cause, now, request.deal_id, "internal", "ignored", "an answer to a review"
        )
        if draft is None:
            return True
        if sender not in {a["email"] for a in request.to}:
            repo.audit(
                now,
                "review_refused",
                deal_id=draft.deal_id,
                event_id=cause.event_id,
                reason=f"{sender} answered a review that was asked of {request.to[0]['email']}",
                outbox_id=draft.id,
            )
            return True
        self.p.reviews.answer(repo, draft, msg.new_text, sender, cause, now)
        return True

    def _bounce(self, repo: Repo, msg: InboundMessage, cause: Cause, now: datetime) -> None:
        self._log_message(repo, msg, cause, now, None, "inbound", "ignored", msg.kind_reason)
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
                self.p.notify_responsible(
                    repo,
                    deal,
                    cause,
                    now,
                    subject=f"{deal.name}: {address} bounced",
                    message=f"Mail to {address} bounced ({msg.kind_reason}). "
                    "Please find a working address for this contact.",
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


_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
_LEAD = (
    r"\s*(?:(?:my\s+)?(?:rating|score)\s*(?:is|:)?\s*|i'?d\s+say\s+|i\s+give\s+(?:it\s+|you\s+)?(?:a\s+)?)?"
)
_OUT_OF = r"\s*(?:/|out\s+of)\s*(?:5|10|five|ten)"
_DIGITS = re.compile(_LEAD + r"(10|[0-9])(?:" + _OUT_OF + r")?(?![\d.\w])", re.IGNORECASE)
# A number in words counts only standing alone or "out of" something: "One more thing" is no score.
_WORDS = re.compile(
    _LEAD + r"(" + "|".join(_NUMBER_WORDS) + r")(?:" + _OUT_OF + r"|\s*[.!)]*\s*$|\s*[.!,)-])", re.IGNORECASE
)


def _csat(text: str) -> int | None:
    """A rating opening a survey reply (1-5 or 0-10, digits or words): "5", "4/5", "Rating: 3", "Nine out of ten".

    Only at the start: "we have 3 more questions" is not a score.
    """
    found = _DIGITS.match(text or "") or _WORDS.match(text or "")
    if not found:
        return None
    value = found.group(1).lower()
    return int(value) if value.isdigit() else _NUMBER_WORDS.index(value)
