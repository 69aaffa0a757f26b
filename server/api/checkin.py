"""Arrival: check-in at a kiosk or by reception, and joining the line from home.

* POST /centers/{center_code}/check-in {"code", "priority"?, "language"?}: an
  appointment's code, or the QR of a remote or outside ticket (its tracking URL);
  "language", the one the visitor chose there, is an appointment ticket's (else the
  booking's). The center's kiosks, and its staff of any role, reception included. 201
  with the new ticket (printed like any ticket at a kiosk), 200 for a remote or outside
  ticket now callable. Failed check-ins are limited per kiosk or account
  (public_limits.py).
* POST /public/centers/{center_code}/remote-tickets {"service", "language"}: no
  credentials; 201 with the ticket and its tracking page.

The engine is server/appointments/ (checkin.py, remote.py); ordering rules in
docs/queue.md, "Appointments and absent tickets".
"""

from __future__ import annotations

from flask import current_app, jsonify, request

from .. import printing
from ..appointments import checkin, remote
from ..auth import RECEPTION_ROLES, require_member, require_staff
from ..connections.addresses import client_key
from ..errors import Conflict, InvalidInput, NotFound
from ..extensions import db
from ..models import LANGUAGES, Appointment, Center
from ..queue.actor import Actor
from ..queue.lookup import get_center
from ..serializers import arrival_json
from . import bp
from .access import caller
from .appointments import local_iso
from .public_limits import check_checkin_allowed, count_checkin_failure, write_limited
from .request import field, json_body, reject_unknown
from .tickets import _issued_json
from .tracking import phone_page_url


@bp.post("/centers/<center_code>/check-in")
def check_in(center_code: str):
    data = json_body()
    reject_unknown(data, {"code", "priority", "language"})
    code = field(data, "code", str)
    priority = field(data, "priority", str, required=False)
    language = field(data, "language", str, required=False)
    if language is not None and language not in LANGUAGES:
        raise InvalidInput(
            f"language must be one of {', '.join(LANGUAGES)}, not {language!r}", field="language"
        )
    actor = caller(roles=RECEPTION_ROLES, device_kinds=("kiosk",))
    check_checkin_allowed(actor)  # failed check-ins (guessed codes) are limited
    try:
        return _check_in(center_code, code, priority, language, actor)
    except (NotFound, Conflict) as error:
        count_checkin_failure(actor, error)
        raise


def _check_in(
    center_code: str, code: str, priority: str | None, language: str | None, actor: Actor
):
    with db.write() as s:
        center = get_center(s, center_code)
        if actor.kind == "device":
            require_member(actor, center.id, device_kinds=("kiosk",))
        else:
            require_staff(actor, center.id, roles=RECEPTION_ROLES)
        done = checkin.check_in(
            s,
            center_code,
            code,
            actor,
            print_rule=printing.initial_print_state,
            priority=priority,
            language=language,
        )
        result = done.issued
        body = _issued_json(s, result, _service_code(done))
        body.update(arrival_json(result.ticket))
        body["appointment"] = _appointment_json(done.appointment, center)
        body["late"] = done.late
        body["kind"] = done.kind
        body["tracking_url"] = _tracking_url(body["tracking_token"])
    response = jsonify(body)
    response.status_code = 201 if result.created else 200
    response.headers["Location"] = f"{bp.url_prefix}/tickets/{body['tracking_token']}"
    return response


@bp.post("/public/centers/<center_code>/remote-tickets")
@write_limited
def join_from_home(center_code: str):
    data = json_body()
    reject_unknown(data, {"service", "language"})
    service = field(data, "service", str)
    language = field(data, "language", str)
    config = current_app.config
    with db.write() as s:
        result = remote.join_from_home(
            s,
            center_code,
            service,
            language,
            client=client_key(request.environ),
            secret=config["SECRET_KEY"],
            per_client=config.get(
                "REMOTE_TICKETS_PER_CLIENT_PER_DAY", remote.REMOTE_PER_CLIENT_PER_DAY
            ),
        )
        body = _issued_json(s, result, service)
        body.update(arrival_json(result.ticket))
        body["tracking_url"] = _tracking_url(body["tracking_token"])
    response = jsonify(body)
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    response.headers["Location"] = f"{bp.url_prefix}/tickets/{body['tracking_token']}"
    return response


def _service_code(done: checkin.CheckIn) -> str:
    if done.appointment is not None:
        return done.appointment.service.code
    return done.issued.ticket.service.code


def _tracking_url(token: str) -> str:
    return phone_page_url(token, current_app.config["PUBLIC_BASE_URL"])


def _appointment_json(appointment: Appointment | None, center: Center) -> dict | None:
    if appointment is None:
        return None
    return {
        "code": appointment.code,
        "start": local_iso(center, appointment.start),
        "state": appointment.state,
        "service": {"code": appointment.service.code, "name": appointment.service.name},
    }
