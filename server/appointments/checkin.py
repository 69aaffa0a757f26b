"""A visitor arriving: check-in at a kiosk (or by reception) with an appointment's code,
or with the QR of a remote or outside ticket (its tracking URL, /t/<token>).

* An appointment inside its window (slot start - ``checkin_early_min`` to start +
  ``late_grace_min``) becomes a ticket of kind "appointment": due at its slot start,
  callable from start - APPOINTMENT_LEAD (or at once if that is past), in the normal
  lane or the priority lane when a priority class is given. A full hall does not refuse
  it (the visitor was booked).
* Earlier: 409 ``too_early`` (with the time check-in opens). Later: the service's
  ``after_grace`` "walk_in" gives an ordinary walk-in ticket and marks the booking
  no_show ("late": true); "refuse" is 409 ``too_late``. A booking marked no_show by the
  upkeep is treated the same way on its day (the visitor came after the grace). The
  window never leaves the slot's own day: a later day's booking is ``too_early``, an
  earlier day's is ``appointment_no_show``, whatever the service's minutes say.
* A remote or outside ticket that is still absent becomes callable where it stands
  (``callable_at`` = NULL): its due time, its place, are those of its joining. An
  outside ticket comes in only when the hall has room or its estimated wait is
  hall.COME_IN or less; else 409 ``hall_full`` (with the estimate). Its priority class
  was set when it was issued: a priority sent with its QR is refused (422, "priority").
* A priority class given by staff or reception (after seeing the visitor's document) is
  recorded in the issue event's details as ``confirmed_by`` (the user's name), as for a
  staff issue (api/tickets.py).

One use only: the booking row (or the ticket's) is locked FOR UPDATE on PostgreSQL and
SQLite's write lock serializes, so two check-ins of one code give one ticket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput, NotFound
from ..models import ABSENT, ABSENT_KINDS, Appointment, Center, Service, Ticket, utcnow
from ..notify.contacts import move_to_ticket
from ..queue.actor import Actor
from ..queue.audit import record
from ..queue.issuing import IssueResult, PrintRule, find_place, issue_at
from ..queue.lookup import get_center
from ..queue.numbering import local_day
from . import APPOINTMENT_LEAD
from .booking import CODE_ALPHABET, CODE_LENGTH, normalize_code
from .hall import COME_IN_S, come_in

MAX_CODE_LENGTH = 200  # a tracking URL with a long host name fits
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_CODE = re.compile(f"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")


@dataclass
class CheckIn:
    issued: IssueResult
    appointment: Appointment | None
    late: bool
    kind: str  # "appointment" | "remote" | "outside" | "walk_in"


def parse_code(code: str) -> tuple[str, str]:
    """("appointment", CODE) or ("token", tracking token), from what was typed or
    scanned: an appointment code (case and spaces ignored, also dashes), a tracking
    token, or a URL ending in /t/<token> (a scanner types the whole QR)."""
    if not isinstance(code, str) or not code.strip():
        raise InvalidInput("'code' must be an appointment code or a ticket's QR", field="code")
    if len(code) > MAX_CODE_LENGTH:
        raise InvalidInput(f"'code' must be at most {MAX_CODE_LENGTH} characters", field="code")
    text = code.strip()
    if "/t/" in text:
        token = text.rsplit("/t/", 1)[1].split("?", 1)[0].split("#", 1)[0].strip("/")
        if _TOKEN.match(token):
            return "token", token
        raise NotFound("no ticket has this QR", code="ticket_not_found")
    appointment_code = normalize_code(text).replace("-", "")
    if _CODE.match(appointment_code):
        return "appointment", appointment_code
    if _TOKEN.match(text):
        return "token", text
    # What was typed is said back only when it could pass for a code (a scanner's
    # garbage is not echoed, and one form for both "not found" messages).
    shown = f" {appointment_code}" if len(appointment_code) <= 2 * CODE_LENGTH else ""
    raise NotFound(
        f"no appointment has the code{shown}",
        code="appointment_not_found",
    )


def check_in(
    session: Session,
    center_code: str,
    code: str,
    actor: Actor,
    *,
    now: datetime | None = None,
    print_rule: PrintRule | None = None,
    priority: str | None = None,
    language: str | None = None,
) -> CheckIn:
    """``language``: the one the visitor chose at the kiosk or reception, for an
    appointment's ticket (else the booking's); a remote or outside ticket keeps its own."""
    now = now or utcnow()
    what, value = parse_code(code)
    center = get_center(session, center_code)
    if what == "token":
        if priority is not None:
            raise InvalidInput(
                "'priority' is not taken with a ticket's QR: its class was set when it was issued",
                field="priority",
            )
        return _check_in_ticket(session, center, value, actor, now)
    done = _check_in_appointment(session, center, value, actor, now, print_rule, priority, language)
    move_to_ticket(session, done.appointment, done.issued.issued.id)  # its contacts follow
    return done


def _check_in_appointment(
    session: Session,
    center: Center,
    code: str,
    actor: Actor,
    now: datetime,
    print_rule: PrintRule | None,
    priority: str | None,
    language: str | None,
) -> CheckIn:
    appointment = session.scalar(
        select(Appointment)
        .where(Appointment.center_id == center.id, Appointment.code == code)
        .with_for_update()
    )
    if appointment is None:
        elsewhere = session.scalar(select(Appointment.id).where(Appointment.code == code).limit(1))
        if elsewhere is not None:
            raise Conflict(f"appointment {code} is booked at another center", code="wrong_center")
        raise NotFound(f"no appointment has the code {code}", code="appointment_not_found")
    service = session.get(Service, appointment.service_id)
    # Not before the slot's own day (a ticket belongs to its business day: one issued
    # the evening before would expire at that day's close), nor after it.
    day_starts = datetime.combine(
        appointment.business_day, time(0), tzinfo=ZoneInfo(center.timezone)
    ).astimezone(UTC)
    opens = max(appointment.start - timedelta(minutes=service.checkin_early_min), day_starts)
    closes = appointment.start + timedelta(minutes=service.late_grace_min)
    today = local_day(center.timezone, now)
    if appointment.state == "cancelled":
        raise Conflict(f"appointment {code} was cancelled", code="appointment_cancelled")
    if appointment.state == "checked_in" or appointment.ticket_id is not None:
        raise Conflict(f"appointment {code} was already used", code="already_checked_in")
    if appointment.business_day < today:
        raise Conflict(
            f"appointment {code} was on {appointment.business_day.isoformat()} and missed",
            code="appointment_no_show",
            day=appointment.business_day.isoformat(),
        )
    if now < opens:
        raise Conflict(
            f"check-in for appointment {code} opens at {_iso(opens)}",
            code="too_early",
            opens_at=_iso(opens),
            start=_iso(appointment.start),
        )
    place = find_place(session, center.code, service.code, actor.device_id)
    if now > closes or appointment.state == "no_show":
        if service.after_grace == "refuse":
            raise Conflict(
                f"appointment {code} started at {_iso(appointment.start)}; check-in closed "
                f"at {_iso(closes)}",
                code="too_late",
                closed_at=_iso(closes),
                start=_iso(appointment.start),
            )
        issued = issue_at(
            session,
            place,
            language or appointment.language,
            priority,
            actor,
            now=now,
            print_rule=print_rule,
            details={"late_appointment": appointment.code, **_confirmed_by(actor, priority)},
        )
        appointment.state = "no_show"
        appointment.checked_in_at = now  # when the visitor arrived (the punctuality report)
        appointment.ticket_id = issued.issued.id
        return CheckIn(issued, appointment, True, issued.issued.kind)
    callable_at = appointment.start - APPOINTMENT_LEAD
    issued = issue_at(
        session,
        place,
        language or appointment.language,
        priority,
        actor,
        now=now,
        print_rule=print_rule,
        kind="appointment",
        due_at=appointment.start,
        callable_at=callable_at if callable_at > now else None,
        details={"appointment": appointment.code, **_confirmed_by(actor, priority)},
    )
    appointment.state = "checked_in"
    appointment.checked_in_at = now
    appointment.ticket_id = issued.issued.id
    return CheckIn(issued, appointment, False, "appointment")


def _check_in_ticket(
    session: Session, center: Center, token: str, actor: Actor, now: datetime
) -> CheckIn:
    ticket = session.scalar(select(Ticket).where(Ticket.tracking_token == token).with_for_update())
    if ticket is None:
        raise NotFound("no ticket has this QR", code="ticket_not_found")
    number = ticket.display_number
    if ticket.center_id != center.id:
        raise Conflict(f"ticket {number} belongs to another center", code="wrong_center")
    if ticket.status == "no_show":
        raise Conflict(
            f"ticket {number} was passed over and its place was released",
            code="place_released",
        )
    if ticket.status in ("cancelled", "expired", "done"):
        raise Conflict(f"ticket {number} is {ticket.status}", code="ticket_closed")
    absent = ticket.kind in ABSENT_KINDS and ticket.callable_at == ABSENT
    held = absent and ticket.status == "waiting" and ticket.passed_at is not None
    if held and ticket.passed_at + timedelta(minutes=center.absent_hold_min) <= now:
        # The hold is over; the upkeep's next round makes it a no-show.
        raise Conflict(
            f"ticket {number} was passed over and its place was released",
            code="place_released",
        )
    if not absent or ticket.status != "waiting":
        raise Conflict(f"ticket {number} is already checked in", code="already_checked_in")
    if ticket.kind == "outside":
        admission = come_in(session, ticket, now)
        if not admission.allowed:
            wait = admission.estimated_wait_s
            minutes = "unknown" if wait is None else f"about {max(1, round(wait / 60))} min"
            raise Conflict(
                f"the hall is full ({admission.hall.present}/{admission.hall.capacity}); "
                f"ticket {number} may come in when its wait is {COME_IN_S // 60} min or "
                f"less (now {minutes})",
                code="hall_full",
                estimated_wait_s=wait,
                come_in_s=COME_IN_S,
            )
    ticket.callable_at = None
    ticket.checked_in_at = now
    record(session, ticket, "check_in", "waiting", actor, now, kind=ticket.kind)
    return CheckIn(IssueResult(ticket, created=False), None, False, ticket.kind)


def _confirmed_by(actor: Actor, priority: str | None) -> dict:
    """Who saw the document for a priority class given on the visitor's behalf (a
    kiosk's visitor chose it themselves)."""
    if actor.kind == "staff" and priority is not None:
        return {"confirmed_by": actor.name}
    return {}


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
