"""imap cursors, content hashes, name index, match confidence, questions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 05:54:47.106576
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import agent.store.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cursors",
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", agent.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=200), nullable=False, server_default=""))
        batch_op.create_index(batch_op.f("ix_accounts_name_key"), ["name_key"], unique=False)

    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=200), nullable=False, server_default=""))
        batch_op.create_index(batch_op.f("ix_deals_name_key"), ["name_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_deals_account_id"), ["account_id"], unique=False)

    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_inbound_events_content_hash"), ["content_hash"], unique=False)

    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=1000), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("candidates", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.create_index(batch_op.f("ix_meetings_source"), ["source"], unique=False)

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("match_confidence", sa.Double(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("references", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.create_index(batch_op.f("ix_messages_status"), ["status"], unique=False)

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("about_message_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("delivery", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("review_of", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("about_meeting_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_outbox_about_meeting", "meetings", ["about_meeting_id"], ["id"])
        batch_op.create_foreign_key("fk_outbox_review_of", "outbox", ["review_of"], ["id"])
        batch_op.create_foreign_key("fk_outbox_about_message", "messages", ["about_message_id"], ["id"])
        batch_op.create_index("ix_outbox_status_sent", ["status", "sent_at"], unique=False)

    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timers_due_at"))
        batch_op.create_index("ix_timers_pending", ["fired_at", "due_at"], unique=False)
    # Existing names get their lookup key (lower case; new names are also space-normalised).
    op.execute("UPDATE accounts SET name_key = lower(name)")
    op.execute("UPDATE deals SET name_key = lower(name)")


def downgrade() -> None:
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_index("ix_timers_pending")
        batch_op.create_index(batch_op.f("ix_timers_due_at"), ["due_at"], unique=False)

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_sent")
        batch_op.drop_constraint("fk_outbox_about_message", type_="foreignkey")
        batch_op.drop_column("about_message_id")
        batch_op.drop_column("delivery")
        batch_op.drop_constraint("fk_outbox_review_of", type_="foreignkey")
        batch_op.drop_column("review_of")
        batch_op.drop_constraint("fk_outbox_about_meeting", type_="foreignkey")
        batch_op.drop_column("about_meeting_id")

    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meetings_source"))
        batch_op.drop_column("source")
        batch_op.drop_column("candidates")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_status"))
        batch_op.drop_column("match_confidence")
        batch_op.drop_column("references")

    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_events_content_hash"))
        batch_op.drop_column("content_hash")

    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deals_account_id"))
        batch_op.drop_index(batch_op.f("ix_deals_name_key"))
        batch_op.drop_column("name_key")

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_name_key"))
        batch_op.drop_column("name_key")

    op.drop_table("cursors")
