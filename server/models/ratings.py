"""Visitors' ratings of their visit (1 to 5), asked on the phone page once a ticket is done."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .tickets import Ticket

SCORES = (1, 2, 3, 4, 5)
# Scores that count as approval: "the share of 4 and 5".
APPROVING_SCORE = 4


class Rating(Base):
    """One per ticket, final. Center, service and staff come from the ticket (a join),
    so a rating is never out of step with the ticket it is about."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), unique=True
    )
    score: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship()

    __table_args__ = (
        CheckConstraint("score BETWEEN 1 AND 5", name="score"),
        # Approval over a period: the range scan starts here.
        Index("ix_ratings_created_at", "created_at"),
    )
