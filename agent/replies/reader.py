"""The words a person wrote in this reply: no quoted history, no mobile footer, no signature.

Quoted history ("> " lines, "On ... wrote:" and its translations, Outlook's "From: / Sent:"
block and "-----Original Message-----") is cut by agent.mime.quoting, which every inbound
message already goes through. Here the rest of what a person did not type for this answer
goes: the footer a phone adds in the person's own language, the "-- " signature, and a
signature typed or pasted without a separator (agent.replies.signature).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from agent.mime.quoting import strip_quoted
from agent.replies.signature import signature_start

# What phones and mail apps add under a message, in the languages our people write in.
MOBILE_FOOTERS = (
    r"sent from my .{1,40}",
    r"sent from (?:outlook|mail|yahoo mail|gmail|proton ?mail|my phone)\b.{0,40}",
    r"sent (?:with|via|using) (?:proton ?mail|superhuman|spark|blackberry|samsung email|airmail)\b.{0,30}",
    r"get outlook for .{1,20}",
    r"von meinem .{1,40} gesendet",
    r"gesendet (?:von|vom|mit|aus) .{1,40}",
    r"envoyé (?:de|depuis|à partir de|avec) .{1,40}",
    r"(?:obtenir|télécharger) outlook pour .{1,20}",
    r"enviado desde .{1,40}",
    r"verstuurd vanaf .{1,40}",
    r"inviato da .{1,40}",
)
_FOOTER = re.compile(rf"^\s*(?:{'|'.join(MOBILE_FOOTERS)})\s*\.?\s*$", re.IGNORECASE)
# "-- " is the standard separator (RFC 3676); people also type a dash or two of other kinds.
_SEPARATOR = re.compile(r"^\s*(?:--|—|–|-{2,3}\s*|_{2,6})\s*$")


@dataclass(frozen=True)
class Reading:
    """One reply, read."""

    new: str  # written in this message: no quoted history, no mobile footer, no "-- " signature
    said: str  # `new` without the signature typed or pasted under it: what the person said
    signature: str  # what was taken for that signature ("" when none)


@lru_cache(maxsize=4)
def read_reply(text: str, sender_name: str = "") -> Reading:
    """Read a reply's text (its whole body, quotes and all); ``sender_name`` helps find the signature.

    Kept for the last four texts (a text part is read up to 256 KB, agent.mime.limits): a
    message's steps (its opt-out, its answers, its forward to the CSM) each read the same text, and
    the signature's search is the dearer part of a long one. A Reading cannot be changed, so a kept
    one is as good as a new one."""
    return read_new(strip_quoted(text.replace("\r\n", "\n").replace("\r", "\n")), sender_name)


def read_new(new: str, sender_name: str = "") -> Reading:
    """`read_reply` of a text already cut of its quoted history (a parsed message's `new_text`).

    What is left unchanged is the same string, not a copy: a message read in the parsing helper
    comes back pickled, and pickle writes a string it has seen once (agent.mime.parse_ahead)."""
    lines = new.split("\n")
    for i, line in enumerate(lines):
        if _FOOTER.match(line) or _SEPARATOR.match(line):
            new = "\n".join(lines[:i])  # everything under a footer or a separator is not what they said
            break
    new = new.strip()
    lines = new.split("\n")
    start = signature_start(lines, sender_name)
    said = new if start >= len(lines) else "\n".join(lines[:start]).strip()
    return Reading(new=new, said=said, signature="\n".join(lines[start:]).strip())
