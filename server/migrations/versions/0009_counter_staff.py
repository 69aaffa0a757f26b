"""counter_staff: the counters each staff member may work at

Until now every staff member could pick and work any counter of their center. A
staff member now works only at the counters assigned to them (managers and admins at
every counter of their center). So that nobody is locked out by the upgrade, every
existing account is assigned every counter of its center, as before; managers
narrow it on the admin page.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "counter_staff",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("counter_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["counter_id"],
            ["counters.id"],
            name=op.f("fk_counter_staff_counter_id_counters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_counter_staff_staff_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("staff_id", "counter_id", name=op.f("pk_counter_staff")),
    )
    op.create_index(
        op.f("ix_counter_staff_counter_id"), "counter_staff", ["counter_id"], unique=False
    )
    op.execute(
        "INSERT INTO counter_staff (staff_id, counter_id) "
        "SELECT staff_users.id, counters.id FROM staff_users "
        "JOIN counters ON counters.center_id = staff_users.center_id"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_counter_staff_counter_id"), table_name="counter_staff")
    op.drop_table("counter_staff")
