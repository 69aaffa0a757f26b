"""The day's appointments of a center for its counters, managers and reception
(server/appointments/listing.py). The codes are the visitors' keys at the kiosk: staff
of the center see them whole; reception sees only their last characters (the visitor
says the code; the list is for finding the booking), so a reception login cannot check
anyone in. A device or another center's staff is refused."""

from __future__ import annotations

from flask import jsonify, request

from ..appointments.listing import day_appointments, mask_code
from ..auth import RECEPTION_ROLES, require_staff
from ..extensions import db
from ..models import utcnow
from ..queue import business_day
from ..queue.lookup import get_center
from ..reports import parse_day
from . import bp
from .access import caller
from .request import only_parameters


@bp.get("/centers/<center_code>/appointments")
def center_appointments(center_code: str):
    actor = caller(roles=RECEPTION_ROLES)
    only_parameters(("date",))
    with db.read() as s:
        center = get_center(s, center_code)
        require_staff(actor, center.id, roles=RECEPTION_ROLES)
        text = request.args.get("date")
        day = parse_day(text, "date") if text is not None else business_day(center, utcnow())
        appointments = day_appointments(s, center.id, day)
        if actor.role == "reception":
            for row in appointments:
                row["code"] = mask_code(row["code"])
        body = {"center": center.code, "date": day.isoformat(), "appointments": appointments}
    return jsonify(body)
