"""leases (which worker watches which source) and outbox claims (which worker is sending an email)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 08:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import agent.store.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", agent.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("claimed_until", agent.store.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
    op.drop_table("leases")
