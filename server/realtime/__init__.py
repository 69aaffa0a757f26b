"""The live channel: one Socket.IO namespace, ``/live``, that pushes queue changes to
kiosks, displays, counters and visitors' phones. See docs/realtime.md.

* channel.py: who may connect, which rooms they join, the snapshot they get.
* rooms.py: the namespace, the rooms, and the visitors' phones this process holds.
* publisher.py: turns committed changes into events, through its listeners
  (queue_events.py, print_dispatch.py, figures.py) and one emitter (emitter.py).
* alerts.py: managers' edge-triggered alerts, agreed between processes.
* public_stats.py: the public page's figures, paced and sliced per process.
* state.py: what the channel keeps per app.
* payloads.py: the JSON shapes, shared by snapshots and events.
* packets.py: what clients send is held to the API's limits.
* admission.py: caps on connections without a credential; closing those that never join.
* public_snapshot.py: the public page's snapshot, shared by the connects of one moment.
* presence.py: who works at which counter, on any process (``counter.presence``).
"""

from __future__ import annotations

import socketio as socketio_server
from flask import Flask, has_request_context, request

from ..cluster import Cluster
from ..extensions import db, socketio
from . import channel  # noqa: F401  (registers the namespace's handlers)
from .admission import init_admission
from .emitter import SocketEmitter
from .packets import PacketJSON, disconnect_on_malformed_packets
from .presence import CounterPresence
from .public_snapshot import PublicSnapshots
from .public_stats import PublicStats
from .publisher import Publisher, changed_centers
from .rooms import NAMESPACE
from .state import EXTENSION, LiveState, live_of


def init_realtime(app: Flask, cluster: Cluster) -> None:
    url = app.config["SOCKETIO_MESSAGE_QUEUE"]  # a redis:// URL (init_cluster checked)
    several = bool(url)
    # The manager is made here, not by Flask-SocketIO from `message_queue`: it keeps the
    # one it made for an earlier app, so an app without a queue created after one with
    # (tests create many) would still talk to that Redis. None: in this process only.
    manager = (
        socketio_server.RedisManager(url, channel=app.config["SOCKETIO_CHANNEL"]) if url else None
    )
    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        client_manager=manager,
        # Screens are served by this app, so only its own origin may open a socket
        # (None means "same origin"; an empty list would switch the check off).
        cors_allowed_origins=app.config["SOCKETIO_CORS_ORIGINS"] or None,
        ping_interval=app.config["SOCKETIO_PING_INTERVAL"],
        max_http_buffer_size=app.config["SOCKETIO_MAX_MESSAGE_BYTES"],
        json=PacketJSON,
        # Several processes share no Engine.IO sessions, so a long-polling client whose
        # next request reaches another process fails ("Invalid session"). WebSocket
        # only, then: one connection, one process, and no sticky sessions needed in the
        # proxy (docs/deploy.md). One process also takes long-polling.
        transports=["websocket"] if several else None,
    )
    disconnect_on_malformed_packets(socketio.server)
    init_admission(app)  # caps on connections without a credential
    snapshots = PublicSnapshots(app.config["PUBLIC_SNAPSHOT_MAX_AGE_S"])
    cluster.subscribe("changed", lambda body, local: snapshots.forget(changed_centers(body)))
    emitter = SocketEmitter(socketio)
    public_stats = PublicStats(emitter, socketio, app.config["PUBLIC_STATS_INTERVAL_S"])
    publisher = Publisher(
        emitter,
        db,
        cluster,
        public_stats,
        interval=app.config["REALTIME_STATS_INTERVAL"],
        day_figures_s=app.config["REALTIME_DAY_FIGURES_S"],
        public_base_url=app.config["PUBLIC_BASE_URL"],
    )
    app.extensions[EXTENSION] = LiveState(publisher, snapshots, CounterPresence(cluster, emitter))
    # The address the changing request came to, for print jobs' phone links: read here,
    # at the edge, so that the publisher knows nothing of Flask's request.
    db.on_commit(
        lambda changes: publisher.publish(
            changes, request.host_url if has_request_context() else None
        )
    )


__all__ = ["NAMESPACE", "Publisher", "init_realtime", "live_of"]
