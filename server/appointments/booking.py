"""Booking a slot, seeing and cancelling the booking.

Invariants (models/appointments.py): a slot never holds more than ``bookings_per_slot``
live bookings (cancelled ones count until the cancel hold passes); the code is unique
per center and easy to read aloud; the token is the visitor's unguessable link; a
contact or a client address is kept only as a keyed digest (HMAC-SHA256 with the app's
secret), for the per-day limits, never as given.

Concurrency: the service's row is locked (``FOR UPDATE``) before its slot is counted,
so of many bookings racing for the last place exactly one sees it free (PostgreSQL);
SQLite's write transactions (``BEGIN IMMEDIATE``, server/db.py) are one at a time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput, NotFound, NovbeError
from ..models import Appointment, Center, Service, utcnow
from ..models.base import LANGUAGES
from ..notify.contacts import erase_for_appointment
from ..queue.lookup import get_center, get_service
from ..queue.numbering import business_day
from .slots import CANCEL_HOLD_MIN, booking_days, grid, taken

# No 0/O, 1/I, 8/B, G/6, S/5... : letters and digits that sound and look unlike.
CODE_ALPHABET = "ACEFHKLMNPRTUVWXY2345679"
CODE_LENGTH = 6
BOOKINGS_PER_CONTACT_PER_DAY = 2  # per center and local day, cancelled ones included
BOOKINGS_PER_CLIENT_PER_DAY = 10  # per client address, rolling 24 hours
CONTACT_MAX = 100


class TooManyBookings(NovbeError):
    """A per-contact or per-client limit (429)."""

    status = 429
    code = "too_many_bookings"


@dataclass(frozen=True)
class Limits:
    """The API layer fills these from APPOINTMENT_* config keys."""

    per_contact_per_day: int = BOOKINGS_PER_CONTACT_PER_DAY
    per_client_per_day: int = BOOKINGS_PER_CLIENT_PER_DAY
    cancel_hold_min: int = CANCEL_HOLD_MIN


def digest(secret: str | bytes, kind: str, value: str) -> str:
    """A keyed digest of a contact ("contact") or client address ("client"). Contacts
    are normalized (case, spaces, dashes, dots, brackets) so "+994 50 123-45-67" and
    "+994501234567" count as one."""
    if kind == "contact":
        value = re.sub(r"[\s\-().]", "", value).lower()
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def normalize_code(code: str) -> str:
    """As typed or read aloud: case and spaces do not matter."""
    return re.sub(r"\s+", "", code).upper()


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def appointment_by_token(session: Session, token: str, *, lock: bool = False) -> Appointment:
    stmt = select(Appointment).where(Appointment.token == token)
    if lock:
        stmt = stmt.with_for_update()
    appointment = session.scalar(stmt)
    if appointment is None:
        raise NotFound("unknown appointment", code="appointment_not_found")
    return appointment


def bookable_service(session: Session, center: Center, service_code: str) -> Service:
    service = get_service(session, center, service_code)
    if not (service.bookable and service.active):
        raise Conflict(
            f"service '{service_code}' cannot be booked",
            code="service_not_bookable",
            field="service",
        )
    return service


def serialize_on(session: Session, *keys: str | None) -> None:
    """Hold, until the transaction ends, a lock per key (a contact's or a client's
    digest), so that two requests counting the same key's bookings or joins against a
    limit take turns, whichever service or center they are for. PostgreSQL: transaction
    advisory locks, taken in one order (no deadlock between two holders of both).
    SQLite: its write transactions already run one at a time."""
    if session.get_bind().dialect.name != "postgresql":
        return
    numbers = sorted(
        {
            int.from_bytes(hashlib.sha256(k.encode()).digest()[:8], "big", signed=True)
            for k in keys
            if k
        }
    )
    for number in numbers:
        session.execute(select(func.pg_advisory_xact_lock(number)))


def check_start(center: Center, service: Service, start: datetime, now: datetime) -> None:
    """A clear refusal, naming ``start``, for a time that is not a slot on offer."""
    if start.tzinfo is None:
        raise InvalidInput("'start' needs a UTC offset, e.g. +04:00", field="start")
    if start <= now:
        raise InvalidInput("'start' is in the past", code="slot_in_past", field="start")
    first, last = booking_days(center, service, now)
    # Days ahead are at most 366: a start years away is refused before its local day is
    # computed (near year 9999 that overflows).
    day = (
        last + timedelta(days=1)
        if start - now > timedelta(days=400)
        else business_day(center, start)
    )
    if day > last:
        raise InvalidInput(
            f"'start' is too far ahead: bookings are open until {last.isoformat()}",
            code="too_far_ahead",
            field="start",
            last_day=last.isoformat(),
        )
    if start not in grid(center, service, day):
        raise InvalidInput(
            "'start' is not a slot of this service (closed, a break, or not on the "
            f"{service.slot_min}-minute grid)",
            code="slot_not_offered",
            field="start",
        )


def book(
    session: Session,
    center_code: str,
    service_code: str,
    start: datetime,
    language: str,
    *,
    contact: str | None = None,
    client: str | None = None,
    now: datetime | None = None,
    secret: str | bytes = "",
    limits: Limits = Limits(),
) -> Appointment:
    """Book one place in the slot starting at ``start`` (aware). ``contact`` (optional,
    e.g. a phone number) and ``client`` (the caller's address) are kept as digests."""
    now = now or utcnow()
    if language not in LANGUAGES:
        raise InvalidInput(f"'language' must be one of {', '.join(LANGUAGES)}", field="language")
    if contact is not None and not (0 < len(contact.strip()) <= CONTACT_MAX):
        raise InvalidInput(f"'contact' must be 1 to {CONTACT_MAX} characters", field="contact")
    center = get_center(session, center_code)
    service = bookable_service(session, center, service_code)
    check_start(center, service, start, now)
    contact_digest = digest(secret, "contact", contact.strip()) if contact else None
    client_digest = digest(secret, "client", client) if client else None
    # The limits count over the center's or every center's bookings: one contact's or
    # client's bookings take turns; then the lock every booking of this service queues
    # on (see the module docstring), always in this order.
    serialize_on(session, contact_digest, client_digest)
    session.execute(select(Service.id).where(Service.id == service.id).with_for_update())
    day = business_day(center, start)
    _check_limits(session, center, day, now, contact_digest, client_digest, limits)
    used = taken(session, service.id, [start], now, limits.cancel_hold_min).get(start, 0)
    if used >= service.bookings_per_slot:
        raise Conflict(
            "this slot has just been taken; choose another", code="slot_full", field="start"
        )
    appointment = Appointment(
        center_id=center.id,
        service_id=service.id,
        start=start,
        business_day=day,
        code=_unused_code(session, center.id),
        token=secrets.token_urlsafe(16),
        language=language,
        state="booked",
        contact_digest=contact_digest,
        client_digest=client_digest,
        created_at=now,
    )
    session.add(appointment)
    session.flush()
    return appointment


def _check_limits(
    session: Session,
    center: Center,
    day,
    now: datetime,
    contact_digest: str | None,
    client_digest: str | None,
    limits: Limits,
) -> None:
    if contact_digest is not None:
        count = session.scalar(
            select(func.count()).where(
                Appointment.contact_digest == contact_digest,
                Appointment.center_id == center.id,
                Appointment.business_day == day,
            )
        )
        if count >= limits.per_contact_per_day:
            raise TooManyBookings(
                f"this contact already has {count} bookings at this center on "
                f"{day.isoformat()} (at most {limits.per_contact_per_day} a day)",
                code="contact_limit",
                field="contact",
                limit=limits.per_contact_per_day,
            )
    if client_digest is not None:
        count = session.scalar(
            select(func.count()).where(
                Appointment.client_digest == client_digest,
                Appointment.created_at > now - timedelta(days=1),
            )
        )
        if count >= limits.per_client_per_day:
            raise TooManyBookings(
                f"too many bookings from this address today (at most "
                f"{limits.per_client_per_day} in 24 hours); try again tomorrow",
                code="client_limit",
                limit=limits.per_client_per_day,
            )


def _unused_code(session: Session, center_id: int) -> str:
    """A code no booking of the center has (24**6 codes: a clash is rare, retried)."""
    for _ in range(20):
        code = new_code()
        clash = session.scalar(
            select(Appointment.id).where(
                Appointment.center_id == center_id, Appointment.code == code
            )
        )
        if clash is None:
            return code
    raise Conflict("could not find a free booking code; try again", code="busy")


def cancel(session: Session, token: str, now: datetime | None = None) -> Appointment:
    """Cancel a booking (again: the same answer). Its place stays taken for the cancel
    hold (slots.py). A booking already checked in, or whose slot has started, stays."""
    now = now or utcnow()
    appointment = appointment_by_token(session, token, lock=True)
    if appointment.state == "cancelled":
        return appointment
    if appointment.state == "checked_in":
        raise Conflict("this booking is already checked in", code="already_checked_in")
    if appointment.state == "no_show" or appointment.start <= now:
        raise Conflict(
            "this booking's time has already begun; it can no longer be cancelled",
            code="appointment_started",
        )
    appointment.state = "cancelled"
    appointment.cancelled_at = now
    erase_for_appointment(session, appointment, now)  # its contacts and reminders
    session.flush()
    return appointment


__all__ = [
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "Limits",
    "TooManyBookings",
    "appointment_by_token",
    "book",
    "cancel",
    "digest",
    "new_code",
    "normalize_code",
]
