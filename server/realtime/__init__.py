"""The live channel: one Socket.IO namespace, ``/live``, that pushes queue changes to
kiosks, displays, counters and visitors' phones. See docs/realtime.md.

* channel.py: who may connect, which rooms they join, the snapshot they get.
* publisher.py: turns committed queue changes into events.
* payloads.py: the JSON shapes, shared by snapshots and events.
"""

from __future__ import annotations

from flask import Flask

from ..extensions import db, socketio
from .channel import NAMESPACE  # registers the namespace's handlers
from .publisher import Publisher


def init_realtime(app: Flask) -> None:
    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        message_queue=app.config["SOCKETIO_MESSAGE_QUEUE"] or None,
        channel=app.config["SOCKETIO_CHANNEL"],
        # Screens are served by this app, so only its own origin may open a socket
        # (None means "same origin"; an empty list would switch the check off).
        cors_allowed_origins=app.config["SOCKETIO_CORS_ORIGINS"] or None,
        ping_interval=app.config["SOCKETIO_PING_INTERVAL"],
    )
    publisher = Publisher(app, socketio, db)
    app.extensions["novbe_publisher"] = publisher
    db.on_commit(publisher.publish)


__all__ = ["NAMESPACE", "Publisher", "init_realtime"]
