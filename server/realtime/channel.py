"""Connecting to ``/live``: the credential decides the rooms, never the client.

* a kiosk or display device token: its center's room;
* a staff API token with ``counter``: the center's room and that counter's room
  (the counter must be in the staff member's center and one they may work at:
  server/staff_counters.py); managers may connect without a counter; reception
  never connects as staff (it follows the public figures, below). A counter
  connection is counted as its staff member working there (presence.py), and the
  counter's room hears ``counter.presence`` as people arrive and leave;
* a visitor's tracking token (``{"ticket": ...}``): that ticket's room only;
* ``{"public": <center code>}``, no credential: the public transparency page
  (/public/<center>), which joins the center's public room and gets only
  ``public.stats`` (server/public.py: no ticket numbers, no staff, no counters);
* no token but the web session cookie of a logged-in staff member (the counter
  page), with ``counter`` as for a staff token;
* a network admin's staff token or session with ``{"network": true}``: the network
  room, which gets each center's row of the all-centers view (``network.center``);
* a kiosk's device token with ``agent: "printer"``: the kiosk print agent
  (``novbe kiosk-agent``), which joins only that device's rooms, gets the print jobs
  (``ticket.print``) and answers with ``ticket.printed`` and ``printer.status``.

Kiosk and display connections also join their own device's room, where the kiosk
hears about its tickets' printing (``ticket.print_state``). The connection's
identity is kept in its Socket.IO session at connect, so an event a client sends is
judged by who connected, never by what the event claims.

Every connect, first or after a drop, gets a full ``snapshot``: python-socketio
keeps no state across reconnects, so the client redraws from it.

A connection that got its snapshot is counted by kind (rooms.Connections, read by
``/metrics``) until its disconnect; a phone is kept by its ticket's center
(rooms.Visitors), whose queue changes alone move its place. What a connect registers is
undone at the disconnect, or at the end of the connect itself if the client left
meanwhile (python-socketio calls no disconnect handler then).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any

from flask import request, session
from flask_socketio import ConnectionRefusedError, emit, join_room
from sqlalchemy import select

from .. import limits, printing, staff_counters
from ..auth import MANAGER_ROLES, actor_for_token
from ..errors import NovbeError, error_body
from ..extensions import db, socketio
from ..models import COUNTER_ROLES, Center, Counter, Device, Ticket, utcnow
from ..queue import Actor
from ..queue.changes import Change, ChangeKind, announce
from ..session_cookie import session_actor
from . import payloads
from .admission import admitted, release_admission
from .rooms import (
    AGENT,
    DEVICE,
    NAMESPACE,
    NETWORK_ROOM,
    PUBLIC,
    STAFF,
    VISITOR,
    center_room,
    counter_room,
    device_room,
    printer_room,
    public_room,
    ticket_room,
)
from .state import live

# auth {"token": <kiosk device token>, "agent": "printer"}: the kiosk print agent.
PRINT_AGENT = "printer"
# Where the connection's identity lives in its Socket.IO session.
IDENTITY = "novbe_live"


# Connects that read the database at once, per process. In a reconnect storm (a whole
# network's screens after a restart) every connect otherwise takes a pooled database
# connection and holds it, idle in its transaction, while its greenlet waits for the
# CPU: the pool (server/db.py: 30) runs dry and connects and requests alike time out
# on it (seen with 10,000 clients over 3 processes). The others wait here, holding
# nothing. Made at the first connect: after gevent has patched threading.
CONNECT_DB_SLOTS = 8


@functools.cache
def _connect_slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(CONNECT_DB_SLOTS)


@socketio.on("connect", namespace=NAMESPACE)
@admitted  # the public page and phones: capped per address and in all, before any work
def on_connect(auth: Any = None) -> None:
    if auth is None:
        auth = {}
    if not isinstance(auth, dict):
        raise ConnectionRefusedError("auth must be an object: {token} or {ticket}")
    actor, phone_center = None, None
    with _connect_slots(), db.read() as s:
        if isinstance(auth.get("ticket"), str):
            rooms, snapshot, phone_center = _visitor(s, auth["ticket"])
            kind = VISITOR
        elif isinstance(auth.get("public"), str):
            rooms, snapshot = _public(s, auth["public"])
            kind = PUBLIC
        elif isinstance(auth.get("token"), str):
            try:
                actor = actor_for_token(s, auth["token"])
            except NovbeError as exc:
                # With its code, for screens that say it in their own words.
                raise ConnectionRefusedError(exc.message, {"code": exc.code}) from exc
            if "agent" in auth:
                _check_agent(actor, auth)
                rooms, snapshot, kind = [], None, AGENT
            else:
                rooms, snapshot = _member(s, actor, auth)
                kind = DEVICE if actor.kind == "device" else STAFF
        elif session.get("staff_id"):
            # A web screen logged in with the session cookie (the counter page): the
            # server-side session must still be live (not logged out, revoked, expired).
            actor = session_actor(s)
            if actor is None:
                raise ConnectionRefusedError("the login has ended: log in again")
            rooms, snapshot = _member(s, actor, auth)
            kind = STAFF
        else:
            raise ConnectionRefusedError("log in, or send auth {token} or {ticket}")
    if snapshot is None:
        _connect_agent(actor, auth)  # outside the read: it writes
        live().connections.add(request.sid, kind)
        _unless_gone()
        return
    for room in rooms:
        join_room(room)
    if actor is not None and actor.kind == "device":
        session[IDENTITY] = {"device": actor.id, "center": actor.center_id, "agent": False}
    emit("snapshot", snapshot)
    live().connections.add(request.sid, kind)
    if phone_center is not None:
        live().publisher.visitors.add(request.sid, auth["ticket"], phone_center)
    if kind == STAFF and snapshot.get("counter"):
        live().presence.arrive(request.sid, snapshot["counter"]["id"], actor.id, actor.name)
    _unless_gone()


def _unless_gone() -> None:
    """Undo what the connect registered if the client left while it ran (it waits on
    the database and Redis). python-socketio does not call the disconnect handler for
    a connection still connecting, so nothing else would: the phone, the connection's
    count, the staff member at the counter and the print agent would stay registered
    for good. Refusing also makes python-socketio drop the rooms the connection joined."""
    eio_sid = socketio.server.manager.eio_sid_from_sid(request.sid, NAMESPACE)
    if eio_sid is not None and eio_sid in socketio.server.environ:
        return
    _forget_connection()
    raise ConnectionRefusedError("the connection closed while connecting")


def _visitor(s, tracking_token: str) -> tuple[list[str], dict, int]:
    """The phone's rooms, its snapshot, and its ticket's center (whose queue changes
    move its place)."""
    ticket = s.scalar(select(Ticket).where(Ticket.tracking_token == tracking_token))
    if ticket is None:
        raise ConnectionRefusedError("unknown ticket")
    rooms = [ticket_room(ticket.tracking_token)]
    return rooms, payloads.visitor_snapshot(s, ticket), ticket.center_id


def _public(s, center_code: str) -> tuple[list[str], dict]:
    # Shared by the connects of one moment (public_snapshot.py): anyone may connect.
    found = live().snapshots.get(s, center_code)
    if found is None:
        raise ConnectionRefusedError("unknown center")
    center_id, snapshot = found
    return [public_room(center_id)], snapshot


def _named_center(s, code: Any) -> Center:
    center = s.scalar(select(Center).where(Center.code == code)) if isinstance(code, str) else None
    if center is None:
        raise ConnectionRefusedError(
            "an admin connects for a counter, a center or the network: "
            "send {counter}, {center} or {network: true}"
        )
    return center


def _member(s, actor: Actor, auth: dict) -> tuple[list[str], dict]:
    counter_id, center_code = auth.get("counter"), auth.get("center")
    if actor.kind == "device":
        center = s.get(Center, actor.center_id)
        rooms = [center_room(center.id), device_room(actor.id)]
        return rooms, payloads.device_snapshot(s, center, actor)
    if counter_id is None:
        if actor.role not in MANAGER_ROLES:
            raise ConnectionRefusedError("staff connect for a counter: send auth {token, counter}")
        if auth.get("network") is True:
            if actor.center_id is not None:
                raise ConnectionRefusedError("only a network admin follows the whole network")
            return [NETWORK_ROOM], {"kind": "network", "at": payloads.iso(utcnow())}
        if actor.center_id is None:
            # A network admin names the center to follow (the /manage dashboard).
            center = _named_center(s, center_code)
        else:
            center = s.get(Center, actor.center_id)
        return [center_room(center.id)], payloads.staff_snapshot(s, center, None, actor)
    if actor.role not in COUNTER_ROLES:  # reception follows the public figures only
        raise ConnectionRefusedError("reception does not work at a counter")
    if not isinstance(counter_id, int) or isinstance(counter_id, bool):
        raise ConnectionRefusedError("counter must be a counter id")
    # Out of the database's range (PostgreSQL's integer) names no counter.
    counter = s.get(Counter, counter_id) if 1 <= counter_id <= limits.MAX_ID else None
    if counter is None:
        raise ConnectionRefusedError(f"unknown counter {counter_id}")
    if actor.center_id is not None and actor.center_id != counter.center_id:
        raise ConnectionRefusedError("this counter belongs to another center")
    if not staff_counters.may_work_at(s, actor, counter):
        raise ConnectionRefusedError(
            f"counter {counter.label} is not assigned to you: ask your manager",
            {"code": staff_counters.NOT_ASSIGNED},  # the screen says it in its language
        )
    rooms = [center_room(counter.center_id), counter_room(counter.id)]
    return rooms, payloads.staff_snapshot(s, counter.center, counter, actor)


# ---- the kiosk print agent -------------------------------------------------------------


def _check_agent(actor: Actor, auth: dict) -> None:
    if auth.get("agent") != PRINT_AGENT:
        raise ConnectionRefusedError(f'agent must be "{PRINT_AGENT}"')
    if actor.kind != "device" or actor.role != "kiosk":
        raise ConnectionRefusedError("only a kiosk's device token runs a print agent")


def _connect_agent(actor: Actor, auth: dict) -> None:
    """Register the agent, then hand it the kiosk's tickets still waiting for paper.

    Registered first, so a ticket issued meanwhile is sent to it as a job and may also
    be in the snapshot's ``pending``: the agent prints each ``print_id`` once."""
    base_url = auth.get("base_url") if isinstance(auth.get("base_url"), str) else ""
    join_room(device_room(actor.id))
    join_room(printer_room(actor.id))
    session[IDENTITY] = {"device": actor.id, "center": actor.center_id, "agent": True}
    printing.agents.add(actor.id, request.sid, base_url)
    publisher = live().publisher
    try:
        with db.write() as s:
            device = s.get(Device, actor.id)
            status = auth.get("printer")
            if isinstance(status, dict):
                # A malformed first report is dropped; the agent's next one will do.
                with contextlib.suppress(NovbeError):
                    printing.update_printer_status(s, device, status)
            tickets = printing.pending_tickets(s, device)
            # The agent's arrival changes the printer's mode, even with the same status.
            announce(s, Change(ChangeKind.PRINTER, "agent", device.id))
            base = publisher.printing.base_url(device.id, request.host_url)
            snapshot = payloads.agent_snapshot(s, device, tickets, base)
    except Exception:
        printing.agents.remove(request.sid)
        raise
    emit("snapshot", snapshot)


