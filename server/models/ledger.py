"""The fairness ledger: every ticket event in a hash chain per center and local day, and
the signed seals of those chains (server/ledger/, docs/ledger.md)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime


class LedgerHead(Base):
    """The last entry of a center's chain for a day: locked by each transaction that
    appends to it, so concurrent kiosks and counters still make one linear chain."""

    __tablename__ = "ledger_heads"

    center_id: Mapped[int] = mapped_column(
        ForeignKey("centers.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class LedgerEntry(Base):
    """One ticket event or administrative change as the public sees it (``content``:
    canonical JSON, personal data only as a salted digest) and its place in the chain.
    Never updated."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign keys: the ledger must outlive, and tell of, rows deleted elsewhere.
    center_id: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    seq: Mapped[int] = mapped_column(Integer)
    # What it records: a ticket event, or an administrative change (the audit log).
    event_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    audit_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(64))
    # Salts the digest of the event's private part (staff, device, free-text reasons),
    # so the public digest cannot be guessed from a short list of staff ids.
    salt: Mapped[str] = mapped_column(String(32))

    __table_args__ = (
        UniqueConstraint("center_id", "day", "seq"),
        # Few entries record an audit entry: an index of those only, so that writing a
        # ticket event's entry (the hot path) updates one index fewer.
        Index(
            "ix_ledger_entries_audit_id",
            "audit_id",
            postgresql_where=text("audit_id IS NOT NULL"),
            sqlite_where=text("audit_id IS NOT NULL"),
        ),
    )


class LedgerSeal(Base):
    """A day's chain head (its first ``entries`` entries) signed with the installation's
    Ed25519 key; a day sealed again after late events has several, the last covering
    all. ``previous`` chains each seal to the center's seal before it."""

    __tablename__ = "ledger_seals"

    id: Mapped[int] = mapped_column(primary_key=True)
    center_id: Mapped[int] = mapped_column(Integer)
    center_code: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    entries: Mapped[int] = mapped_column(Integer)
    head: Mapped[str] = mapped_column(String(64))
    previous: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    public_key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))

    __table_args__ = (UniqueConstraint("center_id", "day", "entries"),)
