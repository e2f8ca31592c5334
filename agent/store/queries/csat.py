"""Survey answers: the surveys a reply may answer, and each contact's answer (the scorecard reads them)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from agent.store import models as m
from agent.store.queries.base import Queries

SURVEY = "survey"  # the survey's template name (a shipped contract)


class CsatQueries(Queries):
    def emails_cited(self, deal_id: int, message_ids: Iterable[str]) -> Sequence[m.OutboxEmail]:
        """The deal's own emails among these Message-IDs (a reply's In-Reply-To and References)."""
        ids = [i for i in message_ids if i]
        if not ids:
            return []
        q = select(m.OutboxEmail).where(m.OutboxEmail.deal_id == deal_id, m.OutboxEmail.message_id.in_(ids))
        return self.s.scalars(q.order_by(m.OutboxEmail.id)).all()

    def survey_sent_to(self, deal_id: int, email: str) -> m.OutboxEmail | None:
        """The latest survey of the deal that went to this address."""
        q = select(m.OutboxEmail).where(
            m.OutboxEmail.deal_id == deal_id,
            m.OutboxEmail.template == SURVEY,
            m.OutboxEmail.status == "sent",
        )
        for survey in self.s.scalars(q.order_by(m.OutboxEmail.id.desc())):
            if any(str(a.get("email", "")).lower() == email.lower() for a in survey.to):
                return survey
        return None

    def csat_answer(self, deal_id: int, email: str) -> m.CsatAnswer | None:
        q = select(m.CsatAnswer).where(
            m.CsatAnswer.deal_id == deal_id, m.CsatAnswer.contact_email == email.lower()
        )
        return self.s.scalars(q).first()

    def save_csat_answer(self, deal_id: int, email: str, **values: Any) -> int | None:
        """The contact's answer, stored or replacing their earlier one: the earlier score, if any."""
        answer = self.csat_answer(deal_id, email)
        if answer is None:
            self.add(m.CsatAnswer(deal_id=deal_id, contact_email=email.lower(), **values))
            return None
        before = answer.score
        for name, value in values.items():
            setattr(answer, name, value)
        self.s.flush()
        return before

    def csat_answers_of(self, deal_id: int) -> Sequence[m.CsatAnswer]:
        q = select(m.CsatAnswer).where(m.CsatAnswer.deal_id == deal_id)
        return self.s.scalars(q.order_by(m.CsatAnswer.answered_at, m.CsatAnswer.id)).all()

    def survey_answers(self, since: datetime | None = None) -> Sequence[m.CsatAnswer]:
        """Every contact's answer (answered since then), in time order."""
        q = select(m.CsatAnswer)
        if since is not None:
            q = q.where(m.CsatAnswer.answered_at >= since)
        return self.s.scalars(q.order_by(m.CsatAnswer.answered_at, m.CsatAnswer.id)).all()
