"""What one message may cost to read, and what the agent does with the part of it beyond that.

Anyone can send the agent an email, and ordinary bad mail (a mailer's runaway header, a
thousand nested parts, a 20 MB pasted log) must not take the worker's memory with it: the
standard library's parser holds about eight times what it is given, and its header parser some
four hundred times a header's size. So a message is never given to it whole. agent.mime.skeleton
hands it the message's structure with the header lines and the bodies the agent reads (text,
calendar parts, delivery reports) inside the limits below; every other body (attachments) is
left out and only its name, type and size are recorded. Memory then follows the limits, not
the message: the raw bytes once, and a few MB of parsing.

A message over a limit is **kept, never quarantined** (an input with no header line left to
read is the one exception: it is not an email). Quarantine would hold a client's real mail away
from its deal until someone looked in the quarantine; kept, it is on its deal's timeline at once,
matched by its headers, for a human to read in the mailbox. Two degrees:

- **Cut** (the message still says what it said): a text part over `text_part` is cut there; a
  calendar part over `calendar_part` is not read (no meeting is taken from it); a message over
  [mailbox] max_message_mb is read by its headers only. The agent handles it as usual, with a
  note at the end of its text naming what was left out.
- **Degraded** (what is left might not say what the message said): a header line over
  `header_line` or headers past `header_block` are left out (the dropped one may have been
  Auto-Submitted, or a recipient list), parts nested deeper than `depth`, parts after the
  `parts`-th, and parts past `read_bytes` of what is read in all. The message is logged on its
  deal but **never answered** and never moves the deal (as an auto-reply); its reason names
  the limit and the size, e.g. "a header line of 1,048,576 bytes (X-Junk) over the 64 KB limit
  was left out".

The limits are generous for real mail (the longest real header lines are References of long
threads and anti-spam stamps, a few KB; what the agent reads of a body is its top: the new text,
commands in its first lines, forwards) and are not settings: they bound the process, and the
cost of everything downstream that reads a message's text, not taste.
"""

from __future__ import annotations

from dataclasses import dataclass

KB = 1024
MB = 1024 * KB


@dataclass(frozen=True)
class Limits:
    header_line: int = 64 * KB  # one header field, with its folded continuation lines
    header_block: int = 256 * KB  # one header block (a message's or a part's)
    depth: int = 50  # multiparts inside multiparts
    parts: int = 500  # parts of one message, containers included
    text_part: int = 256 * KB  # of one text/plain or text/html body, encoded: some fifty pages of text
    calendar_part: int = 1 * MB  # of one calendar part: a real invitation is a few KB
    read_bytes: int = 4 * MB  # all that is given to the parser for one message


LIMITS = Limits()


def size(n: int) -> str:
    """A limit as people say it: 64 KB, 1 MB."""
    return f"{n // MB} MB" if n % MB == 0 else f"{n // KB} KB" if n % KB == 0 else f"{n:,} bytes"


def note(cut: list[str], degraded: list[str]) -> str:
    """The line appended to a message's text when something of it was not read."""
    said = "; ".join([*degraded, *cut])
    tail = " It is never answered." if degraded else ""
    return f"(Not all of this message was read: {said}.{tail} The original stays in the mailbox.)"
