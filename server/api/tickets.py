"""Issuing tickets, the visitor's public status, and staff actions on one ticket."""

from __future__ import annotations

from flask import Response, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError

from .. import printing, queue
from ..auth import RECEPTION_ROLES, require_member, require_staff
from ..errors import NotFound
from ..extensions import db
from ..queue import estimate, issuing
from ..queue.lookup import get_ticket, get_ticket_by_token
from ..serializers import iso, public_ticket_json, ticket_json
from . import bp
from .access import caller
from .group_commit import GroupCommit
from .request import field, json_body, reject_unknown
from .tracking import phone_page_url, qr_svg


@bp.post("/centers/<center_code>/tickets")
def issue_ticket(center_code: str):
    data = json_body()
    reject_unknown(data, {"service", "language", "priority"})
    service = field(data, "service", str)
    language = field(data, "language", str)
    priority = field(data, "priority", str, required=False)
    key = request.headers.get("Idempotency-Key")
    # A kiosk, or staff or reception issuing on a visitor's behalf (the issue event
    # records who: its staff_id). Checked before the center is looked up.
    actor = caller(roles=RECEPTION_ROLES, device_kinds=("kiosk",))

    def work(s) -> tuple[issuing.IssueResult, dict]:
        place = issuing.find_place(s, center_code, service, actor.device_id)
        require_member(actor, place.center_id, device_kinds=("kiosk",), roles=RECEPTION_ROLES)
        result = issuing.issue_at(
            s,
            place,
            language,
            priority,
            actor,
            idempotency_key=key,
            print_rule=printing.initial_print_state,
            details=_confirmed_by(actor, priority),
        )
        return result, _issued_json(s, result, service)

    for attempt in range(2):
        try:
            result, body = _group_commit().run(request.host_url, work)
            break
        except IntegrityError:
            # Two retries with one Idempotency-Key raced (PostgreSQL); the loser
            # rolled back and will now find the winner's ticket.
            if attempt or key is None:
                raise
    status = 201 if result.created else 200
    response = jsonify(body)
    response.status_code = status
    response.headers["Location"] = f"{bp.url_prefix}/tickets/{body['tracking_token']}"
    return response


def _confirmed_by(actor, priority: str | None) -> dict | None:
    """Who saw the visitor's document, for a priority class given by staff or reception
    on the visitor's behalf (the issue event's private details; a kiosk's visitor
    chose it themselves)."""
    if actor.kind == "staff" and priority is not None:
        return {"confirmed_by": actor.name}
    return None


def _group_commit() -> GroupCommit:
    """The app's: tickets issued at the same time share one COMMIT (group_commit.py)."""
    batches = current_app.extensions.get("novbe_issue_batches")
    if batches is None:
        batches = current_app.extensions["novbe_issue_batches"] = GroupCommit(db)
    return batches


def _issued_json(s, result: issuing.IssueResult, service_code: str) -> dict:
    """serializers.ticket_json (with the token) and the print state. A new ticket is
    waiting, at no counter, never called: its fields are known without loading its
    service and counter (tests/test_issuance_path.py holds the two equal)."""
    if not result.created:
        body = ticket_json(s, result.ticket, with_token=True)
        body["print"] = printing.print_state_json(result.ticket)
        return body
    ticket = result.issued
    est = result.promised or estimate(s, ticket)
    body = {
        "id": ticket.id,
        "number": ticket.display_number,
        "service": service_code,
        "status": ticket.status,
        "priority": ticket.priority,
        "language": ticket.language,
        "position": est.position,
        "estimated_wait_s": est.estimated_wait_s,
        "counter": None,
        "recall_count": ticket.recall_count,
        "created_at": iso(ticket.issued_at),
        "called_at": None,
        "started_at": None,
        "ended_at": None,
        "kind": ticket.kind,
        "tracking_token": ticket.tracking_token,
    }
    body["print"] = printing.print_state_json(ticket)
    return body


@bp.get("/tickets/<tracking_token>")
def public_status(tracking_token: str):
    with db.read() as s:
        body = public_ticket_json(s, get_ticket_by_token(s, tracking_token))
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/tickets/<tracking_token>/qr.svg")
def ticket_qr(tracking_token: str):
    """The QR code that opens the visitor's phone page, as SVG (for the kiosk screen)."""
    with db.read() as s:
        ticket = get_ticket_by_token(s, tracking_token)
        url = phone_page_url(ticket.tracking_token, current_app.config["PUBLIC_BASE_URL"])
    response = Response(qr_svg(url), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


ACTIONS = {
    "recall": queue.recall,
    "start": queue.start,
    "complete": queue.complete,
    "no-show": queue.no_show,
    "cancel": queue.cancel,
    "park": queue.park,
    "resume": queue.resume,
    "transfer": queue.transfer,
}
# Optional body fields each action accepts.
ACTION_FIELDS: dict[str, dict[str, type]] = {
    "cancel": {"reason": str},
    "park": {"reason": str},
    "resume": {"counter": int},
    "transfer": {"service": str, "counter": int, "front": bool},
}
FIELD_ARGS = {"service": "service_code", "counter": "counter_id"}


@bp.post("/tickets/<int:ticket_id>/<action>")
def ticket_action(ticket_id: int, action: str):
    if action not in ACTIONS:
        raise NotFound(
            f"unknown action '{action}'; one of {', '.join(ACTIONS)}", code="unknown_action"
        )
    data = json_body()
    allowed = ACTION_FIELDS.get(action, {})
    reject_unknown(data, set(allowed))
    kwargs = {
        FIELD_ARGS.get(name, name): field(data, name, kind, required=False)
        for name, kind in allowed.items()
        if name in data
    }
    actor = caller()  # staff: before the ticket is looked up
    with db.write() as s:
        ticket = get_ticket(s, ticket_id)
        require_staff(actor, ticket.center_id)
        ticket = ACTIONS[action](s, ticket_id, actor, **kwargs)
        body = ticket_json(s, ticket)
    return jsonify(body)
