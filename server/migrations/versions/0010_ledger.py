"""ledger: every ticket event and administrative change in a hash chain per center and
day, and signed seals

Tickets issued before the upgrade have no ledger entries: their days' chains start
with the first event after it (docs/ledger.md).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.models.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_heads",
        sa.Column("center_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["center_id"],
            ["centers.id"],
            name=op.f("fk_ledger_heads_center_id_centers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("center_id", "day", name=op.f("pk_ledger_heads")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("center_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("audit_id", sa.Integer(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint(
            "center_id", "day", "seq", name=op.f("uq_ledger_entries_center_id_day_seq")
        ),
    )
    op.create_index(
        op.f("ix_ledger_entries_event_id"), "ledger_entries", ["event_id"], unique=False
    )
    op.create_index(
        "ix_ledger_entries_audit_id",
        "ledger_entries",
        ["audit_id"],
        unique=False,
        postgresql_where=sa.text("audit_id IS NOT NULL"),
        sqlite_where=sa.text("audit_id IS NOT NULL"),
    )
    op.create_table(
        "ledger_seals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("center_id", sa.Integer(), nullable=False),
        sa.Column("center_code", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.Column("previous", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_seals")),
        sa.UniqueConstraint(
            "center_id", "day", "entries", name=op.f("uq_ledger_seals_center_id_day_entries")
        ),
    )


def downgrade() -> None:
    op.drop_table("ledger_seals")
    op.drop_index("ix_ledger_entries_audit_id", table_name="ledger_entries")
    op.drop_index(op.f("ix_ledger_entries_event_id"), table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_table("ledger_heads")
