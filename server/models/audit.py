"""The audit log of administrative changes: the catalog, counters, staff, devices and
the center's settings. Ticket changes have their own log (``ticket_events``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow

# What an entry is about; ``entity_id`` is that entity's public handle (a service's
# code, a counter's label, a username, a device's name, the center's code).
AUDIT_ENTITY_TYPES = ("center", "category", "service", "counter", "staff", "device")


class AuditEntry(Base):
    """Append-only: who changed what, when, and the values before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Kept when a center goes away (SET NULL): the log outlives what it describes.
    center_id: Mapped[int | None] = mapped_column(
        ForeignKey("centers.id", ondelete="SET NULL"), nullable=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True
    )
    # The username at the time, so the entry still says who after a rename or deletion.
    username: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        Index("ix_audit_log_center_at", "center_id", "at"),
        Index("ix_audit_log_center_type", "center_id", "entity_type", "at"),
    )


@event.listens_for(AuditEntry, "before_update")
def _refuse_rewriting_audit(_mapper, _connection, target) -> None:
    raise RuntimeError("AuditEntry rows are append-only")


@event.listens_for(AuditEntry, "before_delete")
def _refuse_deleting_audit(_mapper, _connection, target) -> None:
    raise RuntimeError("AuditEntry rows are append-only")
