"""A recurring series that no deal claims is stored once, not occurrence by occurrence.

Anyone can send the agent an invitation, and a calendar collects them. Expanded, a stranger's
daily series became up to [calendar] max_occurrences meeting rows (six invitations once made
21,907), none of which the agent would ever act on. So a series whose meetings match no deal is
stored as one meeting, its first occurrence in the window, with the series' calendar text kept
on it (`Meeting.series`); `MeetingHandler` expands that text into the other occurrences when a
deal claims the meeting (a hand-over, a person's answer, a new version that matches).

One look decides for the whole series: its occurrences share organiser and attendees, which is
what matching reads. An occurrence changed to invite other people (a rare exception) is seen
when the series is expanded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from agent.domain import MeetingVersion
from agent.matching import Party, match_meeting
from agent.store.repo import Repo


def to_store(
    versions: Sequence[MeetingVersion], repo: Repo, party: Party
) -> list[tuple[MeetingVersion, bool]]:
    """The versions to store, each with whether it stands for a whole series kept once."""
    by_uid: dict[str, list[MeetingVersion]] = {}
    for mv in versions:
        by_uid.setdefault(mv.uid, []).append(mv)
    plan: list[tuple[MeetingVersion, bool]] = []
    for uid, group in by_uid.items():
        occurrences = [mv for mv in group if mv.recurrence_id]
        if len(occurrences) < 2 or _claimed(repo, uid, occurrences[0], party):
            plan += [(mv, False) for mv in group]
            continue
        plan += [(mv, False) for mv in group if not mv.recurrence_id]
        plan.append((occurrences[0], True))
    return plan


def recurring(versions: Sequence[MeetingVersion]) -> bool:
    """Whether any UID comes with several occurrences: only then does `to_store` read the store."""
    uids = [mv.uid for mv in versions if mv.recurrence_id]
    return len(uids) > len(set(uids))


def _claimed(repo: Repo, uid: str, first: MeetingVersion, party: Party) -> bool:
    stored = repo.occurrences(uid)
    if any(meeting.deal_id is not None for meeting in stored):
        return True
    # A person is being asked about it, or was: its answer expands the series (not a second question).
    if any(meeting.candidates for meeting in stored):
        return False
    return match_meeting(first, repo, party).deal_id is not None


def series_text(parts: Iterable[bytes]) -> str:
    """The calendar data to keep for a series (an invitation may carry it in several parts)."""
    return "\r\n".join(part.decode("utf-8", "replace") for part in parts)
