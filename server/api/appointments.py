"""Booking a visit: public, no credentials (the token in the path is the visitor's key).

* GET    /public/centers/{center_code}/booking: the center, its bookable services and
  those a visitor may join from home now (the line's length and estimated wait);
* GET    /public/centers/{center_code}/booking-days?service=S: days with free slots;
* GET    /public/centers/{center_code}/slots?service=S&date=D: a day's slots;
* POST   /public/centers/{center_code}/appointments: book one;
* GET    /appointments/{token} (and .../calendar.ics, .../qr.svg), DELETE to cancel.

The engine is server/appointments/ (docs/appointments.md). Contacts and client
addresses reach the engine only to be digested; nothing here logs them. Requests per
client are limited (public_limits.py).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Response, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import object_session

from ..appointments import booking, slots
from ..appointments.calendar import is_open
from ..appointments.remote import joinable_services
from ..connections.addresses import client_key
from ..errors import InvalidInput, NotFound
from ..extensions import db
from ..models import Appointment, Center, Service, Ticket, utcnow
from ..queue import queue_stats
from ..queue.lookup import get_center
from . import bp
from .public_limits import read_limited, write_limited
from .request import field, json_body, only_parameters, reject_unknown
from .tracking import qr_svg


def limits() -> booking.Limits:
    """The engine's limits, each overridable in the app config (APPOINTMENT_*)."""
    config = current_app.config
    return booking.Limits(
        per_contact_per_day=config.get(
            "APPOINTMENT_BOOKINGS_PER_CONTACT_PER_DAY", booking.BOOKINGS_PER_CONTACT_PER_DAY
        ),
        per_client_per_day=config.get(
            "APPOINTMENT_BOOKINGS_PER_CLIENT_PER_DAY", booking.BOOKINGS_PER_CLIENT_PER_DAY
        ),
        cancel_hold_min=config.get("APPOINTMENT_CANCEL_HOLD_MIN", slots.CANCEL_HOLD_MIN),
    )


def local_iso(center: Center, at: datetime) -> str:
    """An instant in the center's wall time with its offset: 2026-12-07T09:30:00+04:00."""
    return at.astimezone(ZoneInfo(center.timezone)).isoformat()


def page_url(token: str) -> str:
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    return f"{base.rstrip('/')}/a/{token}"


def appointment_json(appointment: Appointment, center: Center, service: Service) -> dict:
    end = appointment.start + timedelta(minutes=service.slot_min)
    token = appointment.token
    links = {
        "page": page_url(token),
        "ics": f"{bp.url_prefix}/appointments/{token}/calendar.ics",
        "qr": f"{bp.url_prefix}/appointments/{token}/qr.svg",
    }
    if appointment.ticket_id is not None:  # checked in: the ticket's phone page
        session = object_session(appointment)
        ticket = session.get(Ticket, appointment.ticket_id) if session is not None else None
        if ticket is not None:
            links["ticket"] = f"/t/{ticket.tracking_token}"
    return {
        "code": appointment.code,
        "token": token,
        "start": local_iso(center, appointment.start),
        "end": local_iso(center, end),
        "state": appointment.state,
        "language": appointment.language,
        "service": {"code": service.code, "name": service.name},
        "center": {"code": center.code, "name": center.name, "timezone": center.timezone},
        "checkin_early_min": service.checkin_early_min,
        "late_grace_min": service.late_grace_min,
        "cancellable": appointment.state == "booked" and appointment.start > utcnow(),
        "links": links,
    }


def _service(s, center: Center, code: str) -> Service:
    try:
        return booking.bookable_service(s, center, code)
    except NotFound as exc:
        raise NotFound(exc.message, code=exc.code, field="service") from None


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("'date' must be a real date (YYYY-MM-DD)", field="date") from None


