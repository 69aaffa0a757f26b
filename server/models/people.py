"""Who may act: staff accounts with their API tokens, and kiosk/display devices."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .catalog import Center, Counter

ROLES = ("staff", "manager", "admin", "reception")
# Roles that work at a counter (call, serve). "reception" is the volunteers' door
# screen: it issues tickets on a visitor's behalf and checks bookings in, nothing else,
# so it is only let in where a view names it.
COUNTER_ROLES = ("staff", "manager", "admin")
DEVICE_KINDS = ("kiosk", "display")


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="staff")
    # NULL only for network-wide admins.
    center_id: Mapped[int | None] = mapped_column(
        ForeignKey("centers.id", ondelete="CASCADE"), nullable=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    center: Mapped[Center | None] = relationship()
    # The counters a staff member may work at (managers and admins: all of their center).
    counter_links: Mapped[list[CounterStaff]] = relationship(
        order_by="CounterStaff.counter_id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("role IN ('staff', 'manager', 'admin', 'reception')", name="role"),
        CheckConstraint("center_id IS NOT NULL OR role = 'admin'", name="center_required"),
    )


class CounterStaff(Base):
    """A counter a staff member may work at. Managers and admins may work at every
    counter of their center; a staff member only at these (server/staff_counters.py)."""

    __tablename__ = "counter_staff"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True
    )
    counter_id: Mapped[int] = mapped_column(
        ForeignKey("counters.id", ondelete="CASCADE"), primary_key=True, index=True
    )

    counter: Mapped[Counter] = relationship()


class ApiToken(Base):
    """A staff member's bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    staff: Mapped[StaffUser] = relationship()


class StaffSession(Base):
    """A web screen's login (server/web_sessions.py). The session cookie carries a random
    id; only its SHA-256 is stored. Valid while not revoked and not expired, the account
    is active and its password unchanged since (``password_stamp``)."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    password_stamp: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Updated at most once a minute (not on every request).
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    staff: Mapped[StaffUser] = relationship()


class Device(Base):
    """A kiosk or a display. Its bearer token is shown once; only its SHA-256 is stored."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    token_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Per-device settings such as the printer address or the counters a display shows.
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    # A kiosk's printer as last reported (by its agent, or by the server printing to
    # it): {online, paper, cover_open, error}; NULL until first heard of.
    printer_status: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    printer_status_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    center: Mapped[Center] = relationship()

    __table_args__ = (
        UniqueConstraint("center_id", "name"),
        CheckConstraint("kind IN ('kiosk', 'display')", name="kind"),
    )
