"""services: a default service time of at least one minute

A service's default service time stands in for its recent service times until it
has some; 0 made its visitors' estimated waits 0. Every path that changes a service
now requires at least 1 minute; rows saved with 0 before are raised to 1.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 19:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE services SET default_service_min = 1 WHERE default_service_min < 1")


def downgrade() -> None:
    pass  # the old value (0) was never meaningful
