"""absent tickets: the index call-next reads to mark those it steps over as passed

Remote and outside tickets not checked in, not passed over yet (queue/calling.py).
Until now the upkeep guessed the passing from calls of the same service afterwards,
which missed a shared counter calling other services and counted out-of-order calls.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = (
    "status = 'waiting' AND kind IN ('remote', 'outside') AND callable_at IS NOT NULL "
    "AND passed_at IS NULL AND target_counter_id IS NULL"
)


def upgrade() -> None:
    op.create_index(
        "ix_tickets_absent",
        "tickets",
        ["service_id", "due_at"],
        postgresql_where=sa.text(WHERE),
        sqlite_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_absent", table_name="tickets")
