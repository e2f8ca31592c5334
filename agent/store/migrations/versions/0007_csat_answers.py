"""csat_answers: each client contact's survey answer, its score on the survey's scale, the words and the comment

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import agent.store.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
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


def downgrade() -> None:
    with op.batch_alter_table("csat_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_csat_answers_deal_id"))
    op.drop_table("csat_answers")
