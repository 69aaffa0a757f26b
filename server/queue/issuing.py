"""Issuing tickets at a kiosk (or by staff on a visitor's behalf).

The hot path of a busy center, so it speaks SQLAlchemy Core on the session's
connection (no unit of work, statements built once): one SELECT for the center, the
service and the issuing kiosk, one for an Idempotency-Key replay, the number's upsert
(numbering.py), the count of the visitors ahead for its estimated wait (kept as
``promised_wait_s``), then the INSERTs of the ticket (with its print state and that
promise already in it), its audit event and its key. Guarantees, all in the caller's
one transaction:

* numbers per center, prefix and local day without gaps or duplicates (numbering.py;
  the unique constraint on ``tickets`` is the last line of defence);
* an Idempotency-Key replayed with the same request returns the ticket it made, and
  with another request is refused (a race of two retries on PostgreSQL ends in the
  key's primary key: the caller retries once and finds the winner's ticket);
* the audit ``TicketEvent`` ("issue") and the changes for the live channel (ticket,
  then print state: queue/changes.py) are written and announced with the ticket, so a
  rolled-back issue leaves and announces nothing;
* a walk-in at a center with a hall capacity (and only there: one more count, by
  ix_tickets_day) becomes an "outside" ticket when the hall is full: it holds its place
  but is not callable until its visitor checks in (server/appointments/hall.py). Other
  kinds (an appointment's check-in, a remote join) pass ``kind``, ``due_at`` and
  ``callable_at`` themselves (docs/queue.md, "Appointments and absent tickets").
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session, make_transient_to_detached

from ..errors import Conflict, InvalidInput, NotFound
from ..ledger.chain import note
from ..models import (
    ABSENT,
    LANE_NORMAL,
    LANE_PRIORITY,
    LANGUAGES,
    Center,
    Device,
    IdempotencyKey,
    Service,
    Ticket,
    TicketEvent,
    utcnow,
)
from .actor import Actor
from .changes import Change, ChangeKind, announce
from .estimates import TicketEstimate, estimate
from .lookup import get_center
from .numbering import local_day, next_number

MAX_IDEMPOTENCY_KEY_LENGTH = 128


class IssuedTicket(dict):
    """A ticket just inserted: its columns, by name and as attributes (what responses,
    estimates and print states read), without the ORM's object."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def display_number(self) -> str:
        return f"{self['prefix']}{self['number']:03d}"


class IssueResult:
    """The ticket, and whether it was made now (False: an Idempotency-Key replayed an
    earlier one). ``ticket`` is the ORM object, made on first use: the API's hot path
    reads ``issued`` (the inserted columns) instead."""

    def __init__(
        self,
        ticket: Ticket | None,
        created: bool,
        *,
        issued: IssuedTicket | None = None,
        session: Session | None = None,
        promised: TicketEstimate | None = None,
    ) -> None:
        self._ticket = ticket
        self.created = created
        self.issued = issued
        self._session = session
        # A new ticket's place and estimated wait as issuing computed them (the ticket's
        # response shows them: no second count of the visitors ahead).
        self.promised = promised

    @property
    def ticket(self) -> Ticket:
        if self._ticket is None:
            self._ticket = _persistent_ticket(self._session, self.issued)
        return self._ticket


@dataclass(frozen=True)
class IssuingDevice:
    """The issuing kiosk as the print rules (server/printing.py) read it."""

    id: int
    kind: str
    settings: dict
    printer_status: dict | None


@dataclass(frozen=True)
class Place:
    """Where a ticket is issued: its center, and its service if the center has it."""

    center_id: int
    center_code: str
    timezone: str
    priority_classes: list
    service_code: str
    service_id: int | None  # None: the center has no such service
    prefix: str | None
    active: bool
    target_wait_min: int
    daily_quota: int | None
    device: IssuingDevice | None  # the actor's device, if it belongs to this center
    hall_capacity: int | None = None  # the center's; None: no limit, no count


# Decides a new ticket's print state from its device: (state, reason), or None.
PrintRule = Callable[[IssuingDevice], "tuple[str, str | None] | None"]


def new_tracking_token() -> str:
    """128 random bits, URL-safe: the visitor's only handle on the ticket."""
    return secrets.token_urlsafe(16)


def find_place(
    session: Session, center_code: str, service_code: str, device_id: int | None = None
) -> Place:
    """The center and service by code (404 for an unknown center), in one statement."""
    session.flush()  # Core below: let it see what the caller has added
    row = (
        session.connection()
        .execute(
            _place_statement(),
            {"center": center_code, "service": service_code, "device": device_id},
        )
        .first()
    )
    if row is None:  # no such service here, or no such center at all
        center = get_center(session, center_code)  # 404 for an unknown center
        return Place(
            center.id,
            center.code,
            center.timezone,
            list(center.priority_classes),
            service_code,
            None,
            None,
            False,
            0,
            None,
            None,
            center.hall_capacity,
        )
    device = None
    if row.device_id is not None:
        device = IssuingDevice(
            row.device_id, row.device_kind, row.settings or {}, row.printer_status
        )
    return Place(
        row.center_id,
        center_code,
        row.timezone,
        list(row.priority_classes or ()),
        service_code,
        row.service_id,
        row.prefix,
        bool(row.active),
        row.target_wait_min,
        row.daily_quota,
        device,
        row.hall_capacity,
    )


