"""The center's catalog: centers, service categories, services and counters."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, LocalizedText, UTCDateTime, utcnow

CALL_POLICIES = ("strict", "ratio")
COUNTER_STATES = ("open", "paused", "closed")


class Center(Base):
    __tablename__ = "centers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[dict] = mapped_column(LocalizedText)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Baku")
    opens_at: Mapped[time] = mapped_column(Time, default=time(9, 0))
    closes_at: Mapped[time] = mapped_column(Time, default=time(18, 0))
    priority_classes: Mapped[list] = mapped_column(JSON, default=list)
    # How call-next mixes priority visitors in: "strict" (priority first) or
    # "ratio" (one priority visitor for every `priority_ratio` others).
    call_policy: Mapped[str] = mapped_column(String(16), default="strict")
    priority_ratio: Mapped[int] = mapped_column(Integer, default=2)
    # A called ticket may be marked no-show only after this many recalls.
    recalls_before_no_show: Mapped[int] = mapped_column(Integer, default=1)
    # The calendar bookings and the virtual queue honour: breaks within opening hours as
    # [{"from": "13:00", "to": "14:00"}], weekdays closed (0 = Monday) and closed days
    # as ISO dates ["2026-12-31", ...].
    breaks: Mapped[list] = mapped_column(JSON, default=list)
    closed_weekdays: Mapped[list] = mapped_column(JSON, default=list)
    closed_days: Mapped[list] = mapped_column(JSON, default=list)
    # The most people the waiting hall may hold (NULL: no limit); beyond it walk-ins get
    # "outside" tickets, callable after they come in and check in.
    hall_capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The center's switch for joining from home (each service also opts in).
    remote_joining: Mapped[bool] = mapped_column(Boolean, default=False)
    # How long an absent (remote, outside) ticket keeps its place once passed over.
    absent_hold_min: Mapped[int] = mapped_column(Integer, default=15)
    # Messages to visitors: which channels and triggers (server/notify/settings.py says
    # the shape and checks it; secrets in it are never sent back in full).
    notifications: Mapped[dict] = mapped_column(JSON, default=dict)

    categories: Mapped[list[ServiceCategory]] = relationship(
        back_populates="center", order_by="ServiceCategory.position"
    )
    services: Mapped[list[Service]] = relationship(
        back_populates="center", order_by="Service.position"
    )
    counters: Mapped[list[Counter]] = relationship(back_populates="center", order_by="Counter.id")

    __table_args__ = (
        CheckConstraint("call_policy IN ('strict', 'ratio')", name="call_policy"),
        CheckConstraint("priority_ratio >= 1", name="priority_ratio"),
        CheckConstraint("hall_capacity IS NULL OR hall_capacity >= 1", name="hall_capacity"),
        CheckConstraint("absent_hold_min >= 0", name="absent_hold_min"),
    )


class ServiceCategory(Base):
    __tablename__ = "service_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[dict] = mapped_column(LocalizedText)
    position: Mapped[int] = mapped_column(Integer, default=0)

    center: Mapped[Center] = relationship(back_populates="categories")
    services: Mapped[list[Service]] = relationship(
        back_populates="category", order_by="Service.position"
    )

    __table_args__ = (UniqueConstraint("center_id", "code"),)


class Service(Base):
    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id", ondelete="CASCADE"))
    category_id: Mapped[int] = mapped_column(ForeignKey("service_categories.id"))
    code: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(4))
    name: Mapped[dict] = mapped_column(LocalizedText)
    target_wait_min: Mapped[int] = mapped_column(Integer, default=15)
    # Used for the estimated wait until the service has served visitors of its own.
    default_service_min: Mapped[int] = mapped_column(Integer, default=5)
    daily_quota: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    # Booking (server/appointments/): slots of ``slot_min`` from opening to closing,
    # ``bookings_per_slot`` places each (the share of counters kept for bookings, so
    # walk-ins are never shut out), up to ``booking_days_ahead`` days ahead. Check-in is
    # open from ``checkin_early_min`` before the slot to ``late_grace_min`` after it;
    # later, ``after_grace`` "walk_in" gives a normal ticket and "refuse" does not.
    bookable: Mapped[bool] = mapped_column(Boolean, default=False)
    slot_min: Mapped[int] = mapped_column(Integer, default=15)
    bookings_per_slot: Mapped[int] = mapped_column(Integer, default=1)
    booking_days_ahead: Mapped[int] = mapped_column(Integer, default=14)
    checkin_early_min: Mapped[int] = mapped_column(Integer, default=30)
    late_grace_min: Mapped[int] = mapped_column(Integer, default=10)
    after_grace: Mapped[str] = mapped_column(String(16), default="walk_in")
    # Joining from home, where the center allows it: at most this many a day (NULL: no cap).
    remote_joining: Mapped[bool] = mapped_column(Boolean, default=False)
    remote_daily_cap: Mapped[int | None] = mapped_column(Integer, nullable=True)

    center: Mapped[Center] = relationship(back_populates="services")
    category: Mapped[ServiceCategory] = relationship(back_populates="services")

    __table_args__ = (
        UniqueConstraint("center_id", "code"),
        CheckConstraint("target_wait_min >= 0", name="target_wait_min"),
        CheckConstraint("daily_quota IS NULL OR daily_quota >= 0", name="daily_quota"),
        CheckConstraint("slot_min BETWEEN 5 AND 240", name="slot_min"),
        CheckConstraint("bookings_per_slot >= 1", name="bookings_per_slot"),
        CheckConstraint("booking_days_ahead BETWEEN 0 AND 366", name="booking_days_ahead"),
        CheckConstraint("checkin_early_min >= 0", name="checkin_early_min"),
        CheckConstraint("late_grace_min >= 0", name="late_grace_min"),
        CheckConstraint("after_grace IN ('walk_in', 'refuse')", name="after_grace"),
        CheckConstraint(
            "remote_daily_cap IS NULL OR remote_daily_cap >= 0", name="remote_daily_cap"
        ),
    )


class Counter(Base):
    __tablename__ = "counters"

    id: Mapped[int] = mapped_column(primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="closed")
    pause_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    state_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Normal visitors called since the last priority visitor (for the "ratio" policy).
    calls_since_priority: Mapped[int] = mapped_column(Integer, default=0)

    center: Mapped[Center] = relationship(back_populates="counters")
    service_links: Mapped[list[CounterService]] = relationship(
        order_by="CounterService.rank", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("center_id", "label"),
        CheckConstraint("state IN ('open', 'paused', 'closed')", name="state"),
    )

    @property
    def service_ids(self) -> list[int]:
        return [link.service_id for link in self.service_links]


class CounterService(Base):
    """A service a counter serves; ``rank`` is the counter's order of preference."""

    __tablename__ = "counter_services"

    counter_id: Mapped[int] = mapped_column(
        ForeignKey("counters.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    rank: Mapped[int] = mapped_column(Integer, default=0)
