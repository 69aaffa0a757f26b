"""3. Live fan-out: N Socket.IO clients of one center (display token); the time from
the call-next response to each client's ``ticket.called``."""

from __future__ import annotations

import time

from .common import percentile
from .swarm import Swarm

NAME = "fanout"
TITLE = "Fan-out: ticket.called to 1,000 clients"
CLIENTS = 1000


def run(ctx) -> dict:
    server = ctx.server
    clients = 50 if ctx.smoke else CLIENTS
    center = server.new_center()
    swarm = Swarm(server.url, center.display_token, clients, "ticket.called", timeout=30)
    try:
        connected = swarm.ready()
        server.issue(center, "pension-new")
        sent = time.time()
        server.call_next(center, "1")
        answered = time.time()
        result = swarm.result()
    finally:
        swarm.stop()
    after_response = [(t - answered) * 1000 for t in result["received_at"]]
    after_request = [(t - sent) * 1000 for t in result["received_at"]]

    def r(v):
        return None if v is None else round(v, 2)

    return {
        "clients": clients,
        "connected": connected,
        "received": result["received"],
        "missed": clients - result["received"],
        "call_next_ms": r((answered - sent) * 1000),
        "p50_ms": r(percentile(after_response, 50)),
        "p99_ms": r(percentile(after_response, 99)),
        "max_ms": r(max(after_response, default=None)),
        "from_request_p99_ms": r(percentile(after_request, 99)),
        "errors": result["errors"],
    }
