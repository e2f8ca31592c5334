"""The two documented forms of an edited draft, and nothing else.

A reviewer's own words go to a client only in one of these forms:

1. A marker line, as the first thing they say: "Edit:" (or "Replace with:", "Geändert:",
   "Modifié :", ... — EDIT_MARKERS), followed by the text to send, on the same line or below.
   The text runs to the quoted history; a "-- " signature and a phone's footer are left out.
2. The draft quoted back with changes: the review request shows the draft between a
   "---------- draft ----------" line and a line of dashes; the reviewer edits it there, quoted
   ("> ") or not, and replies. The block is compared with the draft, spaces and line breaks
   aside (mail clients re-wrap quoted text); only a changed block is an edit.

Free text without either form is not an edit: the reviewer is asked what they meant.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

EDIT_MARKERS = (
    "edit", "edited", "edited text", "edited version", "new text", "replace with", "send this instead",
    "send instead", "send this text",
    "änderung", "geändert", "geänderter text", "neuer text", "stattdessen senden", "stattdessen",
    "modifié", "modification", "texte modifié", "nouveau texte", "envoyer plutôt", "envoie plutôt",
    "remplacer par",
)  # fmt: skip
_MARKER = re.compile(
    rf"^\s*[\[(]?(?:{'|'.join(re.escape(m) for m in EDIT_MARKERS)})[\])]?\s*:\s*(?P<rest>.*)$", re.IGNORECASE
)
_GREETING = re.compile(r"^\s*(?:hi|hello|hey|hallo|bonjour|salut)\b[^.!?:]{0,30}[,!]?\s*$", re.IGNORECASE)
DRAFT_START = re.compile(r"^-{3,}\s*draft\s*-{3,}$", re.IGNORECASE)
DRAFT_END = re.compile(r"^-{10,}$")
_QUOTE = re.compile(r"^(?:\s*>)+ ?")


@dataclass(frozen=True)
class QuotedDraft:
    found: bool  # the reply holds the draft's block, quoted back
    changed: str | None  # the block's text when it differs from the draft; None when it does not


def marked_edit(new: str) -> str | None:
    """The text under an "Edit:" line at the head of the reply (a greeting line may come first)."""
    lines = new.strip().split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip() and not _GREETING.match(line)), None)
    if first is None:
        return None
    marker = _MARKER.match(lines[first])
    if marker is None:
        return None
    return "\n".join([marker.group("rest"), *lines[first + 1 :]]).strip()


def quoted_draft(text: str, versions: Sequence[str]) -> QuotedDraft:
    """The draft's block in the whole reply (quotes included), and whether the reviewer changed it.

    ``versions`` are the draft's texts the reviewer may have seen: the one in the review request
    and the one held now (a CSM's note on the call writes the held draft again). A block equal
    to any of them is no edit.
    """
    body = draft_block(text)
    if body is None:
        return QuotedDraft(False, None)
    if any(_words(body) == _words(v) for v in versions):
        return QuotedDraft(True, None)
    return QuotedDraft(True, body + "\n")


def draft_block(text: str) -> str | None:
    """The text between the draft's two lines (quote marks and its Subject line aside); None without both."""
    lines = [_QUOTE.sub("", line).rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    start = next((i for i, line in enumerate(lines) if DRAFT_START.match(line.strip())), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if DRAFT_END.match(lines[i].strip())), None)
    if end is None:
        return None  # cut short: not the whole draft, so no edit of it
    block = lines[start + 1 : end]
    while block and not block[0].strip():
        block.pop(0)
    if block and block[0].strip().lower().startswith("subject:"):
        block.pop(0)  # the draft's subject is shown for reading; it is not part of the text
    return "\n".join(block).strip()


def _words(text: str) -> list[str]:
    return text.replace("\xa0", " ").split()
