"""What a reviewer's reply to a review request decides: send the draft, drop it, send an edit, or ask.

Pure: the reply's whole text and the draft in, a verdict out. The order of the rules:

1. "cancel" and its kin (agent.replies.intent): nothing goes, whatever else the reply holds.
2. An edit in one of its documented forms (agent.replies.edits): that text goes instead. An
   "Edit:" line and a changed quoted draft at once are two texts: unclear.
3. "send" and its kin: the draft goes as it is (the draft quoted back unchanged is no edit).
4. Anything else is unclear: nothing goes, and the reviewer is asked back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.replies.edits import marked_edit, quoted_draft
from agent.replies.intent import Intent, intent_of
from agent.replies.reader import read_reply


@dataclass(frozen=True)
class Verdict:
    intent: Intent
    reason: str  # for the audit trail, and for the reviewer when they are asked back
    said: str  # what the reviewer wrote, without quotes and signature (quoted back to them if unclear)
    edit: str = ""  # the text to send instead, for an EDIT


def read_review(text: str, drafts: Sequence[str], sender_name: str = "") -> Verdict:
    """Decide a reply to a review request.

    ``text`` is the reply's whole body; ``drafts`` the draft's texts the reviewer may have seen
    (as the review request showed it, and as it is held now).
    """
    reading = read_reply(text, sender_name)
    said = intent_of(reading.said, sender_name)
    if said.intent is Intent.CANCEL:
        return Verdict(Intent.CANCEL, said.reason, reading.said)
    marked = marked_edit(reading.new)
    quoted = quoted_draft(text, drafts)
    if marked is not None and quoted.changed is not None:
        return Verdict(Intent.UNCLEAR, "both an Edit: line and changes in the quoted draft", reading.said)
    edit = marked if marked is not None else quoted.changed
    if edit is not None:
        if not edit.strip():
            return Verdict(Intent.UNCLEAR, "the edited text is empty", reading.said)
        form = "the text under an Edit: line" if marked is not None else "the draft quoted back with changes"
        return Verdict(Intent.EDIT, form, reading.said, edit.strip() + "\n")
    if said.intent is Intent.APPROVE:
        return Verdict(Intent.APPROVE, said.reason, reading.said)
    return Verdict(Intent.UNCLEAR, said.reason, reading.said)
