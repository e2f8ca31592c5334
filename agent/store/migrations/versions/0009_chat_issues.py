"""hybrid accounts: chat posts (the outbox of chat notifications), issues with their severity, a
deal's own chat channels, a message's severity, an email held for a department's approval, and the
iCalendar request an email carries

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 15:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from agent.store.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_posts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deals.id"), nullable=True, index=True),
        sa.Column("channel", sa.String(length=120), nullable=False),
        sa.Column("idempotency_key", sa.String(length=500), nullable=False, unique=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_attempt_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("remote_id", sa.String(length=80), nullable=False),
        sa.Column("rule", sa.String(length=120), nullable=False),
    )
    op.create_index("ix_chat_posts_status_due", "chat_posts", ["status", "due_at"])
    op.create_table(
        "issues",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deals.id"), nullable=False, index=True),
        sa.Column(
            "message_id", sa.Integer(), sa.ForeignKey("messages.id", name="fk_issue_message"), nullable=True
        ),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("confirmed", sa.String(length=10), nullable=False),
        sa.Column("confirmed_by", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("ticket", sa.String(length=80), nullable=False),
        sa.Column("reported_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_channels", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("severity", sa.String(length=10), nullable=False, server_default=""))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("approver_role", sa.String(length=80), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("calendar_ics", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("about_issue_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_outbox_about_issue", "issues", ["about_issue_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint("fk_outbox_about_issue", type_="foreignkey")
        batch_op.drop_column("about_issue_id")
        batch_op.drop_column("calendar_ics")
        batch_op.drop_column("approver_role")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("severity")
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_column("chat_channels")
    op.drop_table("issues")
    op.drop_index("ix_chat_posts_status_due", table_name="chat_posts")
    op.drop_table("chat_posts")
