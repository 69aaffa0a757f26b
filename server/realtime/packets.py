"""Packets from clients held to the API's limits (server/limits.py).

Anyone may open a socket (the public page needs no credential), so what a client sends
is parsed as warily as a request body: at most ``SOCKETIO_MAX_MESSAGE_BYTES`` a message
(Engine.IO refuses more), JSON nested at most ``limits.MAX_JSON_DEPTH`` deep (the parser
recurses), no NUL or lone surrogate in any string (a credential or center code is looked
up in the database, which cannot take them). A client whose packet cannot be decoded is
disconnected with one warning line; it never reaches a handler, and no traceback fills
the log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import socketio

from .. import limits

log = logging.getLogger("novbe.realtime")


def loads(data: str | bytes) -> Any:
    value = limits.loads_json(data)
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if limits.may_hold_bad_text(raw) and (bad := limits.first_bad_text(value)):
        where, problem = bad
        raise ValueError(f"{where} {problem}")
    return value


class PacketJSON:
    """The JSON codec python-socketio uses for packets (its ``json`` option)."""

    dumps = staticmethod(json.dumps)
    loads = staticmethod(loads)


def disconnect_on_malformed_packets(server: socketio.Server) -> None:
    """Wrap the Engine.IO message handler of ``server``: a packet that does not decode
    (ValueError: not JSON, too deep, not a Socket.IO packet) ends that connection."""
    eio = server.eio
    handle: Callable[[str, Any], Any] = eio.handlers["message"]

    def guarded(eio_sid: str, data: Any) -> Any:
        try:
            return handle(eio_sid, data)
        except ValueError as error:
            log.warning("closing socket %s: malformed packet (%s)", eio_sid, error)
            server._binary_packet.pop(eio_sid, None)  # a half-received binary event
            eio.disconnect(eio_sid)
            return None

    eio.handlers["message"] = guarded
