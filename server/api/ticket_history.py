"""Managers' look into the ticket log: one ticket's history, and a day's out-of-order
calls with how many visitors each one passed (server/reports/tickets.py). Managers of
the center and admins only: a clerk or a device is refused before anything is read."""

from __future__ import annotations

from datetime import date

from flask import jsonify, request

from ..auth import MANAGER_ROLES as MANAGERS
from ..auth import require_staff
from ..errors import NotFound
from ..extensions import db
from ..models import Center, utcnow
from ..queue import business_day
from ..queue.lookup import get_center
from ..reports import parse_day
from ..reports import tickets as history
from . import bp
from .access import caller
from .request import only_parameters


@bp.get("/centers/<center_code>/tickets/history")
def ticket_history(center_code: str):
    actor = caller(roles=MANAGERS)
    only_parameters(("number", "day"))
    with db.read() as s:
        center = get_center(s, center_code)
        require_staff(actor, center.id, roles=MANAGERS)
        number = request.args.get("number")
        history.parse_number(number)  # a bad number is 422 before "no such ticket"
        day = _day(center)
        body = history.ticket_history(s, center, number, day)
        if body is None:
            raise NotFound(
                f"no ticket {number} was issued at center '{center.code}' on {day.isoformat()}",
                code="ticket_not_found",
            )
    return jsonify(body)


@bp.get("/centers/<center_code>/out-of-order")
def out_of_order_calls(center_code: str):
    actor = caller(roles=MANAGERS)
    only_parameters(("day",))
    with db.read() as s:
        center = get_center(s, center_code)
        require_staff(actor, center.id, roles=MANAGERS)
        day = _day(center)
        body = {"day": day.isoformat(), "calls": history.out_of_order_calls(s, center, day)}
    return jsonify(body)


def _day(center: Center) -> date:
    """``day`` (YYYY-MM-DD), or the center's today."""
    text = request.args.get("day")
    return parse_day(text, "day") if text is not None else business_day(center, utcnow())
