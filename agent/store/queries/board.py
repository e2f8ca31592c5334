"""What the board's cards show, for all its deals at once: one query per kind of fact, not one per deal.

Not a mixin of Repo: only the board reads these, so it builds them over its own session.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from agent.store import models as m
from agent.store.queries.base import Queries

CSM = "csm"
REVIEW = "review"  # agent.outbox.status.Status.REVIEW: held until a person decides


class BoardQueries(Queries):
    def board_deals(self, pipeline: str, csm: str = "") -> Sequence[m.Deal]:
        """The pipeline's deals, or with `csm` (an address) that CSM's deals in every pipeline, with
        their people and account loaded (a query for each, not one per deal)."""
        q = select(m.Deal).options(
            selectinload(m.Deal.roles), selectinload(m.Deal.contacts), selectinload(m.Deal.account)
        )
        q = q.where(m.Deal.id.in_(_of_csm(csm)) if csm else m.Deal.pipeline == pipeline)
        return self.s.scalars(q.order_by(m.Deal.id)).all()

    def deals_per_pipeline(self, csm: str = "") -> dict[str, int]:
        """Pipeline -> how many deals it has (the CSM's only, with `csm`)."""
        q = select(m.Deal.pipeline, func.count()).group_by(m.Deal.pipeline)
        if csm:
            q = q.where(m.Deal.id.in_(_of_csm(csm)))
        return {pipeline: int(n) for pipeline, n in self.s.execute(q)}

    def csms(self) -> dict[str, str]:
        """Every CSM named on a deal: address (lower-cased) -> name (the address when none is known)."""
        q = select(m.RoleAssignment.email, m.RoleAssignment.name).where(m.RoleAssignment.role == CSM)
        found: dict[str, str] = {}
        for email, name in self.s.execute(q.order_by(m.RoleAssignment.id)):
            if email:
                found[email.lower()] = found.get(email.lower()) or name or email
        return found

    def stage_entries(self, deal_ids: Collection[int]) -> dict[int, datetime]:
        """When each deal entered the stage it is in (its open stay)."""
        q = select(m.StageVisit.deal_id, m.StageVisit.entered_at).where(
            m.StageVisit.exited_at.is_(None), m.StageVisit.deal_id.in_(deal_ids)
        )
        return {deal_id: at for deal_id, at in self.s.execute(q.order_by(m.StageVisit.id))}

    def unfinished_tasks(self, deal_ids: Collection[int]) -> dict[int, list[m.Task]]:
        """Each deal's tasks not done: open, or waiting for their Accountable person's approval."""
        q = select(m.Task).where(m.Task.deal_id.in_(deal_ids), m.Task.status != "done")
        return _by_deal(self.s.scalars(q.order_by(m.Task.id)))

    def meetings_since(self, deal_ids: Collection[int], since: datetime) -> dict[int, list[m.Meeting]]:
        """Each deal's meetings starting from `since` on, cancelled ones aside, in order of start."""
        q = select(m.Meeting).where(
            m.Meeting.deal_id.in_(deal_ids), m.Meeting.start >= since, m.Meeting.status != "cancelled"
        )
        return _by_deal(self.s.scalars(q.order_by(m.Meeting.start)))

    def held_emails(self, deal_ids: Collection[int]) -> dict[int, list[tuple[m.OutboxEmail, list[Any]]]]:
        """Each deal's emails held for a person's review or approval, with the people asked (the `to`
        of the review request the agent sent them: {email, name} each; empty when none went)."""
        held = list(
            self.s.scalars(
                select(m.OutboxEmail)
                .where(m.OutboxEmail.deal_id.in_(deal_ids), m.OutboxEmail.status == REVIEW)
                .order_by(m.OutboxEmail.id)
            )
        )
        asked: dict[int, list[Any]] = defaultdict(list)
        requests = select(m.OutboxEmail.review_of, m.OutboxEmail.to).where(
            m.OutboxEmail.review_of.in_([e.id for e in held])
        )
        for draft, to in self.s.execute(requests):
            asked[draft] += list(to or [])
        out: dict[int, list[tuple[m.OutboxEmail, list[Any]]]] = defaultdict(list)
        for email in held:
            if email.deal_id is not None:
                out[email.deal_id].append((email, asked[email.id]))
        return dict(out)

    def pending_approvals(self, deal_ids: Collection[int]) -> dict[int, list[m.Approval]]:
        """Each deal's requests to leave its stage that wait for their approver."""
        q = select(m.Approval).where(m.Approval.deal_id.in_(deal_ids), m.Approval.status == "pending")
        return _by_deal(self.s.scalars(q.order_by(m.Approval.id)))


def _of_csm(csm: str) -> Any:
    roles = m.RoleAssignment
    return select(roles.deal_id).where(roles.role == CSM, func.lower(roles.email) == csm.lower())


def _by_deal(rows: Any) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        out[row.deal_id].append(row)
    return dict(out)
