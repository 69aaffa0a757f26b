"""A visitor's contacts: public, the token in the path is the visitor's key.

* GET    /tickets/{tracking_token}/contacts: the live contacts (masked), the channels
  the center offers, and the VAPID public key when it offers Web Push;
* POST   /tickets/{tracking_token}/contacts: add one (201; the same address again: 200
  with the same contact); a Telegram contact answers with the bot's deep link;
* DELETE /tickets/{tracking_token}/contacts/{contact_id}: erase it now (204);
* the same three under /appointments/{token}/contacts, for a booking's reminders.

The phone page and the kiosk (after issuing: it has the tracking token) both use them.
Addresses never leave in an answer: ``masked`` only (server/notify/contacts.py). Writes
are limited per client (``PUBLIC_CONTACT_LIMITS``; not a kiosk sending its device token),
reads as the booking page's.
"""

from __future__ import annotations

from flask import Response, current_app, jsonify, request
from sqlalchemy import select

from ..appointments.booking import appointment_by_token
from ..errors import NotFound, NovbeError
from ..extensions import db, limiter
from ..models import Appointment, Center, Ticket, VisitorContact
from ..notify import contacts, settings, triggers
from . import bp
from .public_limits import _client, _refuse, read_limited
from .request import current_actor, json_body, reject_unknown

CONTACT_LIMITS = "6 per minute;30 per hour"  # default of config PUBLIC_CONTACT_LIMITS
FIELDS = {"channel", "address", "subscription", "language"}


def _from_a_kiosk() -> bool:
    """A kiosk (its device token sent) posts for every visitor who types a number at
    it: not limited like one phone."""
    if not request.headers.get("Authorization"):
        return False
    try:
        actor = current_actor()
    except NovbeError:
        return False
    return actor is not None and actor.kind == "device" and actor.role == "kiosk"


_write_limited = limiter.shared_limit(
    lambda: current_app.config.get("PUBLIC_CONTACT_LIMITS", CONTACT_LIMITS),
    scope="public-contacts",
    key_func=_client,
    on_breach=_refuse,
    exempt_when=_from_a_kiosk,
)


def contact_json(contact: VisitorContact) -> dict:
    return {
        "id": contact.id,
        "channel": contact.channel,
        "masked": contact.masked,
        "linked": contact.address is not None,
    }


def _no_store(body: dict | None, status: int = 200) -> Response:
    response = jsonify(body) if body is not None else Response(status=status)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _ticket(session, token: str, *, lock: bool = False) -> Ticket:
    statement = select(Ticket).where(Ticket.tracking_token == token)
    ticket = session.scalar(statement.with_for_update() if lock else statement)
    if ticket is None:
        raise NotFound("unknown ticket", code="ticket_not_found")
    return ticket


def _listing(session, target: Ticket | Appointment) -> dict:
    center = session.get(Center, target.center_id)
    channels = settings.enabled_channels(center)
    key = None
    if "webpush" in channels:
        from ..notify import vapid

        key = vapid.public_key_b64url(current_app)
    return {
        "contacts": [contact_json(c) for c in contacts.live_contacts(session, target)],
        "channels": channels,
        "vapid_public_key": key,
    }


def _add(session, target: Ticket | Appointment) -> Response:
    data = json_body()
    reject_unknown(data, FIELDS)
    added = contacts.add_contact(
        session,
        target,
        data.get("channel"),
        address=data.get("address"),
        subscription=data.get("subscription"),
        language=data.get("language"),
    )
    body = contact_json(added.contact)
    if added.link:
        body["link"] = added.link
    return _no_store(body, 201 if added.created else 200)


def _delete(session, condition, contact_id: int) -> Response:
    contact = session.scalar(
        select(VisitorContact).where(VisitorContact.id == contact_id, condition).with_for_update()
    )
    if contact is None:
        raise NotFound(f"unknown contact {contact_id}", code="contact_not_found")
    contacts.erase(session, contact)
    return _no_store(None, 204)


@bp.get("/tickets/<tracking_token>/contacts")
@read_limited
def ticket_contacts(tracking_token: str):
    with db.read() as s:
        body = _listing(s, _ticket(s, tracking_token))
    return _no_store(body)


@bp.post("/tickets/<tracking_token>/contacts")
@_write_limited
def add_ticket_contact(tracking_token: str):
    with db.write() as s:
        ticket = _ticket(s, tracking_token, lock=True)
        response, center_id = _add(s, ticket), ticket.center_id
    triggers.contacts_changed(current_app, center_id)  # committed: every process looks again
    return response


@bp.delete("/tickets/<tracking_token>/contacts/<int:contact_id>")
@_write_limited
def delete_ticket_contact(tracking_token: str, contact_id: int):
    with db.write() as s:
        ticket = _ticket(s, tracking_token)
        return _delete(s, VisitorContact.ticket_id == ticket.id, contact_id)


@bp.get("/appointments/<token>/contacts")
@read_limited
def appointment_contacts(token: str):
    with db.read() as s:
        body = _listing(s, appointment_by_token(s, token))
    return _no_store(body)


@bp.post("/appointments/<token>/contacts")
@_write_limited
def add_appointment_contact(token: str):
    with db.write() as s:
        return _add(s, appointment_by_token(s, token, lock=True))


@bp.delete("/appointments/<token>/contacts/<int:contact_id>")
@_write_limited
def delete_appointment_contact(token: str, contact_id: int):
    with db.write() as s:
        appointment = appointment_by_token(s, token)
        return _delete(s, VisitorContact.appointment_id == appointment.id, contact_id)
