"""Real meeting invitation bodies, as the calendar parser hands them over (tests/data/invitations)."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message
from email.policy import default
from pathlib import Path

import icalendar

DATA = Path(__file__).resolve().parent / "data"
INVITATIONS = DATA / "invitations"
PROVIDERS = ["teams-en", "teams-new", "zoom", "meet", "webex"]
AGENDA = "Agenda: your goals, the timeline and who does what."  # the line above each provider's part


def invitation(provider: str) -> str:
    return (INVITATIONS / f"{provider}.txt").read_text(encoding="utf-8")


def corpus_teams_description() -> str:
    """The Finnish Teams invitation of the shared corpus, its DESCRIPTION as the calendar parser reads it."""
    msg = message_from_bytes(
        (DATA / "corpus/eml/thunderbird_teams-meeting-invite.eml").read_bytes(), policy=default
    )
    part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
    assert isinstance(part, Message)
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    [event] = icalendar.Calendar.from_ical(payload).walk("VEVENT")
    return str(event["DESCRIPTION"])
