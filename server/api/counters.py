"""The counters a staff member may work at (the counter page's picker), and counter
actions: call next, call out of order, open / pause / close. Both hold to
server/staff_counters.py: a staff member sees and works only the counters assigned to
them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, jsonify
from sqlalchemy.orm import Session

from .. import queue, staff_counters
from ..auth import require_staff
from ..cluster import cluster_of
from ..extensions import db
from ..models import utcnow
from ..queue import Actor
from ..queue.counters import lock_counter
from ..queue.lookup import get_center
from ..realtime.presence import at_counters
from ..serializers import iso, ticket_json
from . import bp
from .access import caller
from .request import field, json_body, reject_unknown


@contextmanager
def _at_counter(counter_id: int) -> Iterator[tuple[Session, Actor]]:
    """A write transaction for the staff of the counter's center who may work there:
    who is calling is checked before the counter is looked up (an unknown counter is a
    404 only to staff)."""
    actor = caller()
    with db.write() as s:
        counter = lock_counter(s, counter_id)  # once: the action finds it locked
        require_staff(actor, counter.center_id)
        staff_counters.require_counter(s, actor, counter)
        yield s, actor


@bp.get("/centers/<center_code>/counters")
def my_counters(center_code: str):
    """The center's counters the caller may work at, with their queue figures and who
    works at each now (on the live channel, on any server process)."""
    actor = caller()
    with db.read() as s:
        center = get_center(s, center_code)
        require_staff(actor, center.id)
        mine = {counter.id for counter in staff_counters.counters_for(s, actor, center)}
        stats = queue.queue_stats(s, center)
    counters = [row for row in stats["counters"] if row["id"] in mine]
    present, _ = at_counters(cluster_of(current_app), [row["id"] for row in counters])
    for row in counters:
        row["staff"] = present[row["id"]]
    return jsonify({**stats, "counters": counters})


@bp.post("/counters/<int:counter_id>/call-next")
def call_next(counter_id: int):
    data = json_body()
    reject_unknown(data, {"start", "explain"})
    start = bool(field(data, "start", bool, required=False))  # one press: call and start
    # Nobody callable: 204 as ever, or with "explain" (the counter page) why not, so the
    # clerk is not told "nobody waits" while bookings wait for their slot.
    explain = bool(field(data, "explain", bool, required=False))
    with _at_counter(counter_id) as (s, actor):
        ticket = queue.call_next(s, counter_id, actor, start=start)
        body = ticket_json(s, ticket) if ticket else None
        if body is None and explain:
            later = queue.next_callable(s, counter_id, utcnow())
            body = {
                "ticket": None,
                "next_callable_at": iso(later.at),
                "not_checked_in": later.not_checked_in,
            }
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
