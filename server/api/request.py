"""Reading who is asking and what they sent, with errors that name the problem."""

from __future__ import annotations

import secrets
from typing import Any

from flask import g, request, session

from .. import limits
from ..admin.validation import reject_unknown as reject_unknown  # one rule for all
from ..auth import actor_for_token
from ..errors import Forbidden, InvalidInput, MalformedRequest, Unauthorized
from ..extensions import db
from ..queue import Actor
from ..request_size import whole_body
from ..session_cookie import session_actor


def current_actor() -> Actor | None:
    """The bearer token's holder, or the staff member logged in to the web screens."""
    if "actor" in g:
        return g.actor
    actor = None
    header = request.headers.get("Authorization", "")
    with db.read() as s:
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise MalformedRequest(
                    "Authorization header must be 'Bearer <token>'", field="Authorization"
                )
            actor = actor_for_token(s, token.strip())
        elif session.get("staff_id"):
            actor = session_actor(s)
            if actor is not None:
                _check_csrf()
    g.actor = actor
    return actor


SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _check_csrf() -> None:
    """A cookie goes along with any request the browser makes, even one another site
    started; the CSRF token (sent by our pages in a header) proves the page is ours."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get("X-CSRF-Token", "")
    if not sent or not secrets.compare_digest(sent, session.get("csrf", "")):
        raise Forbidden(
            "a request made with the login cookie needs the X-CSRF-Token header",
            code="csrf_failed",
        )


def authenticated_actor() -> Actor:
    """Like current_actor, but a request without credentials stops here with 401."""
    actor = current_actor()
    if actor is None:
        raise Unauthorized("log in or send 'Authorization: Bearer <token>'")
    return actor


def json_body(*, check_text: bool = True) -> dict[str, Any]:
    """The body as a JSON object ({} when empty), read once per request: at most
    MAX_CONTENT_LENGTH bytes (else 413), nested at most limits.MAX_JSON_DEPTH deep (the
    app's JSON provider: else 400), and with no NUL or unpaired surrogate in any string,
    field names included (else 422 naming the field). ``check_text=False``: not the
    characters yet (the validation layer checks them after the schema has bounded the
    body's size)."""
    if "json_body" not in g:
        whole_body()  # 413 for a chunked body over the limit, which Werkzeug would cut
        data = request.get_json(silent=True)
        if data is None:
            if request.content_length not in (None, 0) or request.data:
                raise MalformedRequest(_not_json())
            data = {}
        elif not isinstance(data, dict):
            raise MalformedRequest("request body must be a JSON object")
        g.json_body, g.json_text_checked = data, False
    if check_text and not g.json_text_checked:
        if limits.may_hold_bad_text(request.get_data()):
            bad = limits.first_bad_text(g.json_body)
            if bad is not None:
                where, problem = bad
                raise InvalidInput(f"'{where}' {problem}", field=limits.field_of(where))
        g.json_text_checked = True
    return g.json_body


def _not_json() -> str:
    """Why a non-empty body was not read as JSON: its type, or what the parser said (a
    number of 5,000 digits, bad UTF-8, a syntax error...)."""
    if not request.is_json:
        return "request body must be a JSON object (Content-Type: application/json)"
    try:
        limits.loads_json(request.get_data())
    except ValueError as exc:
        return f"request body is not valid JSON: {str(exc)[:200]}"
    return "request body is not valid JSON"


def field(data: dict, name: str, kind: type | tuple[type, ...], *, required: bool = True):
    if name not in data or data[name] is None:
        if required:
            raise InvalidInput(f"'{name}' is required", field=name)
        return None
    value = data[name]
    if isinstance(value, bool) and kind is not bool:
        raise InvalidInput(f"'{name}' has the wrong type", field=name)
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        type_names = {"str": "a string", "int": "an integer", "bool": "true or false"}
        raise InvalidInput(f"'{name}' must be {type_names.get(expected, expected)}", field=name)
    return value


def only_parameters(allowed: tuple[str, ...]) -> None:
    """Unknown or repeated query parameters are refused, so that a typo (``date`` for
    ``day``, ``date_from`` for ``from``) is not silently ignored."""
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        takes = f"allowed: {', '.join(allowed)}" if allowed else "it takes none"
        raise InvalidInput(f"unknown parameter(s): {', '.join(unknown)}; {takes}", field=unknown[0])
    for name in allowed:
        if len(request.args.getlist(name)) > 1:
            raise InvalidInput(f"'{name}' must be given once", field=name)


# Everything under /api/v1 needs credentials except these.
PUBLIC_ENDPOINTS = {
    "api.public_status",
    "api.create_session",
    "api.current_session",
    "api.end_session",
    "api.ticket_qr",
    "api.openapi_document",
    "api.create_token",
    # Visitor approval and the public transparency page (server/api/ratings.py).
    "api.rate_ticket",
    "api.ticket_rating",
    "api.public_center",
    # The fairness ledger's days, for anyone to check (server/api/ledger.py).
    "api.public_ledger",
    # Booking a visit; the token in the path is the visitor's key (api/appointments.py).
    "api.public_booking",
    "api.public_booking_days",
    "api.public_slots",
    "api.book_appointment",
    "api.get_appointment",
    "api.cancel_appointment",
    "api.appointment_calendar",
    "api.appointment_qr",
    # Joining the line from home (api/checkin.py).
    "api.join_from_home",
    # A visitor's contacts for notifications, keyed by the token (api/notifications.py).
    "api.ticket_contacts",
    "api.add_ticket_contact",
    "api.delete_ticket_contact",
    "api.appointment_contacts",
    "api.add_appointment_contact",
    "api.delete_appointment_contact",
}


def authenticate_request() -> None:
    """Runs before every API view: protected by default, and 401 before any other check."""
    if request.endpoint not in PUBLIC_ENDPOINTS:
        authenticated_actor()
