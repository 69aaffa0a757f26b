"""One ticket's history and the day's out-of-order calls, for managers: why was this
visitor called before the others, by whom, and how many did it pass?

Everything is read from the append-only ticket log (``ticket_events``), joined to the
counter, staff member and device each entry names. Plain functions over a session; the
API views (server/api/ticket_history.py) check who may read them.

Invariants:

- A ticket is named as visitors and staff know it: its number (``E014``) and its
  center's local day of issue (numbers restart every day).
- Nothing here identifies a visitor: no tracking token, no internal ids of other rows,
  and entry details whose key names contact data (PRIVATE_DETAIL_KEYS) are left out.
- "A call" is a log entry ``call`` or ``call_out_of_order`` (a recall is the same call
  repeated, not a new one); it belongs to the staff member who made it, whoever
  served the ticket afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, aliased

from ..errors import InvalidInput
from ..models import (
    LANE_FRONT,
    LANE_PRIORITY,
    Center,
    Counter,
    Device,
    LedgerEntry,
    Service,
    StaffUser,
    Ticket,
    TicketEvent,
)
from ..serializers import iso

OUT_OF_ORDER = "call_out_of_order"
CALL_ACTIONS = ("call", OUT_OF_ORDER)
# Keys of an entry's details never shown, whatever action wrote them.
PRIVATE_DETAIL_KEYS = frozenset({"phone", "contact", "email", "name", "comment", "token"})
# A ticket number: its service's prefix (capital Latin letters), then the digits.
NUMBER_RE = re.compile(r"([A-Z]{1,3})([0-9]{3,6})")
LANES = {LANE_FRONT: "front", LANE_PRIORITY: "priority"}


def parse_number(text: str | None, field: str = "number") -> tuple[str, int]:
    """``"E014"`` -> ``("E", 14)``; 422 naming ``field`` otherwise."""
    if not text:
        raise InvalidInput(f"'{field}' is required (a ticket number such as A012)", field=field)
    match = NUMBER_RE.fullmatch(text)
    if match is None:
        raise InvalidInput(
            f"'{field}' must be a ticket number: 1 to 3 capital letters and 3 to 6 digits, "
            "e.g. A012",
            field=field,
        )
    return match.group(1), int(match.group(2))


def ticket_history(session: Session, center: Center, number: str, day: date) -> dict | None:
    """The ticket ``number`` issued at ``center`` on its local day ``day``, and every
    entry of its log in the order they happened; None when there is no such ticket."""
    prefix, value = parse_number(number)
    ticket = session.scalar(
        select(Ticket).where(
            Ticket.center_id == center.id,
            Ticket.prefix == prefix,
            Ticket.business_day == day,
            Ticket.number == value,
        )
    )
    if ticket is None:
        return None
    rows = session.execute(
        select(
            TicketEvent,
            Counter.label,
            StaffUser.username,
            Device.name,
            LedgerEntry.seq,
            LedgerEntry.hash,
        )
        .outerjoin(Counter, Counter.id == TicketEvent.counter_id)
        .outerjoin(StaffUser, StaffUser.id == TicketEvent.staff_id)
        .outerjoin(Device, Device.id == TicketEvent.device_id)
        .outerjoin(LedgerEntry, LedgerEntry.event_id == TicketEvent.id)
        .where(TicketEvent.ticket_id == ticket.id)
        .order_by(TicketEvent.at, TicketEvent.id)
    )
    return {
        "number": ticket.display_number,
        "day": ticket.business_day.isoformat(),
        "service": _service_json(ticket.service),
        "language": ticket.language,
        "priority": ticket.priority,
        "lane": LANES.get(ticket.lane, "normal"),
        "status": ticket.status,
        "counter": ticket.counter.label if ticket.counter else None,
        "issued_at": iso(ticket.issued_at),
        "called_at": iso(ticket.called_at),
        "started_at": iso(ticket.started_at),
        "ended_at": iso(ticket.ended_at),
        "recall_count": ticket.recall_count,
        "transfer_count": ticket.transfer_count,
        "print_state": ticket.print_state,
        "events": [
            {
                "at": iso(event.at),
                "action": event.action,
                "from_status": event.from_status,
                "to_status": event.to_status,
                "counter": label,
                "staff": username,
                "device": device,
                "reason": event.reason,
                "details": _public_details(event.details),
                # Its place in the day's fairness ledger (docs/ledger.md), for an auditor.
                "ledger": {"seq": seq, "hash": hash_} if seq is not None else None,
            }
            for event, label, username, device, seq, hash_ in rows
        ],
    }


def out_of_order_calls(session: Session, center: Center, day: date) -> list[dict]:
    """Every out-of-order call of a ticket issued at ``center`` on the local day ``day``,
    in the order they were made.

    ``passed`` counts the visitors the call went ahead of: tickets of the called
    ticket's (current) service issued the same day before it, that were still waiting
    at the moment of the call, i.e. not called yet (``called_at`` empty or later than
    the call) and not ended yet (``ended_at`` empty or later: a visitor who had
    cancelled or expired was passed by nobody). A ticket recalled, parked or sent back
    to the queue after its first call is not counted (its first call is what
    ``called_at`` keeps), nor one transferred into the service after the call."""
    called = aliased(Ticket)
    other = aliased(Ticket)
    passed = (
        select(func.count(other.id))
        .where(
            other.service_id == called.service_id,
            other.business_day == called.business_day,
            other.id != called.id,
            other.issued_at < called.issued_at,
            or_(other.called_at.is_(None), other.called_at > TicketEvent.at),
            or_(other.ended_at.is_(None), other.ended_at > TicketEvent.at),
        )
        .correlate(called, TicketEvent)
        .scalar_subquery()
    )
    rows = session.execute(
        select(TicketEvent, called, Service, Counter.label, StaffUser.username, passed)
        .join(called, called.id == TicketEvent.ticket_id)
        .join(Service, Service.id == called.service_id)
        .outerjoin(Counter, Counter.id == TicketEvent.counter_id)
        .outerjoin(StaffUser, StaffUser.id == TicketEvent.staff_id)
        .where(
            called.center_id == center.id,
            called.business_day == day,
            TicketEvent.action == OUT_OF_ORDER,
        )
        .order_by(TicketEvent.at, TicketEvent.id)
    )
    return [
        {
            "at": iso(event.at),
            "number": ticket.display_number,
            "service": _service_json(service),
            "reason": event.reason,
            "staff": username,
            "counter": label,
            "passed": count,
        }
        for event, ticket, service, label, username, count in rows
    ]


def out_of_order_rates(
    session: Session, center: Center, start_day: date, end_day: date
) -> dict[int, dict]:
    """Per staff member who called anyone: ``{"calls", "out_of_order", "share"}`` over
    the tickets issued at ``center`` on the local days ``start_day``..``end_day``
    (inclusive). ``share`` is out_of_order / calls, 4 decimals."""
    return staff_rates(session, (center.id,), start_day, end_day)


def staff_rates(
    session: Session, center_ids: Sequence[int], start_day: date, end_day: date
) -> dict[int, dict]:
    """out_of_order_rates over several centers at once (the network report)."""
    if not center_ids:
        return {}
    out_of_order = func.sum(case((TicketEvent.action == OUT_OF_ORDER, 1), else_=0))
    rows = session.execute(
        select(TicketEvent.staff_id, func.count(TicketEvent.id), out_of_order)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(
            Ticket.center_id.in_(center_ids),
            Ticket.business_day.between(start_day, end_day),
            TicketEvent.action.in_(CALL_ACTIONS),
            TicketEvent.staff_id.is_not(None),
        )
        .group_by(TicketEvent.staff_id)
    )
    return {staff_id: rate(calls, int(ooo or 0)) for staff_id, calls, ooo in rows}


def rate(calls: int = 0, out_of_order: int = 0) -> dict:
    """The shape of one staff member's out-of-order rate (no calls: share None)."""
    share = round(out_of_order / calls, 4) if calls else None
    return {"calls": calls, "out_of_order": out_of_order, "share": share}


def _service_json(service: Service) -> dict:
    return {"code": service.code, "prefix": service.prefix, "name": service.name}


def _public_details(details: dict | None) -> dict:
    return {k: v for k, v in (details or {}).items() if k not in PRIVATE_DETAIL_KEYS}
