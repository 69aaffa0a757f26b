"""printing: tickets' print state, kiosks' printer health

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 08:10:09.787438
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.models.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRINT_STATE_CHECK = "print_state IN ('pending', 'printed', 'failed', 'e_ticket')"
PENDING = "print_state = 'pending'"

# The partial indexes of 0001 on tickets: SQLite's batch mode copies the table into
# a new one, so they are dropped before and made again after, with their predicates
# (reflection would not carry the WHERE clauses over on every version).
PARTIAL_INDEXES = {
    "ix_tickets_at_counter": (["counter_id"], "status IN ('called', 'serving')"),
    "ix_tickets_done": (["service_id", "ended_at"], "status = 'done'"),
    "ix_tickets_queue": (
        ["service_id", "lane", "due_at", "id"],
        "status = 'waiting' AND target_counter_id IS NULL",
    ),
    "ix_tickets_targeted": (
        ["target_counter_id", "lane", "due_at", "id"],
        "status = 'waiting' AND target_counter_id IS NOT NULL",
    ),
}


def _where(predicate: str) -> dict:
    return {"postgresql_where": sa.text(predicate), "sqlite_where": sa.text(predicate)}


def _drop_partial_indexes() -> None:
    for name in PARTIAL_INDEXES:
        op.drop_index(name, table_name="tickets")


def _create_partial_indexes() -> None:
    for name, (columns, predicate) in PARTIAL_INDEXES.items():
        op.create_index(name, "tickets", columns, unique=False, **_where(predicate))


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("printer_status", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "printer_status_at", server.models.base.UTCDateTime(timezone=True), nullable=True
            )
        )

    _drop_partial_indexes()
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("print_state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("print_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("printed_at", server.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("reprint_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_check_constraint(op.f("ck_tickets_print_state"), PRINT_STATE_CHECK)
    _create_partial_indexes()
    op.create_index(
        "ix_tickets_print_pending",
        "tickets",
        ["device_id", "issued_at"],
        unique=False,
        **_where(PENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_print_pending", table_name="tickets")
    _drop_partial_indexes()
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_tickets_print_state"), type_="check")
        batch_op.drop_column("reprint_count")
        batch_op.drop_column("printed_at")
        batch_op.drop_column("print_reason")
        batch_op.drop_column("print_state")
    _create_partial_indexes()

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("printer_status_at")
        batch_op.drop_column("printer_status")
