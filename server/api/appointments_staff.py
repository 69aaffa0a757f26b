"""The day's appointments of a center for its counters, managers and reception
(server/appointments/listing.py). The codes are the visitors' keys at the kiosk, so
only staff of the center see them; a device or another center's staff is refused."""

from __future__ import annotations

from flask import jsonify, request

from ..appointments.listing import day_appointments
from ..auth import require_staff
from ..extensions import db
from ..models import utcnow
from ..queue import business_day
from ..queue.lookup import get_center
from ..reports import parse_day
from . import bp
from .access import caller
from .request import only_parameters

# Reception checks bookings in at the door, so it reads the list like the counters.
LISTING_ROLES = ("staff", "manager", "admin", "reception")


@bp.get("/centers/<center_code>/appointments")
def center_appointments(center_code: str):
    actor = caller(roles=LISTING_ROLES)
    only_parameters(("date",))
    with db.read() as s:
        center = get_center(s, center_code)
        require_staff(actor, center.id, roles=LISTING_ROLES)
        text = request.args.get("date")
        day = parse_day(text, "date") if text is not None else business_day(center, utcnow())
        body = {
            "center": center.code,
            "date": day.isoformat(),
            "appointments": day_appointments(s, center.id, day),
        }
    return jsonify(body)