def _agent_device() -> int | None:
    """The kiosk this connection is the print agent of, or None."""
    identity = session.get(IDENTITY) or {}
    return identity.get("device") if identity.get("agent") else None


def _refused(message: str, code: str = "forbidden") -> dict:
    return {"ok": False, **error_body(code, message)}


@socketio.on("ticket.printed", namespace=NAMESPACE)
def on_ticket_printed(report: Any = None) -> dict:
    """The agent printed a job, or could not: ``{ticket, print_id, ok, reason}``. The
    answer (a Socket.IO ack) says what the server made of it."""
    device_id = _agent_device()
    if device_id is None:
        return _refused("only a kiosk's print agent reports prints")
    if not isinstance(report, dict):
        return _refused("send {ticket, print_id, ok, reason}", "invalid_input")
    try:
        with db.write() as s:
            ticket = printing.record_print_result(s, device_id, report)
            answer = {"ok": True, **printing.print_state_json(ticket)}
    except NovbeError as exc:
        return _refused(exc.message, exc.code)
    return answer


@socketio.on("printer.status", namespace=NAMESPACE)
def on_printer_status(report: Any = None) -> dict:
    """The agent's printer health ``{online, paper, cover_open, error}``, sent on every
    change and now and then; stored and passed on only when it changed."""
    device_id = _agent_device()
    if device_id is None:
        return _refused("only a kiosk's print agent reports its printer")
    try:
        with db.write() as s:
            changed = printing.update_printer_status(s, s.get(Device, device_id), report)
    except NovbeError as exc:
        return _refused(exc.message, exc.code)
    return {"ok": True, "changed": changed}


@socketio.on("disconnect", namespace=NAMESPACE)
def on_disconnect(reason: Any = None) -> None:
    release_admission()
    _forget_connection()


def _forget_connection() -> None:
    """Everything this process registered for the connection, at its disconnect (or
    when it left while connecting). Rooms are left by python-socketio."""
    publisher = live().publisher
    token = publisher.visitors.remove(request.sid)
    if token is not None:  # no phone here follows that ticket any more
        publisher.positions.forget(token)
    live().connections.remove(request.sid)
    live().presence.leave(request.sid)
    # A print agent leaving changes its kiosk's printer: the kiosk's next tickets are
    # e-tickets, and managers see it.
    device_id = printing.agents.remove(request.sid)
    if device_id is not None:
        publisher.printing.printers_changed({device_id})