@lru_cache(maxsize=1)
def _place_statement():
    """Built once: building an expression costs more than running it."""
    return (
        select(
            Center.id.label("center_id"),
            Center.timezone,
            Center.priority_classes,
            Center.hall_capacity,
            Service.id.label("service_id"),
            Service.prefix,
            Service.active,
            Service.target_wait_min,
            Service.daily_quota,
            Device.id.label("device_id"),
            Device.kind.label("device_kind"),
            Device.settings,
            Device.printer_status,
        )
        .select_from(Center)
        .join(Service, and_(Service.center_id == Center.id, Service.code == bindparam("service")))
        .outerjoin(Device, and_(Device.id == bindparam("device"), Device.center_id == Center.id))
        .where(Center.code == bindparam("center"))
    )


def issue_ticket(
    session: Session,
    center_code: str,
    service_code: str,
    language: str,
    priority: str | None,
    actor: Actor,
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    print_rule: PrintRule | None = None,
) -> IssueResult:
    place = find_place(session, center_code, service_code, actor.device_id)
    return issue_at(
        session,
        place,
        language,
        priority,
        actor,
        idempotency_key=idempotency_key,
        now=now,
        print_rule=print_rule,
    )


def issue_at(
    session: Session,
    place: Place,
    language: str,
    priority: str | None,
    actor: Actor,
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    print_rule: PrintRule | None = None,
    kind: str = "walk_in",
    due_at: datetime | None = None,
    callable_at: datetime | None = None,
    details: dict | None = None,
) -> IssueResult:
    """Issue at ``place`` (find_place). ``print_rule``: the issuing device's ticket gets
    the print state it decides (server/printing.py's ``initial_print_state``) in its
    INSERT; without one, no print state (tickets issued by the engine's other callers).

    ``kind``, ``due_at`` (default: now + the service's target wait) and ``callable_at``
    (default: callable at once) are for server/appointments/: a walk-in ("walk_in") may
    still become "outside" when the center's hall is full and its wait is longer than
    appointments/hall.py's COME_IN. ``details``: more for the
    issue event's private details (never shown publicly: ledger PUBLIC_DETAILS)."""
    given, now = now, now or utcnow()
    if language not in LANGUAGES:
        raise InvalidInput(
            f"language must be one of {', '.join(LANGUAGES)}, not {language!r}", field="language"
        )
    if priority is not None and priority not in place.priority_classes:
        allowed = ", ".join(place.priority_classes) or "none at this center"
        raise InvalidInput(
            f"unknown priority class {priority!r}; allowed: {allowed}", field="priority"
        )
    if place.service_id is None:
        raise NotFound(
            f"unknown service '{place.service_code}' at center '{place.center_code}'",
            code="service_not_found",
        )
    conn = session.connection()
    request_hash = _request_hash(place.center_code, place.service_code, language, priority)
    if idempotency_key is not None:
        replay = _replay(session, actor, idempotency_key, request_hash)
        if replay is not None:
            return IssueResult(replay, created=False)

    if not place.active:
        raise Conflict(
            f"service '{place.service_code}' is not available at the moment",
            code="service_inactive",
        )
    day = local_day(place.timezone, now)
    _check_quota(session, place, day)
    hall_full = False
    if kind == "walk_in" and place.hall_capacity is not None:
        from ..appointments.hall import COME_IN_S, present_count  # only with a hall limit

        hall_full = present_count(session, place.center_id, day) >= place.hall_capacity

    print_state = print_reason = None
    if print_rule is not None and place.device is not None:
        decided = print_rule(place.device)
        if decided is not None:
            print_state, print_reason = decided
    values = {
        "center_id": place.center_id,
        "service_id": place.service_id,
        "business_day": day,
        "prefix": place.prefix,
        "number": next_number(session, place.center_id, place.prefix, day),
        "status": "waiting",
        "priority": priority,
        "language": language,
        "tracking_token": new_tracking_token(),
        "lane": LANE_PRIORITY if priority else LANE_NORMAL,
        "due_at": due_at or now + timedelta(minutes=place.target_wait_min),
        "waiting_since": now,
        "target_counter_id": None,
        "counter_id": None,
        "staff_id": None,
        "device_id": actor.device_id,
        "issued_at": now,
        "called_at": None,
        "last_called_at": None,
        "started_at": None,
        "ended_at": None,
        "recall_count": 0,
        "transfer_count": 0,
        "print_state": print_state,
        "print_reason": print_reason,
        "printed_at": None,
        "reprint_count": 0,
        "kind": kind,
        "callable_at": callable_at,
        "checked_in_at": now if kind == "appointment" else None,  # made at its check-in
        "passed_at": None,
    }
    promised = _promise(session, values, given)
    if hall_full:
        # Sent outside unless it would be let in at once (hall.come_in's rule): a visitor
        # told "wait outside" whose phone says "come in now" was the other way.
        wait = promised.estimated_wait_s
        if wait is None or wait > COME_IN_S:
            values["kind"], values["callable_at"] = "outside", ABSENT
    values["promised_wait_s"] = promised.estimated_wait_s
    values["id"] = conn.execute(_insert(Ticket), values).inserted_primary_key[0]
    _record_issue(session, values, actor, now, priority, details)
    if print_state is not None:
        announce(session, Change(ChangeKind.PRINT, print_state, values["id"]))
    if idempotency_key is not None:
        conn.execute(
            _insert(IdempotencyKey),
            {
                "scope": actor.idempotency_scope,
                "key": idempotency_key,
                "request_hash": request_hash,
                "ticket_id": values["id"],
                "created_at": now,
            },
        )
    return IssueResult(None, True, issued=IssuedTicket(values), session=session, promised=promised)


