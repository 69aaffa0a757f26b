"""The forecast's breach warnings, kept so that each can be scored afterwards: did the
service really miss its service level in the window the warning spoke of?"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow

# open: still expected; cleared: the forecast no longer expects it (before its window);
# scored: its window has passed and `breached` says whether it came true.
WARNING_STATES = ("open", "cleared", "scored")


class ForecastWarning(Base):
    """One breach warning for one service: raised when the forecast's probability that
    the window's visitors miss the service level (server/forecast/forecast.py,
    window_breached) passed the threshold. One open warning per service at a time."""

    __tablename__ = "forecast_warnings"

    id: Mapped[int] = mapped_column(primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The window the warning is about: its arrivals, and the crowd waiting at its start
    # not yet past the target (forecast.window_visitor).
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    probability: Mapped[float] = mapped_column(Float)
    predicted_wait_s: Mapped[int] = mapped_column(Integer)
    target_wait_s: Mapped[int] = mapped_column(Integer)
    # The suggested action, as the forecast checked it (see server/forecast/suggest.py);
    # NULL when no action the forecast tried would prevent the breach.
    suggestion: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    applied_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True
    )
    state: Mapped[str] = mapped_column(String(8), default="open")
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # After the window: did its visitors' real waits miss the service level, and the
    # longest of them.
    breached: Mapped[bool | None] = mapped_column(nullable=True)
    worst_wait_s: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        Index("ix_forecast_warnings_center_raised", "center_id", "raised_at"),
        Index("ix_forecast_warnings_state", "state"),
    )
