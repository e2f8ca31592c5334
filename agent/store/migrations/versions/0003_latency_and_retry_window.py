"""outbox: when an email became ready (for the arrival-to-action latency) and its first attempt

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 07:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import agent.store.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ready_at", agent.store.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("first_attempt_at", agent.store.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("first_attempt_at")
        batch_op.drop_column("ready_at")
