"""task RACI: who marked a task done and who approved it, the last rejection, the Consulted people's
answers; a rule's stage move that waits for the stage's tasks; requests about a task

Existing tasks keep their status (open or done): none was waiting for an approval before this.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("done_by", sa.String(length=320), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("approved_by", sa.String(length=320), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("rejection", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("consults", sa.JSON(), nullable=False, server_default="[]"))

    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_move", sa.JSON(), nullable=False, server_default="{}"))

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("about_task_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_outbox_about_task", "tasks", ["about_task_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint("fk_outbox_about_task", type_="foreignkey")
        batch_op.drop_column("about_task_id")

    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_column("held_move")

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("consults")
        batch_op.drop_column("rejection")
        batch_op.drop_column("approved_by")
        batch_op.drop_column("done_by")