# Above any ticket's id (an INTEGER column): the new ticket, not inserted yet, is
# behind every waiting ticket with its lane and due time, as it will be.
_NEW_TICKET_ID = 2**31 - 1


def _promise(session: Session, values: dict, now: datetime | None) -> TicketEstimate:
    """The place and estimated wait the visitor is shown at issue (their ticket's
    response, estimates.estimate); the wait is kept with the ticket to measure the
    estimates against the real waits (server/forecast/accuracy.py). Computed before the
    INSERT so that it goes in the same statement, and once: the response reuses it (the
    loads and open counters come from the process's cache, loads.py)."""
    return estimate(session, IssuedTicket(values, id=_NEW_TICKET_ID), now)


def _record_issue(
    session: Session,
    ticket: dict,
    actor: Actor,
    now: datetime,
    priority: str | None,
    details: dict | None = None,
) -> None:
    """The audit event queue/audit.py's ``record`` writes for "issue", and its change."""
    fields = {
        "ticket_id": ticket["id"],
        "at": now,
        "action": "issue",
        "from_status": None,
        "to_status": "waiting",
        "counter_id": None,
        "staff_id": actor.staff_id,
        "device_id": actor.device_id,
        "reason": None,
        "details": {"priority": priority, **details} if details else {"priority": priority},
    }
    event_id = session.connection().execute(_insert(TicketEvent), fields).inserted_primary_key[0]
    note(
        session,
        center_id=ticket["center_id"],
        day=ticket["business_day"],
        ticket_id=ticket["id"],
        number=f"{ticket['prefix']}{ticket['number']:03d}",
        service_id=ticket["service_id"],
        event_id=event_id,
        fields=fields,
    )
    announce(
        session,
        Change(
            ChangeKind.TICKET, "issue", ticket["id"], (), ticket["center_id"], ticket["service_id"]
        ),
    )


@lru_cache(maxsize=8)
def _insert(model):
    """The model's INSERT, built once: building it costs more than running it."""
    return model.__table__.insert()


def _persistent_ticket(session: Session, values: dict) -> Ticket:
    """The inserted row as a Ticket in ``session``, every column loaded, without reading
    it back (its relationships load on first use)."""
    ticket = Ticket(**dict(values))
    make_transient_to_detached(ticket)
    session.add(ticket)
    return ticket


def _request_hash(*parts: str | None) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _replay(session: Session, actor: Actor, key: str, request_hash: str) -> Ticket | None:
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters",
            field="Idempotency-Key",
        )
    earlier = (
        session.connection()
        .execute(_key_statement(), {"scope": actor.idempotency_scope, "key": key})
        .first()
    )
    if earlier is None:
        return None
    if earlier.request_hash != request_hash:
        raise InvalidInput(
            "this Idempotency-Key was already used for a different ticket request",
            code="idempotency_key_reused",
            field="Idempotency-Key",
        )
    return session.get(Ticket, earlier.ticket_id)


@lru_cache(maxsize=1)
def _key_statement():
    return select(IdempotencyKey.request_hash, IdempotencyKey.ticket_id).where(
        IdempotencyKey.scope == bindparam("scope"), IdempotencyKey.key == bindparam("key")
    )


def _check_quota(session: Session, place: Place, day) -> None:
    if place.daily_quota is None:
        return
    issued = session.connection().scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.service_id == place.service_id, Ticket.business_day == day)
    )
    if issued >= place.daily_quota:
        raise Conflict(
            f"service '{place.service_code}' has reached its daily quota of "
            f"{place.daily_quota} tickets",
            code="quota_reached",
        )
