"""index the tickets parked at a counter: the counter screen lists them on every change

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARKED = "status = 'parked'"


def upgrade() -> None:
    op.create_index(
        "ix_tickets_parked",
        "tickets",
        ["counter_id"],
        unique=False,
        postgresql_where=sa.text(PARKED),
        sqlite_where=sa.text(PARKED),
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_parked", table_name="tickets")
