"""Notifications to visitors and signed webhooks to other systems, through one durable
outbox (outbox.py; the invariants are in server/models/notifications.py).

Producers write outbox rows inside the transaction of the change that causes them
(``Database.before_commit``); one worker per installation sends them (worker.py);
channels (channels/) each know one way to reach someone.
"""

from __future__ import annotations

from flask import Flask


def init_notify(app: Flask) -> None:
    """Register the outbox's producers with the app's database: they run inside each
    write transaction that changed tickets or counters, just before it commits."""
    from ..extensions import db
    from . import triggers, webhooks

    triggers.configure(app)
    producers: list = [triggers.produce_visitor_messages, webhooks.produce_events]
    for producer in producers:
        db.before_commit(producer)
    app.extensions["novbe_notify"] = producers
