"""Messages to visitors and to other systems, and the durable outbox that sends them.

Invariants (server/notify/ keeps them):

* an outbox row is written in the same transaction as the change that causes it, so a
  rolled-back change sends nothing and a crash after commit loses nothing;
* ``key`` is unique: one message per (ticket or event, kind, channel). Producing the same
  message twice (two processes, a retried request) leaves one row;
* a row is sent by whoever holds its claim (``claimed_by`` until ``claimed_until``);
  delivery is at least once (a sender that dies after sending and before recording is
  retried once its claim lapses), so every channel passes the key on where it can
  (the webhook's ``webhook-id``, the SMS gateway's idempotency header);
* a visitor's address lives only in :class:`VisitorContact`, never in an outbox body or
  a log line, and is erased (``address`` set to NULL) once its ticket or booking no
  longer needs it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow

# Where a visitor can be reached; the outbox also sends to webhook subscriptions.
VISITOR_CHANNELS = ("sms", "email", "telegram", "webpush")
OUTBOX_CHANNELS = (*VISITOR_CHANNELS, "webhook")
# pending (to send, at next_attempt_at) -> sent | dead (gave up after the last attempt)
# | cancelled (no longer wanted: the contact was erased, the subscription removed).
OUTBOX_STATES = ("pending", "sent", "dead", "cancelled")
# Why a visitor is written to (a center's settings switch each on or off).
TRIGGERS = ("issued", "almost", "called", "reminder_day", "reminder_hour", "rating")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class VisitorContact(Base):
    """How one visitor asked to be told about one ticket or booking."""

    __tablename__ = "visitor_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), nullable=True
    )
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), nullable=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    # A phone number (E.164), an email address, a Telegram chat id, or a Web Push
    # subscription (JSON text). NULL once erased.
    address: Mapped[str | None] = mapped_column(Text, nullable=True)
    masked: Mapped[str] = mapped_column(String(64))  # what screens may show: "+994 ** *** 45 67"
    language: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        CheckConstraint(_in("channel", VISITOR_CHANNELS), name="channel"),
        CheckConstraint("language IN ('az', 'ru', 'en')", name="language"),
        CheckConstraint("ticket_id IS NOT NULL OR appointment_id IS NOT NULL", name="owner"),
        Index("ix_visitor_contacts_ticket", "ticket_id"),
        Index("ix_visitor_contacts_appointment", "appointment_id"),
        # The live contacts of a center: what the triggers look through on each change.
        Index(
            "ix_visitor_contacts_live",
            "center_id",
            postgresql_where=text("erased_at IS NULL"),
            sqlite_where=text("erased_at IS NULL"),
        ),
    )


class WebhookSubscription(Base):
    """Another system that wants a center's (or, with no center, every center's) events."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    center_id: Mapped[int | None] = mapped_column(
        ForeignKey("centers.id", ondelete="CASCADE"), nullable=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list] = mapped_column(JSON, default=list)  # event types, or ["*"]
    # [{"secret": "whsec_<base64>", "expires_at": ISO 8601 or null}], newest first: every
    # unexpired secret signs (rotation: the receiver switches while both are valid).
    secrets: Mapped[list] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row; 0 after a success
    # When the current run of failures began; NULL after a success or re-enabling. A
    # subscription is disabled only after enough failures over a long enough run.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True
    )

    __table_args__ = (Index("ix_webhook_subscriptions_center", "center_id"),)


class OutboxMessage(Base):
    """One message to send: to a visitor's contact, or an event to a subscription."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # the idempotency key
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(40))  # a trigger, or the event's type
    center_id: Mapped[int | None] = mapped_column(
        ForeignKey("centers.id", ondelete="CASCADE"), nullable=True
    )
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("visitor_contacts.id", ondelete="SET NULL"), nullable=True
    )
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), nullable=True
    )
    # A visitor message: {"text", "subject"?, "url"?, "language"}; a webhook: the event,
    # {"type", "timestamp", "data"}, sent as is. Never an address.
    body: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)

    __table_args__ = (
        CheckConstraint(_in("channel", OUTBOX_CHANNELS), name="channel"),
        CheckConstraint(_in("state", OUTBOX_STATES), name="state"),
        # The worker's question: what is due now.
        Index(
            "ix_outbox_due",
            "next_attempt_at",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        # The delivery log, per center, newest first.
        Index("ix_outbox_center", "center_id", "id"),
        Index("ix_outbox_ticket", "ticket_id"),
        Index("ix_outbox_subscription", "subscription_id", "id"),
    )


class DeliveryAttempt(Base):
    """One try at sending an outbox message, and what came back (managers read these)."""

    __tablename__ = "outbox_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    ok: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)  # HTTP/SMTP code
    response: Mapped[str | None] = mapped_column(String(500), nullable=True)  # its start
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)

    __table_args__ = (Index("ix_outbox_attempts_message", "message_id"),)
