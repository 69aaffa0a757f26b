"""notifications: the durable outbox, visitors' contacts, webhook subscriptions

One outbox of messages (to visitors' contacts and to webhook subscriptions) with a log of
delivery attempts; contacts visitors gave for one ticket or booking; subscriptions of
other systems to a center's (or the network's) events; centers learn their notification
settings.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 21:37:33
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.models.base

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("center_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secrets", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("failing_since", server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["center_id"],
            ["centers.id"],
            name=op.f("fk_webhook_subscriptions_center_id_centers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["staff_users.id"],
            name=op.f("fk_webhook_subscriptions_created_by_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
    )
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_subscriptions_center", ["center_id"], unique=False)

    op.create_table(
        "visitor_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("center_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("masked", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("created_at", server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("erased_at", server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "channel IN ('sms', 'email', 'telegram', 'webpush')",
            name=op.f("ck_visitor_contacts_channel"),
        ),
        sa.CheckConstraint(
            "language IN ('az', 'ru', 'en')", name=op.f("ck_visitor_contacts_language")
        ),
        sa.CheckConstraint(
            "ticket_id IS NOT NULL OR appointment_id IS NOT NULL",
            name=op.f("ck_visitor_contacts_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_visitor_contacts_appointment_id_appointments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["center_id"],
            ["centers.id"],
            name=op.f("fk_visitor_contacts_center_id_centers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_visitor_contacts_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visitor_contacts")),
    )
    with op.batch_alter_table("visitor_contacts", schema=None) as batch_op:
        batch_op.create_index("ix_visitor_contacts_appointment", ["appointment_id"], unique=False)
        batch_op.create_index(
            "ix_visitor_contacts_live",
            ["center_id"],
            unique=False,
            postgresql_where=sa.text("erased_at IS NULL"),
            sqlite_where=sa.text("erased_at IS NULL"),
        )
        batch_op.create_index("ix_visitor_contacts_ticket", ["ticket_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("center_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "channel IN ('sms', 'email', 'telegram', 'webpush', 'webhook')",
            name=op.f("ck_outbox_channel"),
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'sent', 'dead', 'cancelled')", name=op.f("ck_outbox_state")
        ),
        sa.ForeignKeyConstraint(
            ["center_id"],
            ["centers.id"],
            name=op.f("fk_outbox_center_id_centers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["visitor_contacts.id"],
            name=op.f("fk_outbox_contact_id_visitor_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_outbox_subscription_id_webhook_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_outbox_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_center", ["center_id", "id"], unique=False)
        batch_op.create_index(
            "ix_outbox_due",
            ["next_attempt_at"],
            unique=False,
            postgresql_where=sa.text("state = 'pending'"),
            sqlite_where=sa.text("state = 'pending'"),
        )
        batch_op.create_index("ix_outbox_subscription", ["subscription_id", "id"], unique=False)
        batch_op.create_index("ix_outbox_ticket", ["ticket_id"], unique=False)

    op.create_table(
        "outbox_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("at", server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("response", sa.String(length=500), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox.id"],
            name=op.f("fk_outbox_attempts_message_id_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_attempts")),
    )
    with op.batch_alter_table("outbox_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_attempts_message", ["message_id"], unique=False)

    with op.batch_alter_table("centers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notifications", sa.JSON(), nullable=False, server_default="{}")
        )
    with op.batch_alter_table("centers", schema=None) as batch_op:  # for old rows only
        batch_op.alter_column("notifications", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("centers", schema=None) as batch_op:
        batch_op.drop_column("notifications")

    with op.batch_alter_table("outbox_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_attempts_message")

    op.drop_table("outbox_attempts")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_ticket")
        batch_op.drop_index("ix_outbox_subscription")
        batch_op.drop_index(
            "ix_outbox_due",
            postgresql_where=sa.text("state = 'pending'"),
            sqlite_where=sa.text("state = 'pending'"),
        )
        batch_op.drop_index("ix_outbox_center")

    op.drop_table("outbox")
    with op.batch_alter_table("visitor_contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_visitor_contacts_ticket")
        batch_op.drop_index(
            "ix_visitor_contacts_live",
            postgresql_where=sa.text("erased_at IS NULL"),
            sqlite_where=sa.text("erased_at IS NULL"),
        )
        batch_op.drop_index("ix_visitor_contacts_appointment")

    op.drop_table("visitor_contacts")
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_subscriptions_center")

    op.drop_table("webhook_subscriptions")
