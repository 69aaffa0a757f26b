"""Counter actions: call next, call out of order, open / pause / close."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import jsonify
from sqlalchemy.orm import Session

from .. import queue
from ..auth import require_staff
from ..extensions import db
from ..queue import Actor
from ..queue.lookup import get_counter
from ..serializers import ticket_json
from . import bp
from .access import caller
from .request import field, json_body, reject_unknown


@contextmanager
def _at_counter(counter_id: int) -> Iterator[tuple[Session, Actor]]:
    """A write transaction for the staff of the counter's center: who is calling is
    checked before the counter is looked up (an unknown counter is a 404 only to staff)."""
    actor = caller()
    with db.write() as s:
        require_staff(actor, get_counter(s, counter_id).center_id)
        yield s, actor


@bp.post("/counters/<int:counter_id>/call-next")
def call_next(counter_id: int):
    reject_unknown(json_body(), set())
    with _at_counter(counter_id) as (s, actor):
        ticket = queue.call_next(s, counter_id, actor)
        body = ticket_json(s, ticket) if ticket else None
    if body is None:
        return "", 204
    return jsonify(body)


@bp.post("/counters/<int:counter_id>/call")
def call_ticket(counter_id: int):
    data = json_body()
    reject_unknown(data, {"ticket", "reason"})
    ticket_id = field(data, "ticket", int)
    reason = field(data, "reason", str)
    with _at_counter(counter_id) as (s, actor):
        ticket = queue.call_ticket(s, counter_id, ticket_id, reason, actor)
        body = ticket_json(s, ticket)
    return jsonify(body)


@bp.post("/counters/<int:counter_id>/state")
def set_state(counter_id: int):
    data = json_body()
    reject_unknown(data, {"state", "reason"})
    state = field(data, "state", str)
    reason = field(data, "reason", str, required=False)
    with _at_counter(counter_id) as (s, actor):
        counter = queue.set_counter_state(s, counter_id, state, actor, reason=reason)
        body = {
            "id": counter.id,
            "label": counter.label,
            "state": counter.state,
            "pause_reason": counter.pause_reason,
        }
    return jsonify(body)
