"""The commands step: who wrote (direction), and whether they are a verified one of ours.

Only a verified person's commands are obeyed, and only mail to the agent itself (To) carries
them; a refused command is said in the audit trail.
"""

from __future__ import annotations

from agent.config import AgentSection
from agent.handling.commands.grammar import parse_commands
from agent.handling.mail.pipeline import MailItem, Passed, Took
from agent.matching import Party
from agent.mime.authenticity import verify_sender


class Commands:
    name = "commands"

    def __init__(self, party: Party, agent: AgentSection) -> None:
        self.party = party
        self.agent = agent

    def __call__(self, item: MailItem) -> Took | Passed:
        item.direction = self._direction(item)
        if item.direction == "inbound":
            return Passed("from outside: no commands")
        msg = item.msg
        verdict = verify_sender(msg, self.agent.internal_domains, self.agent.trusted_authserv_ids)
        found = parse_commands(msg.subject, msg.new_text) if item.direction == "internal" else []
        if not verdict.trusted:
            if found:
                item.trail(
                    "command_refused", f"'{found[0].line}' from {item.sender or '?'}: {verdict.reason}"
                )
            return Passed(f"not verified: {verdict.reason}")
        item.commands = found
        return Passed(f"{item.direction} from a verified sender; {len(found)} commands")

    def _direction(self, item: MailItem) -> str:
        msg = item.msg
        if not item.sender or not self.party.is_internal(item.sender):
            return "inbound"
        if any(self.party.is_agent(a.email) for a in msg.to):
            return "internal"
        if any(self.party.is_agent(a.email) for a in msg.cc):
            return "cc"
        return "bcc"
