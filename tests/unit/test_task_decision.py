"""agent.replies.decision: an Accountable person's answer to "approve this task?", read as people write."""

from __future__ import annotations

import pytest

from agent.replies.decision import decision_of
from agent.replies.intent import Intent


@pytest.mark.parametrize(
    ("text", "intent", "why"),
    [
        ("approve", Intent.APPROVE, ""),
        ("Approved, thanks!\n\nOlivia", Intent.APPROVE, ""),
        ("no problem, approved", Intent.APPROVE, ""),  # "no problem" is no "no"
        ("ok\n\nOn Monday, the agent wrote:\n> approve or reject?", Intent.APPROVE, ""),
        ("reject", Intent.CANCEL, ""),
        (
            "Reject: the London office's users are missing",
            Intent.CANCEL,
            "the London office's users are missing",
        ),
        ("rejected because the\ninterns are missing", Intent.CANCEL, "because the interns are missing"),
        ("Declined - no SSO yet", Intent.CANCEL, "no SSO yet"),
        ("No, the trainers were not told.", Intent.CANCEL, "the trainers were not told."),
        ("I don't approve: wrong file", Intent.CANCEL, "wrong file"),
        ("ok but change the date", Intent.UNCLEAR, ""),
        ("Did they include the archived users?", Intent.UNCLEAR, ""),
        ("", Intent.UNCLEAR, ""),
    ],
)
def test_approve_reject_with_why_or_unclear(text: str, intent: Intent, why: str) -> None:
    decision = decision_of(text, "Olivia Grant")
    assert (decision.intent, decision.why) == (intent, why)
