"""What a message's text says, read once: the sender's own words, an opt-out request, proposed times.

Pure text work on the parsed message, and a long reply's dearest (milliseconds on 30 KB): for a
backlog it is done in the parsing helper (agent.mime.parse_ahead), beside the parse, so that the
agent's own process only reads the answers. A message parsed in place is read when a step first
asks (agent.handling.mail.pipeline.MailItem.reading).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.domain import InboundMessage
from agent.replies.opt_out_words import opt_out_words
from agent.replies.proposed_times import proposed_times
from agent.replies.reader import Reading, read_new, read_reply


@dataclass(frozen=True)
class TextReading:
    reply: Reading  # the words the sender wrote in this message (agent.replies.reader)
    opt_out: str | None  # the words asking to get no more email, if any
    times: tuple[str, ...]  # times for a call proposed in them, as written


def read_text(msg: InboundMessage) -> TextReading:
    name = msg.sender.name if msg.sender else ""
    # The parse cut the quoted history already (new_text): read from there, not cut twice.
    reply = read_new(msg.new_text, name) if "\r" not in msg.text else read_reply(msg.text, name)
    return TextReading(reply, opt_out_words(msg.subject, reply.said), tuple(proposed_times(reply.said)))