def _no_store(body: dict, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/public/centers/<center_code>/booking")
@read_limited
def public_booking(center_code: str):
    only_parameters(())
    with db.read() as s:
        center = get_center(s, center_code)
        services = [
            {
                "code": service.code,
                "name": service.name,
                "slot_min": service.slot_min,
                "booking_days_ahead": service.booking_days_ahead,
            }
            for service in center.services
            if service.bookable and service.active
        ]
        body = {
            "center": {"code": center.code, "name": center.name, "timezone": center.timezone},
            "services": services,
            "join": _joinable(s, center),
        }
    return _no_store(body)


def _joinable(s, center: Center) -> list[dict]:
    """The services a visitor may join from home now, with the line they would join:
    none when the center's switch is off or it is closed (remote.py refuses those)."""
    now = utcnow()
    codes = {service.code for service in joinable_services(center)}
    if not codes or not is_open(center, now):
        return []
    return [
        {
            "code": row["service"],
            "name": row["name"],
            "waiting": row["waiting"],
            "estimated_wait_s": row["estimated_wait_s"],
        }
        for row in queue_stats(s, center, now)["services"]
        if row["service"] in codes
    ]


@bp.get("/public/centers/<center_code>/booking-days")
@read_limited
def public_booking_days(center_code: str):
    only_parameters(("service",))
    now = utcnow()
    with db.read() as s:
        center = get_center(s, center_code)
        service = _service(s, center, request.args["service"])
        days = slots.free_days(s, center, service, now, hold_min=limits().cancel_hold_min)
    return _no_store({"days": [{"date": d.isoformat(), "free": free} for d, free in days]})


@bp.get("/public/centers/<center_code>/slots")
@read_limited
def public_slots(center_code: str):
    only_parameters(("service", "date"))
    day = _day(request.args["date"])
    now = utcnow()
    with db.read() as s:
        center = get_center(s, center_code)
        service = _service(s, center, request.args["service"])
        first, last = slots.booking_days(center, service, now)
        if day < first:
            raise InvalidInput(
                f"'date' is in the past (the center's today is {first.isoformat()})",
                code="date_in_past",
                field="date",
            )
        if day > last:
            raise InvalidInput(
                f"'date' is too far ahead: bookings are open until {last.isoformat()}",
                code="too_far_ahead",
                field="date",
                last_day=last.isoformat(),
            )
        found = slots.slots(s, center, service, day, now, hold_min=limits().cancel_hold_min)
        body = {
            "date": day.isoformat(),
            "slot_min": service.slot_min,
            "slots": [
                {"start": local_iso(center, slot.start), "free": slot.free} for slot in found
            ],
        }
    return _no_store(body)


@bp.post("/public/centers/<center_code>/appointments")
@write_limited
def book_appointment(center_code: str):
    data = json_body()
    reject_unknown(data, {"service", "start", "language", "contact"})
    service_code = field(data, "service", str)
    start_text = field(data, "start", str)
    language = field(data, "language", str)
    contact = field(data, "contact", str, required=False) or None
    try:
        start = datetime.fromisoformat(start_text)
    except ValueError:
        raise InvalidInput(
            "'start' must be a slot's start as given by /slots (ISO 8601 with offset)",
            field="start",
        ) from None
    for attempt in range(2):
        try:
            body = _book(center_code, service_code, start, language, contact)
            break
        except IntegrityError:
            # Two bookings at once drew the same code (1 in 24**6) on PostgreSQL: the
            # loser rolled back whole and draws again.
            if attempt:
                raise
    response = _no_store(body, 201)
    response.headers["Location"] = f"{bp.url_prefix}/appointments/{body['token']}"
    return response


def _book(
    center_code: str, service_code: str, start: datetime, language: str, contact: str | None
) -> dict:
    with db.write() as s:
        center = get_center(s, center_code)
        _service(s, center, service_code)  # 404 naming the field, before anything else
        appointment = booking.book(
            s,
            center_code,
            service_code,
            start,
            language,
            contact=contact,
            client=client_key(request.environ),
            secret=current_app.config["SECRET_KEY"],
            limits=limits(),
        )
        return appointment_json(appointment, center, appointment.service)


@bp.get("/appointments/<token>")
def get_appointment(token: str):
    with db.read() as s:
        appointment = booking.appointment_by_token(s, token)
        center = s.get(Center, appointment.center_id)
        body = appointment_json(appointment, center, appointment.service)
    return _no_store(body)


@bp.delete("/appointments/<token>")
@write_limited
def cancel_appointment(token: str):
    with db.write() as s:
        appointment = booking.cancel(s, token)
        center = s.get(Center, appointment.center_id)
        body = appointment_json(appointment, center, appointment.service)
    return _no_store(body)


@bp.get("/appointments/<token>/calendar.ics")
def appointment_calendar(token: str):
    from ..appointments.ics import calendar_file

    with db.read() as s:
        appointment = booking.appointment_by_token(s, token)
        center = s.get(Center, appointment.center_id)
        host = urlsplit(page_url(token)).hostname or "novbe"
        data = calendar_file(appointment, center, appointment.service, host=host, now=utcnow())
        name = f"novbe-{appointment.code}.ics"
    response = Response(data, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/appointments/<token>/qr.svg")
def appointment_qr(token: str):
    """The booking's code as a QR code (a kiosk's scanner types it in at check-in)."""
    with db.read() as s:
        code = booking.appointment_by_token(s, token).code
    response = Response(qr_svg(code), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response
