"""csat_answers: each client contact's survey answer, its score on the survey's scale, the words and the comment

Before this, a deal had one CSAT (deals.csat) and each answer was an audit line `csat_recorded`;
reports read those lines. The latest such answer of each deal is carried over, so that reports
and charts keep the past, when it is a score the shipped 1-5 survey allows: others were read
from words that were no answer to it ("9" of "9/10"), and are left in the audit trail only.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

import agent.store.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    answers = op.create_table(
        "csat_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("scale_min", sa.Integer(), nullable=False),
        sa.Column("scale_max", sa.Integer(), nullable=False),
        sa.Column("original", sa.Text(), nullable=False),
        sa.Column("normalised", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("answered_at", agent.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"]),
        sa.ForeignKeyConstraint(["survey_id"], ["outbox.id"], name="fk_csat_survey"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("deal_id", "contact_email"),
    )
    with op.batch_alter_table("csat_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_csat_answers_deal_id"), ["deal_id"], unique=False)
    rows = _earlier_answers()
    if rows:
        op.bulk_insert(answers, rows)


def _earlier_answers() -> list[dict[str, Any]]:
    """The latest `csat_recorded` line of each deal, as one answer of the contact it names."""
    audit = sa.table(
        "audit_log",
        sa.column("id", sa.Integer()),
        sa.column("deal_id", sa.Integer()),
        sa.column("at", agent.store.models.UTCDateTime(timezone=True)),
        sa.column("kind", sa.String()),
        sa.column("reason", sa.Text()),
        sa.column("details", sa.JSON()),
    )
    query = (
        sa.select(audit.c.deal_id, audit.c.at, audit.c.reason, audit.c.details)
        .where(audit.c.kind == "csat_recorded", audit.c.deal_id.is_not(None))
        .order_by(audit.c.at, audit.c.id)
    )
    latest: dict[int, dict[str, Any]] = {}
    for deal_id, at, reason, details in op.get_bind().execute(query):
        score = (details or {}).get("score")
        if type(score) is not int or not 1 <= score <= 5:
            continue
        who = (reason or "").split(" ", 1)[0].lower()  # "jane@acme.example rated onboarding 4"
        latest[deal_id] = {
            "deal_id": deal_id,
            "contact_email": who if "@" in who else "",
            "score": score,
            "scale_min": 1,
            "scale_max": 5,
            "original": str(score),
            "normalised": False,
            "comment": "",
            "survey_id": None,
            "message_id": "",
            "answered_at": at,
        }
    return list(latest.values())


def downgrade() -> None:
    with op.batch_alter_table("csat_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_csat_answers_deal_id"))
    op.drop_table("csat_answers")
