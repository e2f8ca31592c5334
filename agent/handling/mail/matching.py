"""The steps that tie a message to a deal and act on it: match, invitation, unmatched, matched."""

from __future__ import annotations

from datetime import timedelta

from agent.calendars.parse import parse_invitation_parts
from agent.config import Config
from agent.domain import MessageKind
from agent.handling.commands.context import CommandContext
from agent.handling.commands.obey import obey
from agent.handling.enqueue import Enqueuer
from agent.handling.issues import Issues
from agent.handling.mail.csat import first_word
from agent.handling.mail.pipeline import MailItem, Passed, Took
from agent.handling.meetings import MeetingHandler
from agent.handling.runner import RuleRunner
from agent.handling.series import series_text, to_store
from agent.matching import Party, match_message
from agent.pipeline.engine import Trigger


class MatchDeal:
    """Which deal, and why: the matching strategies in order (a person's `deal` command first)."""

    name = "match"

    def __init__(self, party: Party) -> None:
        self.party = party

    def __call__(self, item: MailItem) -> Took | Passed:
        deal_ref = next((c.arg for c in item.commands or [] if c.verb == "deal"), "")
        item.match = match = match_message(item.msg, item.repo, self.party, deal_ref)
        return Passed(f"deal {match.deal_id}: {match.reason}" if match.deal_id else match.reason)


class Invitation:
    """A calendar invitation: logged, and each of its meetings goes to the meeting handler."""

    name = "invitation"

    def __init__(self, config: Config, meetings: MeetingHandler, party: Party) -> None:
        self.config = config
        self.meetings = meetings
        self.party = party

    def __call__(self, item: MailItem) -> Took | Passed:
        msg, match = item.msg, item.match
        if msg.kind is not MessageKind.INVITATION:
            return Passed("no invitation")
        assert match is not None
        status = "matched" if match.deal_id else "ignored"
        item.log_message(match.deal_id, item.direction, status, match.reason, match)
        cal = self.config.calendar
        versions = parse_invitation_parts(
            msg.calendar_parts,
            window_start=item.now - timedelta(days=cal.lookbehind_days),
            window_end=item.now + timedelta(days=cal.lookahead_days),
            source=f"message {msg.message_id}",
            default_tz=self.config.agent.timezone,
            max_occurrences=cal.max_occurrences,
        )
        plan = to_store(versions, item.repo, self.party)
        series = series_text(msg.calendar_parts) if any(kept for _, kept in plan) else ""
        for mv, kept in plan:
            self.meetings.handle(item.repo, mv, item.cause, item.now, series=series if kept else "")
        return Took(f"an invitation of {len(versions)} meeting versions, {len(plan)} stored")


class Unmatched:
    """No deal could be told: kept whole for a person; when several fit, the sender or CSMs are asked."""

    name = "unmatched"

    def __init__(self, enqueuer: Enqueuer) -> None:
        self.enqueuer = enqueuer

    def __call__(self, item: MailItem) -> Took | Passed:
        match, msg = item.match, item.msg
        assert match is not None
        if match.deal_id is not None:
            return Passed("a deal was found")
        status = "held" if match.ambiguous else "unmatched"
        candidates = list(match.candidates)
        # kept whole until a person assigns it: nothing of it is lost
        row_id = item.log_message(None, item.direction, status, match.reason, match, candidates, raw=item.raw)
        # the log line names the message, so that a person finds it (`unmatched list`, their mailbox)
        item.trail(
            "message_" + status, f"message {row_id} '{msg.subject}' from {item.sender}: {match.reason}"
        )
        if match.ambiguous:
            question = {
                "what": "message",
                "subject": msg.subject,
                "sender": item.sender,
                "excerpt": msg.new_text[:500],
            }
            self.enqueuer.ask_which_deal(
                item.repo,
                candidates,
                msg.sender,
                question,
                item.cause,
                item.now,
                about_message_id=row_id,
                in_reply_to=msg.message_id,
                participants=(*msg.to, *msg.cc),
            )
        return Took(match.reason, "unmatched")


class Matched:
    """The deal's message: logged with the reason, commands obeyed, the issue it reports read, its rules run."""

    name = "matched"

    def __init__(self, runner: RuleRunner, commands: CommandContext, issues: Issues) -> None:
        self.runner = runner
        self.commands = commands
        self.issues = issues

    def __call__(self, item: MailItem) -> Took | Passed:
        match, msg, repo = item.match, item.msg, item.repo
        assert match is not None and match.deal_id is not None
        deal = repo.deal(match.deal_id)
        assert deal is not None
        ignored = any(c.verb == "ignore" for c in item.commands or [])
        row = item.log_message(
            deal.id, item.direction, "ignored" if ignored else "matched", match.reason, match
        )
        item.trail.on(deal)(
            "message_logged",
            f"{item.direction} message '{msg.subject}' matched ({match.confidence:.2f}): {match.reason}"
            + ("; a person said: ignore" if ignored else ""),
        )
        if ignored:
            return Took("a person said: ignore")
        side = "client" if item.direction == "inbound" else "internal"
        sender = item.sender
        triggers = [Trigger("message_received", side, f"{side} message '{msg.subject}' from {sender}")]
        # a client's message, or one of ours written to the agent; not a command ("escalate because
        # ..."), and not our people's mail to a client with the agent in copy ("the error is fixed")
        if not item.commands and item.direction in ("inbound", "internal"):
            triggers += self.issues.read(repo, deal, msg, row, sender, item.now)
        for command in item.commands or []:
            obey(self.commands, repo, deal, command, sender, item.cause, item.now)
        if item.direction == "internal" and item.commands == []:
            word = first_word(msg.new_text)
            if word:  # a word of the pipeline's own, for rules with `when: {command: WORD}`
                triggers.append(Trigger("command", word, f"command '{word}' from {sender}"))
        self.runner.dispatch(repo, deal, triggers, item.cause, item.now)
        return Took(f"deal {deal.id}: {match.reason}")
