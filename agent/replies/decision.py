"""An Accountable person's answer to "approve this task?": approve, reject with why, or unclear.

The answer is read as agent.replies.intent reads a review answer (quotes, footers and the
signature aside; phrase tables; "ok but change the date" is unclear, never an approval). A
rejection may carry its reason on the same line: "reject: the import missed half the users",
"Declined - no SSO yet", "No, the trainers were not told": the words after the verb are the
reason the Responsible person is told. A bare "no" is a rejection only with a mark after it
("No, ..." / "No - ..."): "no problem" approves, by the phrase table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.replies.intent import Intent, intent_of
from agent.replies.reader import read_reply

_REJECT = re.compile(
    r"^\s*(?:i\s+)?(?:(?:reject|rejected|decline|declined|deny|denied|not\s+approved|"
    r"(?:do\s+not|don'?t)\s+approve)\b|no\s*[,.:;!–—-])[\s:,.;!–—-]*(?P<why>.*)",
    re.IGNORECASE | re.DOTALL,
)
WHY_MAX = 1000  # characters of a reason kept: it is told to a person, not archived


@dataclass(frozen=True)
class Decision:
    intent: Intent  # APPROVE, CANCEL (rejected) or UNCLEAR
    why: str  # a rejection's reason ("" when none was given)
    said: str  # what the person wrote, quotes and signature aside
    reason: str  # what was understood, or what was not (for the audit trail and the question back)


def decision_of(text: str, sender_name: str = "") -> Decision:
    """Read a reply's whole body (quotes and all)."""
    said = read_reply(text, sender_name).said
    read = intent_of(said, sender_name)
    if read.intent is Intent.APPROVE:
        return Decision(Intent.APPROVE, "", said, read.reason)
    rejected = _REJECT.match(said)
    if rejected is not None:
        why = " ".join(rejected.group("why").split())[:WHY_MAX]
        return Decision(Intent.CANCEL, why, said, f'"{" ".join(said.split())[:80]}"')
    if read.intent is Intent.CANCEL:
        return Decision(Intent.CANCEL, "", said, read.reason)
    return Decision(Intent.UNCLEAR, "", said, read.reason)
