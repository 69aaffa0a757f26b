"""Printing a ticket again on its kiosk's printer (see server/printing.py)."""

from __future__ import annotations

from flask import jsonify

from .. import printing
from ..auth import require_staff
from ..errors import Forbidden
from ..extensions import db
from ..queue.lookup import get_ticket
from . import bp
from .access import caller
from .request import json_body, reject_unknown


@bp.post("/tickets/<int:ticket_id>/reprint")
def reprint_ticket(ticket_id: int):
    """Staff of the ticket's center, or the kiosk that issued it, ask for another paper
    copy. The job goes to that kiosk's printer; the answer comes on the live channel."""
    reject_unknown(json_body(), set())
    actor = caller(device_kinds=("kiosk",))  # before the ticket is looked up
    with db.write() as s:
        ticket = get_ticket(s, ticket_id, lock=True)
        if actor.kind == "device":
            if actor.id != ticket.device_id:
                raise Forbidden("a kiosk may reprint only the tickets it issued")
        else:
            require_staff(actor, ticket.center_id)
        printing.request_reprint(s, ticket, actor)
        body = {**printing.print_state_json(ticket), "print_id": printing.print_id(ticket)}
    response = jsonify(body)
    response.status_code = 202
    return response
