"""forecast: breach warnings kept for scoring, the wait promised at issue

The forecast's breach warnings (server/forecast/), each scored once its window has
passed; tickets keep the estimated wait they were issued with, to measure the
estimates against the real waits.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.models.base

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = server.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "forecast_warnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("center_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("raised_at", UTC, nullable=False),
        sa.Column("window_start", UTC, nullable=False),
        sa.Column("window_end", UTC, nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("predicted_wait_s", sa.Integer(), nullable=False),
        sa.Column("target_wait_s", sa.Integer(), nullable=False),
        sa.Column("suggestion", sa.JSON(), nullable=True),
        sa.Column("applied_at", UTC, nullable=True),
        sa.Column("applied_by", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("cleared_at", UTC, nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=True),
        sa.Column("worst_wait_s", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["center_id"],
            ["centers.id"],
            name=op.f("fk_forecast_warnings_center_id_centers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_forecast_warnings_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["applied_by"],
            ["staff_users.id"],
            name=op.f("fk_forecast_warnings_applied_by_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecast_warnings")),
    )
    with op.batch_alter_table("forecast_warnings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_forecast_warnings_center_raised", ["center_id", "raised_at"], unique=False
        )
        batch_op.create_index("ix_forecast_warnings_state", ["state"], unique=False)
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("promised_wait_s", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("promised_wait_s")
    with op.batch_alter_table("forecast_warnings", schema=None) as batch_op:
        batch_op.drop_index("ix_forecast_warnings_state")
        batch_op.drop_index("ix_forecast_warnings_center_raised")
    op.drop_table("forecast_warnings")
