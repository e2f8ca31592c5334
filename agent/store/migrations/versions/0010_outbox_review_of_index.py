"""an index on the outbox's review_of: each email sent looks up the request that confirmed it

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 17:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_review_of", "outbox", ["review_of"])


def downgrade() -> None:
    op.drop_index("ix_outbox_review_of", table_name="outbox")
