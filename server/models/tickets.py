"""Tickets, their per-day numbering, their audit log and kiosk idempotency keys."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    bindparam,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .catalog import Counter, Service

# Whether the visitor holds a paper ticket (tickets issued at a kiosk; NULL otherwise):
# "pending" (sent to the kiosk's printer, no answer yet), "printed", "failed" (the
# printer said why: print_reason) or "e_ticket" (no printer to send it to: the kiosk
# screen is the ticket). See server/printing.py.
PRINT_STATES = ("pending", "printed", "failed", "e_ticket")
STATUSES = ("waiting", "called", "serving", "parked", "done", "no_show", "cancelled", "expired")
ACTIVE_STATUSES = ("called", "serving")  # the ticket is at a counter
FINAL_STATUSES = ("done", "no_show", "cancelled", "expired")

# How a ticket came to be: taken at a kiosk or by staff ("walk_in"), made at the check-in
# of an appointment, joined from home ("remote"), or taken while the hall was full
# ("outside"). Remote and outside tickets hold a place in line but are not callable
# until their visitor checks in at a kiosk (callable_at = ABSENT until then).
TICKET_KINDS = ("walk_in", "appointment", "remote", "outside")
ABSENT = datetime(9999, 1, 1, tzinfo=UTC)
ABSENT_KINDS = ("remote", "outside")  # the kinds whose tickets wait for a check-in

# Queue lanes, called in this order where the policy allows: tickets sent to the
# front (transferred, resumed), then priority visitors, then everyone else.
LANE_FRONT = 0
LANE_PRIORITY = 1
LANE_NORMAL = 2


_ABSENT_INDEX_WHERE = (
    "status = 'waiting' AND kind IN ('remote', 'outside') AND callable_at IS NOT NULL "
    "AND passed_at IS NULL AND target_counter_id IS NULL"
)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    business_day: Mapped[date] = mapped_column(Date)  # the center's local day of issue
    prefix: Mapped[str] = mapped_column(String(4))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    priority: Mapped[str | None] = mapped_column(String(32), nullable=True)
    language: Mapped[str] = mapped_column(String(2))
    # Public handle for the QR code and the phone page; the id never leaves staff screens.
    tracking_token: Mapped[str] = mapped_column(String(64), unique=True)

    lane: Mapped[int] = mapped_column(SmallInteger, default=LANE_NORMAL)
    # Waiting since + the service's target wait: the earliest due_at is the most overdue.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    waiting_since: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when the ticket waits for one named counter (transfer to a counter, resume).
    target_counter_id: Mapped[int | None] = mapped_column(
        ForeignKey("counters.id", ondelete="SET NULL"), nullable=True
    )
    # The counter that called it (the current one while called/serving/parked).
    counter_id: Mapped[int | None] = mapped_column(
        ForeignKey("counters.id", ondelete="SET NULL"), nullable=True
    )
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True
    )
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), nullable=True
    )

    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_called_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    recall_count: Mapped[int] = mapped_column(Integer, default=0)
    transfer_count: Mapped[int] = mapped_column(Integer, default=0)

    print_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    print_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    printed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Reprints asked for; each is its own print job (see server/printing.py print_id).
    reprint_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    kind: Mapped[str] = mapped_column(String(12), default="walk_in", server_default="walk_in")
    # Not callable before this instant (NULL: callable): an appointment from its slot's
    # start minus a short lead, a remote or outside ticket not before check-in (ABSENT).
    # Call-next filters its queue heads on it from the index ix_tickets_queue.
    callable_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When an absent ticket reached the head of its line and was passed over: it keeps
    # its place for the center's hold time from then, and is a no-show after it.
    passed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The estimated wait the visitor was promised when the ticket was issued (seconds;
    # NULL: nobody could say), kept to measure the estimates against the real waits.
    promised_wait_s: Mapped[int | None] = mapped_column(Integer, nullable=True)

    service: Mapped[Service] = relationship()
    counter: Mapped[Counter | None] = relationship(foreign_keys=[counter_id])
    target_counter: Mapped[Counter | None] = relationship(foreign_keys=[target_counter_id])

    __table_args__ = (
        UniqueConstraint("center_id", "prefix", "business_day", "number"),
        CheckConstraint(
            "status IN ('waiting', 'called', 'serving', 'parked', 'done', 'no_show', "
            "'cancelled', 'expired')",
            name="status",
        ),
        CheckConstraint("language IN ('az', 'ru', 'en')", name="language"),
        CheckConstraint("kind IN ('walk_in', 'appointment', 'remote', 'outside')", name="kind"),
        CheckConstraint(
            "print_state IN ('pending', 'printed', 'failed', 'e_ticket')", name="print_state"
        ),
        # Call-next reads the head of each service's queue from here; the last two
        # columns let the live queue figures count waiting tickets from the index alone.
        Index(
            "ix_tickets_queue",
            "service_id",
            "lane",
            "due_at",
            "id",
            "issued_at",
            "priority",
            "callable_at",
            postgresql_where=text("status = 'waiting' AND target_counter_id IS NULL"),
            sqlite_where=text("status = 'waiting' AND target_counter_id IS NULL"),
        ),
        Index(
            "ix_tickets_targeted",
            "target_counter_id",
            "lane",
            "due_at",
            "id",
            postgresql_where=text("status = 'waiting' AND target_counter_id IS NOT NULL"),
            sqlite_where=text("status = 'waiting' AND target_counter_id IS NOT NULL"),
        ),
        Index(
            "ix_tickets_at_counter",
            "counter_id",
            postgresql_where=text("status IN ('called', 'serving')"),
            sqlite_where=text("status IN ('called', 'serving')"),
        ),
        # The counter screen lists the visitors a counter parked, on every change.
        Index(
            "ix_tickets_parked",
            "counter_id",
            postgresql_where=text("status = 'parked'"),
            sqlite_where=text("status = 'parked'"),
        ),
        Index(
            "ix_tickets_done",
            "service_id",
            "ended_at",
            postgresql_where=text("status = 'done'"),
            sqlite_where=text("status = 'done'"),
        ),
        # Call-next marks the absent tickets it steps over as passed (queue/calling.py).
        Index(
            "ix_tickets_absent",
            "service_id",
            "due_at",
            postgresql_where=text(_ABSENT_INDEX_WHERE),
            sqlite_where=text(_ABSENT_INDEX_WHERE),
        ),
        Index("ix_tickets_day", "center_id", "business_day", "status"),
        Index("ix_tickets_service_day", "service_id", "business_day"),
        # A kiosk agent that reconnects asks for its tickets still waiting to be printed.
        Index(
            "ix_tickets_print_pending",
            "device_id",
            "issued_at",
            postgresql_where=text("print_state = 'pending'"),
            sqlite_where=text("print_state = 'pending'"),
        ),
    )

    @property
    def display_number(self) -> str:
        return f"{self.prefix}{self.number:03d}"


class TicketSequence(Base):
    """The last number given per center, prefix and local day (bumped atomically)."""

    __tablename__ = "ticket_sequences"

    center_id: Mapped[int] = mapped_column(
        ForeignKey("centers.id", ondelete="CASCADE"), primary_key=True
    )
    prefix: Mapped[str] = mapped_column(String(4), primary_key=True)
    business_day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer)


def at_counter() -> ColumnElement[bool]:
    """``status IN ('called', 'serving')`` with the values written into the SQL, so the
    planner can use the partial index ix_tickets_at_counter: SQLite scans the whole
    table for an IN list of bound parameters."""
    return Ticket.status.in_(
        bindparam("at_counter", ACTIVE_STATUSES, expanding=True, literal_execute=True)
    )


class TicketEvent(Base):
    """Append-only audit log of every change to a ticket."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    counter_id: Mapped[int | None] = mapped_column(
        ForeignKey("counters.id", ondelete="SET NULL"), nullable=True
    )
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True
    )
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), nullable=True
    )
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class CounterEvent(Base):
    """Append-only log of counter state changes, so idle time can be explained."""

    __tablename__ = "counter_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    counter_id: Mapped[int] = mapped_column(
        ForeignKey("counters.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True
    )


