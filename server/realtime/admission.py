"""Admission to ``/live``: connections without a credential are counted and capped,
and connections that never join are closed.

* The public page (``{"public": <center>}``) and visitors' phones (``{"ticket": ...}``)
  need no staff or device credential: anyone can open them, so they are capped per
  client address (``MAX_PUBLIC_SOCKETS_PER_CLIENT``) and in all
  (``MAX_PUBLIC_SOCKETS``, so a flood from many addresses still leaves the worker's
  connections to the screens and staff). The cap is checked before any database
  work; a refusal is a Socket.IO connect error naming the cap.
* Screens, counters and agents authenticate (a device or staff token, or the staff
  session): they are not counted here, only by the per-address WebSocket cap
  (server/connections/middleware.py).
* An Engine.IO connection that has not joined ``/live`` within
  ``SOCKET_JOIN_TIMEOUT_S`` (a client that never sends its connect) is closed by
  ``start_join_sweeper``, and one whose connect was refused a few seconds after the
  refusal, so neither sits on a connection slot.

Invariant: an admitted public connection is released exactly once, at its
disconnect or when its connect handler fails.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import socket
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request
from flask_socketio import ConnectionRefusedError

from ..connections import client_key
from ..connections.counts import ClientCounts

log = logging.getLogger(__name__)

# What a connection without a credential sends instead of a token.
NO_CREDENTIAL_KEYS = ("public", "ticket")
SWEEP_INTERVAL_S = 2.0
# In a connection's environ: how many sweeps have found it outside /live, and
# whether its connect was refused (then it is closed sooner: a browser closes it at
# once itself; the sweeps between let the refusal reach the client first).
UNJOINED_SWEEPS = "novbe.unjoined_sweeps"
REFUSED = "novbe.refused"
REFUSED_SWEEPS = 2


def needs_no_credential(auth: Any) -> bool:
    """Whether the connect handler will take this ``auth`` without a credential: the
    same keys, tried before the token (server/realtime/channel.py)."""
    return isinstance(auth, dict) and any(isinstance(auth.get(k), str) for k in NO_CREDENTIAL_KEYS)


class Admission:
    """The public connections of one process: who holds them, from where."""

    def __init__(self, per_client: int, in_all: int) -> None:
        self.public = ClientCounts(per_client, in_all)
        self._holders: dict[str, str] = {}  # Socket.IO sid -> client key

    def admit(self, sid: str, key: str) -> None:
        if not self.public.acquire(key):
            if self.public.held(key) >= self.public.per_client:
                raise ConnectionRefusedError(
                    f"too many live connections from your address "
                    f"(at most {self.public.per_client}); try again later"
                )
            raise ConnectionRefusedError("the server is full; try again later")
        self._holders[sid] = key

    def release(self, sid: str) -> None:
        key = self._holders.pop(sid, None)
        if key is not None:
            self.public.release(key)


def init_admission(app: Flask) -> Admission:
    admission = Admission(
        app.config["MAX_PUBLIC_SOCKETS_PER_CLIENT"], app.config["MAX_PUBLIC_SOCKETS"]
    )
    app.extensions["novbe_admission"] = admission
    return admission


def admitted(connect: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Wrap the ``/live`` connect handler: a connection without a credential must fit
    under the caps before the handler runs, and gives its place back if it fails; a
    refused connection is marked for the sweeper to close soon."""

    @functools.wraps(connect)
    def handler(auth: Any = None) -> Any:
        try:
            if not needs_no_credential(auth):
                return connect(auth)
            admission: Admission = current_app.extensions["novbe_admission"]
            admission.admit(request.sid, client_key(request.environ))
            try:
                return connect(auth)
            except BaseException:
                admission.release(request.sid)
                raise
        except ConnectionRefusedError:
            # The environ is the connection's own (python-socketio keeps it per
            # Engine.IO session): the sweeper counts from the refusal.
            request.environ[REFUSED] = True
            request.environ[UNJOINED_SWEEPS] = 0
            raise

    return handler


def release_admission() -> None:
    """At a ``/live`` disconnect: give back the place of a public connection."""
    current_app.extensions["novbe_admission"].release(request.sid)


# ---- connections that never join ---------------------------------------------------


def sweep_unjoined(server: Any, namespace: str, rounds: int) -> int:
    """One sweep: close the Engine.IO connections found outside ``namespace`` in
    ``rounds`` sweeps, or in ``REFUSED_SWEEPS`` since their connect was refused;
    returns how many. ``server`` is python-socketio's Server.

    Sweeps are counted, not seconds, so that a worker too busy to handle the connects
    it has received does not close them for its own slowness: a sweep only runs after
    the work queued before it, the connect packets included."""
    stale = []
    for eio_sid, environ in list(server.environ.items()):
        if server.manager.sid_from_eio_sid(eio_sid, namespace) is not None:
            continue
        seen = environ.get(UNJOINED_SWEEPS, 0) + 1
        environ[UNJOINED_SWEEPS] = seen
        if seen >= (REFUSED_SWEEPS if environ.get(REFUSED) else rounds):
            stale.append((eio_sid, environ))
    for eio_sid, environ in stale:
        _close(server, eio_sid, environ)
    return len(stale)


def _close(server: Any, eio_sid: str, environ: dict[str, Any]) -> None:
    sock = environ.get("gunicorn.socket")
    if sock is not None and environ.get("HTTP_UPGRADE", "").lower() == "websocket":
        # The connection is this WebSocket alone: end it at the TCP level, which ends
        # its reader at once whether or not the peer answers a close.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        return
    eio_socket = server.eio.sockets.get(eio_sid)
    if eio_socket is not None:  # long-polling: its HTTP connection serves others too
        eio_socket.close(wait=False, abort=True)


def start_join_sweeper(app: Flask, namespace: str) -> None:
    """Every few seconds, close what has not joined ``namespace`` in time (a
    background task of the live channel: a greenlet under gevent)."""
    from ..extensions import socketio

    # One sweep more than the time-out spans: a connection opened just before a sweep
    # is seen by it, and must still get the whole time.
    rounds = math.ceil(app.config["SOCKET_JOIN_TIMEOUT_S"] / SWEEP_INTERVAL_S) + 1

    def loop() -> None:
        while True:
            socketio.sleep(SWEEP_INTERVAL_S)
            try:
                closed = sweep_unjoined(socketio.server, namespace, rounds)
                if closed:
                    log.info("closed %d connections that did not join %s", closed, namespace)
            except Exception:  # keep sweeping; the next round retries
                log.exception("join sweep failed")

    socketio.start_background_task(loop)
