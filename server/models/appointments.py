"""Booked visits: an appointment holds a place in one slot of one service, is checked
in at a kiosk (or by reception) with its code, and then becomes a ticket.

Invariants (server/appointments/ keeps them):

* a slot never holds more live bookings than the service's ``bookings_per_slot``; a
  cancelled booking keeps its place until ``cancelled_at`` + the hold time (against
  slot trading), so ``free`` counts it until then;
* ``code`` is unique per center among all its appointments, ``token`` everywhere: the
  code is read aloud at a kiosk, the token is the visitor's private link;
* contact details are never stored: only a salted digest, for the per-contact limits.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .catalog import Service

# booked -> checked_in (a ticket was made) | cancelled (by the visitor) | no_show (not
# checked in by start + grace). What happens after check-in is the ticket's story.
APPOINTMENT_STATES = ("booked", "checked_in", "cancelled", "no_show")
LIVE_APPOINTMENT_STATES = ("booked", "checked_in", "no_show")  # they fill their slot


class Appointment(Base):
    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)  # the slot's start
    business_day: Mapped[date] = mapped_column(Date)  # the center's local day of the slot
    code: Mapped[str] = mapped_column(String(8))  # read aloud at the kiosk
    token: Mapped[str] = mapped_column(String(64), unique=True)  # the visitor's link
    language: Mapped[str] = mapped_column(String(2))
    state: Mapped[str] = mapped_column(String(16), default="booked")
    # Salted SHA-256 digests, for the per-day limits only (never the values themselves).
    contact_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True
    )

    service: Mapped[Service] = relationship()

    __table_args__ = (
        UniqueConstraint("center_id", "code"),
        CheckConstraint("state IN ('booked', 'checked_in', 'cancelled', 'no_show')", name="state"),
        CheckConstraint("language IN ('az', 'ru', 'en')", name="language"),
        # Free places of a service's slots, and the day's list for counters and reports.
        Index("ix_appointments_slot", "service_id", "start"),
        Index("ix_appointments_day", "center_id", "business_day", "state"),
        Index("ix_appointments_contact", "contact_digest", "business_day"),
        Index("ix_appointments_client", "client_digest", "created_at"),
        # The upkeep's each-minute scan for bookings past their start (upkeep.py).
        Index(
            "ix_appointments_booked",
            "start",
            postgresql_where=text("state = 'booked'"),
            sqlite_where=text("state = 'booked'"),
        ),
    )
