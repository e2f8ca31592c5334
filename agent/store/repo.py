"""The one access to the store that callers use: `Repo(session)`, over one transaction.

Repo only composes the query modules of agent.store.queries (one per subject), the way
Radicale's storage builds its collection from parts; what every part needs (the session,
`add`, `insert`, `_ids`) is their shared base, and the audit line, which every part's
callers write, is here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agent.store import audit_lines
from agent.store.queries.addresses import AddressQueries
from agent.store.queries.chat import ChatQueries
from agent.store.queries.csat import CsatQueries
from agent.store.queries.cursors import CursorQueries
from agent.store.queries.deals import DealQueries
from agent.store.queries.directory import DirectoryQueries
from agent.store.queries.events import EventQueries
from agent.store.queries.history import HistoryQueries
from agent.store.queries.issues import IssueQueries
from agent.store.queries.leases import LeaseQueries
from agent.store.queries.meetings import MeetingQueries
from agent.store.queries.messages import MessageQueries
from agent.store.queries.outbox import OutboxQueries
from agent.store.queries.people_ahead import PeopleAheadQueries
from agent.store.queries.reports import ReportQueries
from agent.store.queries.stages import StageQueries
from agent.store.queries.tasks import TaskQueries
from agent.store.queries.timers import TimerQueries


class Repo(
    DealQueries,
    DirectoryQueries,
    PeopleAheadQueries,
    EventQueries,
    CursorQueries,
    MessageQueries,
    MeetingQueries,
    TaskQueries,
    StageQueries,
    TimerQueries,
    OutboxQueries,
    LeaseQueries,
    AddressQueries,
    HistoryQueries,
    ReportQueries,
    CsatQueries,
    ChatQueries,
    IssueQueries,
):
    """Thin, typed access to the store; implements matching.Directory."""

    def audit(
        self,
        at: datetime,
        kind: str,
        *,
        deal_id: int | None,
        event_id: int | None,
        rule: str = "",
        reason: str = "",
        **details: Any,
    ) -> None:
        name = self.deal_name(deal_id) if deal_id else ""
        story = f"{name}: " if name else ""
        story += reason or kind.replace("_", " ")
        story += f" (rule {rule})" if rule and rule not in story else ""
        # Written with the transaction's other lines when it commits, and told in the log then
        # (agent.store.audit_lines): what the agent did and why.
        row = dict(at=at, kind=kind, deal_id=deal_id, event_id=event_id, rule=rule, reason=reason)
        audit_lines.hold(self.s, {**row, "details": details}, story)