class IdempotencyKey(Base):
    """A client's Idempotency-Key and the ticket it produced, so a retry gets that ticket."""

    __tablename__ = "idempotency_keys"

    # Whose key it is: "device:<id>" for a kiosk, "staff:<id>" for a staff member.
    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@event.listens_for(TicketEvent, "before_update")
@event.listens_for(CounterEvent, "before_update")
def _refuse_rewriting_history(_mapper, _connection, target) -> None:
    raise RuntimeError(f"{type(target).__name__} rows are append-only")


@event.listens_for(TicketEvent, "before_delete")
@event.listens_for(CounterEvent, "before_delete")
def _refuse_deleting_history(_mapper, _connection, target) -> None:
    raise RuntimeError(f"{type(target).__name__} rows are append-only")


# "status = 'waiting'" with the literal in the SQL, so that PostgreSQL's generic
# plans for prepared statements can still use the partial indexes above.
WAITING = text("tickets.status = 'waiting'")
# ix_tickets_absent's predicate, literal for the same reason: absent tickets (remote or
# outside, not checked in: callable_at is ABSENT until then, NULL after) not passed over.
ABSENT_WAITING = text(
    "tickets.status = 'waiting' AND tickets.kind IN ('remote', 'outside') "
    "AND tickets.callable_at IS NOT NULL AND tickets.passed_at IS NULL "
    "AND tickets.target_counter_id IS NULL"
)
