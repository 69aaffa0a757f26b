"""4. Server memory: resident size (VmRSS) of the gunicorn worker, before and with
N Socket.IO clients connected, and so per connection (~70-75 KB, display or phone:
docs/deploy.md, "Sizing for live connections")."""

from __future__ import annotations

import time

from .common import rss_mb
from .swarm import Swarm

NAME = "memory"
TITLE = "Memory: worker RSS with 1,000 clients"
CLIENTS = 1000


def run(ctx) -> dict:
    server = ctx.server
    clients = 50 if ctx.smoke else CLIENTS
    pid = ctx.worker_pid()
    center = server.new_center()
    before = rss_mb(pid) if pid else None
    swarm = Swarm(server.url, center.display_token, clients, "never.sent", timeout=60)
    try:
        connected = swarm.ready()
        time.sleep(1)
        with_clients = rss_mb(pid) if pid else None
    finally:
        swarm.stop()
    return {
        "clients": clients,
        "connected": connected,
        "worker_pid": pid,
        "rss_before_mb": None if before is None else round(before, 1),
        "rss_mb": None if with_clients is None else round(with_clients, 1),
        # What one more connection costs (docs/deploy.md sizes processes by it).
        "per_connection_kb": (
            None
            if before is None or with_clients is None or not connected
            else round((with_clients - before) * 1024 / connected, 1)
        ),
    }
