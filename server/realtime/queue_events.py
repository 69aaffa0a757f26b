"""A committed transaction's ticket, counter and device events, emitted at once to the
rooms that show them: ``ticket.issued``/``ticket.called``/``ticket.updated`` to the
center and the ticket's own room, ``counter.updated`` to a counter's staff,
``device.updated`` to a kiosk or display whose settings changed (it fetches a fresh
snapshot). See docs/realtime.md for the payloads.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from ..models import Counter, Device, Ticket
from ..queue.changes import ChangeKind
from . import payloads
from .emitter import Emitter
from .rooms import center_room, counter_room, device_room, ticket_room


class QueueEvents:
    def __init__(self, emitter: Emitter, whole_ticket_sent: Callable[[str], None]) -> None:
        self.emitter = emitter
        self.whole_ticket_sent = whole_ticket_sent  # Positions.forget

    def handle(self, s: Session, committed) -> set[int]:
        """Emit the events; returns the centers whose queues changed."""
        centers: set[int] = set()
        for change in committed.changes:
            if change.kind == ChangeKind.CENTER:
                centers.add(change.id)
            elif change.kind == ChangeKind.TICKET:
                ticket = committed.tickets.get(change.id)
                if ticket is not None:
                    centers.add(ticket.center_id)
                    self._ticket(s, ticket, change.action)
        devices = {c.id for c in committed.changes if c.kind == ChangeKind.DEVICE}
        for device_id in sorted(devices):
            device = s.get(Device, device_id)
            if device is not None:
                body = {"device": device.name, "settings": payloads.public_settings(device)}
                self.emitter.emit("device.updated", body, device_room(device.id))
        counters = {counter_id for c in committed.changes for counter_id in c.counters}
        for counter_id in sorted(counters):
            counter = s.get(Counter, counter_id)
            if counter is not None:
                centers.add(counter.center_id)
                body = payloads.counter_json(s, counter)
                self.emitter.emit("counter.updated", body, counter_room(counter.id))
        return centers

    def _ticket(self, s: Session, ticket: Ticket, action: str) -> None:
        center, own = center_room(ticket.center_id), ticket_room(ticket.tracking_token)
        if action == "issue":
            self.emitter.emit("ticket.issued", payloads.issued_json(ticket), center)
        elif action in payloads.CALL_ACTIONS:
            body = payloads.called_json(ticket)
            self.emitter.emit("ticket.called", body, center)
            self.emitter.emit("ticket.called", body, own)
        else:
            self.emitter.emit("ticket.updated", payloads.updated_json(ticket, action), center)
            self.emitter.emit("ticket.updated", payloads.public_ticket_json(s, ticket), own)
            self.whole_ticket_sent(ticket.tracking_token)
