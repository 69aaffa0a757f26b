"""appointments: booked slots, joining from home, hall capacity and the reception role

Tickets learn how they came to be (``kind``) and when they may be called
(``callable_at``, in the queue index so call-next filters its heads from the index);
services their booking settings; centers their calendar (breaks, closed weekdays and
days), hall capacity and the switch for joining from home.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.models.base

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUE = "status = 'waiting' AND target_counter_id IS NULL"
QUEUE_BEFORE = ["service_id", "lane", "due_at", "id", "issued_at", "priority"]
QUEUE_AFTER = [*QUEUE_BEFORE, "callable_at"]
UTC = server.models.base.UTCDateTime


def _queue_index(columns: list[str]) -> None:
    op.create_index(
        "ix_tickets_queue",
        "tickets",
        columns,
        unique=False,
        postgresql_where=sa.text(QUEUE),
        sqlite_where=sa.text(QUEUE),
    )


def upgrade() -> None:
    with op.batch_alter_table("centers") as batch:
        batch.add_column(sa.Column("breaks", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(
            sa.Column("closed_weekdays", sa.JSON(), nullable=False, server_default="[]")
        )
        batch.add_column(sa.Column("closed_days", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("hall_capacity", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("remote_joining", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("absent_hold_min", sa.Integer(), nullable=False, server_default="15")
        )
        batch.create_check_constraint(
            "hall_capacity", "hall_capacity IS NULL OR hall_capacity >= 1"
        )
        batch.create_check_constraint("absent_hold_min", "absent_hold_min >= 0")
    with op.batch_alter_table("centers") as batch:  # server defaults were for old rows only
        for column in (
            "breaks",
            "closed_weekdays",
            "closed_days",
            "remote_joining",
            "absent_hold_min",
        ):
            batch.alter_column(column, server_default=None)

    service_columns = [
        ("bookable", sa.Boolean(), sa.false()),
        ("slot_min", sa.Integer(), "15"),
        ("bookings_per_slot", sa.Integer(), "1"),
        ("booking_days_ahead", sa.Integer(), "14"),
        ("checkin_early_min", sa.Integer(), "30"),
        ("late_grace_min", sa.Integer(), "10"),
        ("after_grace", sa.String(length=16), "walk_in"),
        ("remote_joining", sa.Boolean(), sa.false()),
    ]
    with op.batch_alter_table("services") as batch:
        for name, type_, default in service_columns:
            batch.add_column(sa.Column(name, type_, nullable=False, server_default=default))
        batch.add_column(sa.Column("remote_daily_cap", sa.Integer(), nullable=True))
        batch.create_check_constraint("slot_min", "slot_min BETWEEN 5 AND 240")
        batch.create_check_constraint("bookings_per_slot", "bookings_per_slot >= 1")
        batch.create_check_constraint("booking_days_ahead", "booking_days_ahead BETWEEN 0 AND 366")
        batch.create_check_constraint("checkin_early_min", "checkin_early_min >= 0")
        batch.create_check_constraint("late_grace_min", "late_grace_min >= 0")
        batch.create_check_constraint("after_grace", "after_grace IN ('walk_in', 'refuse')")
        batch.create_check_constraint(
            "remote_daily_cap", "remote_daily_cap IS NULL OR remote_daily_cap >= 0"
        )
    with op.batch_alter_table("services") as batch:
        for name, _type, _default in service_columns:
            batch.alter_column(name, server_default=None)

    op.drop_index("ix_tickets_queue", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=12), nullable=False, server_default="walk_in")
        )
        batch.add_column(sa.Column("callable_at", UTC(), nullable=True))
        batch.add_column(sa.Column("checked_in_at", UTC(), nullable=True))
        batch.add_column(sa.Column("passed_at", UTC(), nullable=True))
        batch.create_check_constraint(
            "kind", "kind IN ('walk_in', 'appointment', 'remote', 'outside')"
        )
    _queue_index(QUEUE_AFTER)

    with op.batch_alter_table("staff_users") as batch:
        batch.drop_constraint("role", type_="check")
        batch.create_check_constraint("role", "role IN ('staff', 'manager', 'admin', 'reception')")

    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("center_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("start", UTC(), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("contact_digest", sa.String(length=64), nullable=True),
        sa.Column("client_digest", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("cancelled_at", UTC(), nullable=True),
        sa.Column("checked_in_at", UTC(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "state IN ('booked', 'checked_in', 'cancelled', 'no_show')",
            name=op.f("ck_appointments_state"),
        ),
        sa.CheckConstraint("language IN ('az', 'ru', 'en')", name=op.f("ck_appointments_language")),
        sa.ForeignKeyConstraint(
            ["center_id"],
            ["centers.id"],
            name=op.f("fk_appointments_center_id_centers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_appointments_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_appointments_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        sa.UniqueConstraint("center_id", "code", name=op.f("uq_appointments_center_id_code")),
        sa.UniqueConstraint("token", name=op.f("uq_appointments_token")),
    )
    op.create_index("ix_appointments_slot", "appointments", ["service_id", "start"])
    op.create_index("ix_appointments_day", "appointments", ["center_id", "business_day", "state"])
    op.create_index("ix_appointments_contact", "appointments", ["contact_digest", "business_day"])
    op.create_index("ix_appointments_client", "appointments", ["client_digest", "created_at"])
    op.create_index(
        "ix_appointments_booked",
        "appointments",
        ["start"],
        postgresql_where=sa.text("state = 'booked'"),
        sqlite_where=sa.text("state = 'booked'"),
    )


def downgrade() -> None:
    op.drop_table("appointments")
    op.execute("DELETE FROM staff_users WHERE role = 'reception'")
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_constraint("role", type_="check")
        batch.create_check_constraint("role", "role IN ('staff', 'manager', 'admin')")
    op.drop_index("ix_tickets_queue", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("kind", type_="check")
        for column in ("passed_at", "checked_in_at", "callable_at", "kind"):
            batch.drop_column(column)
    _queue_index(QUEUE_BEFORE)
    with op.batch_alter_table("services") as batch:
        for name in (
            "slot_min",
            "bookings_per_slot",
            "booking_days_ahead",
            "checkin_early_min",
            "late_grace_min",
            "after_grace",
            "remote_daily_cap",
        ):
            batch.drop_constraint(name, type_="check")
        for name in (
            "bookable",
            "slot_min",
            "bookings_per_slot",
            "booking_days_ahead",
            "checkin_early_min",
            "late_grace_min",
            "after_grace",
            "remote_joining",
            "remote_daily_cap",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("centers") as batch:
        batch.drop_constraint("hall_capacity", type_="check")
        batch.drop_constraint("absent_hold_min", type_="check")
        for name in (
            "breaks",
            "closed_weekdays",
            "closed_days",
            "hall_capacity",
            "remote_joining",
            "absent_hold_min",
        ):
            batch.drop_column(name)
