"""Meetings, by calendar identity or by deal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from agent.store import models as m
from agent.store.queries.base import Queries

# Built once, with bound parameters: every invitation asks it (building it cost more than SQLite ran it).
_BY_IDENTITY = select(m.Meeting).where(
    m.Meeting.uid == bindparam("uid"), m.Meeting.recurrence_id == bindparam("recurrence_id")
)


class MeetingQueries(Queries):
    def meeting(self, uid: str, recurrence_id: str) -> m.Meeting | None:
        return self.s.scalars(_BY_IDENTITY, {"uid": uid, "recurrence_id": recurrence_id}).first()

    def occurrences(self, uid: str) -> Sequence[m.Meeting]:
        """The stored meetings of one calendar UID (a series' occurrences), in order of start."""
        q = select(m.Meeting).where(m.Meeting.uid == uid).order_by(m.Meeting.start)
        return self.s.scalars(q).all()

    def meeting_by_id(self, meeting_id: int) -> m.Meeting | None:
        return self.s.get(m.Meeting, meeting_id)

    def meetings_from(self, source: str) -> Sequence[m.Meeting]:
        return self.s.scalars(select(m.Meeting).where(m.Meeting.source == source)).all()

    def unclaimed_meetings(self, ends_after: datetime) -> Sequence[m.Meeting]:
        """Scheduled meetings of no deal that nobody is being asked about, ending after then."""
        q = select(m.Meeting).where(
            m.Meeting.deal_id.is_(None), m.Meeting.status == "scheduled", m.Meeting.end > ends_after
        )
        return [meeting for meeting in self.s.scalars(q.order_by(m.Meeting.start)) if not meeting.candidates]

    def meetings_for(self, deal_id: int) -> Sequence[m.Meeting]:
        q = select(m.Meeting).where(m.Meeting.deal_id == deal_id).order_by(m.Meeting.start)
        return self.s.scalars(q).all()

    def meeting_types_by_status(self, deal_id: int) -> dict[str, set[str]]:
        """status -> the meeting types on the deal in it, in one query (the rules' facts need several)."""
        out: dict[str, set[str]] = {}
        for kind, status in self.s.execute(
            select(m.Meeting.type, m.Meeting.status).where(m.Meeting.deal_id == deal_id)
        ):
            if kind:
                out.setdefault(status, set()).add(kind)
        return out

    def busy(self, emails: Sequence[str], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """(start, end) of the meetings overlapping [start, end) that any of `emails` organises or
        attends, cancelled ones aside, in order: what the calendar backend lets the agent see of their
        time (a free slot is looked for around it).

        One query over the window; the people are picked out here, since reading a JSON list
        is spelled differently by SQLite and PostgreSQL. A stranger's recurring series is stored as
        its first occurrence only (`series`), so its later occurrences do not show as busy.
        """
        people = {e.strip().lower() for e in emails if e.strip()}
        if not people:
            return []
        q = select(m.Meeting.start, m.Meeting.end, m.Meeting.organizer, m.Meeting.attendees).where(
            m.Meeting.start < end, m.Meeting.end > start, m.Meeting.status != "cancelled"
        )
        found = {
            (begins, ends)
            for begins, ends, organizer, attendees in self.s.execute(q)
            if (organizer or "").lower() in people or people & _emails(attendees)
        }
        return sorted(found)

    def meeting_outcomes(self) -> list[tuple[int | None, str, datetime]]:
        """(deal id, status, end) of every meeting: what the scorecard counts as held or missed."""
        q = select(m.Meeting.deal_id, m.Meeting.status, m.Meeting.end)
        return [(deal_id, status, end) for deal_id, status, end in self.s.execute(q)]


def _emails(attendees: list[Any] | None) -> set[str]:
    """The lower-cased addresses of a meeting's stored attendees ({"email", "name"} each)."""
    return {str(a.get("email", "")).lower() for a in attendees or [] if isinstance(a, dict)}
