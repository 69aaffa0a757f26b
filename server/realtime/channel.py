"""Connecting to ``/live``: the credential decides the rooms, never the client.

* a kiosk or display device token: its center's room;
* a staff API token with ``counter``: the center's room and that counter's room
  (the counter must be in the staff member's center); managers may connect
  without a counter;
* a visitor's tracking token (``{"ticket": ...}``): that ticket's room only;
* no token but the web session cookie of a logged-in staff member (the counter
  page), with ``counter`` as for a staff token.

Every connect, first or after a drop, gets a full ``snapshot``: python-socketio
keeps no state across reconnects, so the client redraws from it.
"""

from __future__ import annotations

from typing import Any

from flask import session
from flask_socketio import ConnectionRefusedError, emit, join_room
from sqlalchemy import select

from ..api.request import session_actor
from ..auth import actor_for_token
from ..errors import NovbeError
from ..extensions import db, socketio
from ..models import Center, Counter, Ticket
from ..queue import Actor
from . import payloads

NAMESPACE = "/live"
STAFF_ROLES = ("staff", "manager", "admin")


def center_room(center_id: int) -> str:
    return f"center:{center_id}"


def counter_room(counter_id: int) -> str:
    return f"counter:{counter_id}"


def ticket_room(tracking_token: str) -> str:
    return f"ticket:{tracking_token}"


@socketio.on("connect", namespace=NAMESPACE)
def on_connect(auth: Any = None) -> None:
    if auth is None:
        auth = {}
    if not isinstance(auth, dict):
        raise ConnectionRefusedError("auth must be an object: {token} or {ticket}")
    with db.read() as s:
        if isinstance(auth.get("ticket"), str):
            rooms, snapshot = _visitor(s, auth["ticket"])
        elif isinstance(auth.get("token"), str):
            try:
                actor = actor_for_token(s, auth["token"])
            except NovbeError as exc:
                raise ConnectionRefusedError(exc.message) from exc
            rooms, snapshot = _member(s, actor, auth.get("counter"))
        elif session.get("staff_id") and (actor := session_actor(s)) is not None:
            # A web screen logged in with the session cookie (the counter page).
            rooms, snapshot = _member(s, actor, auth.get("counter"))
        else:
            raise ConnectionRefusedError("log in, or send auth {token} or {ticket}")
    for room in rooms:
        join_room(room)
    emit("snapshot", snapshot)


def _visitor(s, tracking_token: str) -> tuple[list[str], dict]:
    ticket = s.scalar(select(Ticket).where(Ticket.tracking_token == tracking_token))
    if ticket is None:
        raise ConnectionRefusedError("unknown ticket")
    return [ticket_room(ticket.tracking_token)], payloads.visitor_snapshot(s, ticket)


def _member(s, actor: Actor, counter_id: Any) -> tuple[list[str], dict]:
    if actor.kind == "device":
        center = s.get(Center, actor.center_id)
        return [center_room(center.id)], payloads.device_snapshot(s, center, actor)
    if counter_id is None:
        if actor.role not in ("manager", "admin"):
            raise ConnectionRefusedError("staff connect for a counter: send auth {token, counter}")
        if actor.center_id is None:
            raise ConnectionRefusedError("an admin connects for a counter or a center")
        center = s.get(Center, actor.center_id)
        return [center_room(center.id)], payloads.staff_snapshot(s, center, None, actor)
    if not isinstance(counter_id, int) or isinstance(counter_id, bool):
        raise ConnectionRefusedError("counter must be a counter id")
    counter = s.get(Counter, counter_id)
    if counter is None:
        raise ConnectionRefusedError(f"unknown counter {counter_id}")
    if actor.center_id is not None and actor.center_id != counter.center_id:
        raise ConnectionRefusedError("this counter belongs to another center")
    rooms = [center_room(counter.center_id), counter_room(counter.id)]
    return rooms, payloads.staff_snapshot(s, counter.center, counter, actor)


@socketio.on("disconnect", namespace=NAMESPACE)
def on_disconnect(reason: Any = None) -> None:
    # Rooms are left by python-socketio; nothing of ours to clean up.
    return None


def connected_ticket_tokens() -> list[str]:
    """Tracking tokens of visitors connected to this process."""
    rooms = socketio.server.manager.rooms.get(NAMESPACE, {})
    return [room[7:] for room in rooms if isinstance(room, str) and room.startswith("ticket:")]
