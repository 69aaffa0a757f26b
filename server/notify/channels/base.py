"""What every channel implements: send one message, say what came of it.

A channel gets a :class:`Delivery` (read from the outbox in a short transaction, the
address looked up from the contact just before sending) and returns an
:class:`~server.notify.outbox.Outcome`; it never raises for a failed send, never
writes the database and never logs an address. It must time out (``TIMEOUT_S``), so
one dead receiver cannot hold the worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..outbox import Outcome

TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Delivery:
    message_id: int
    key: str  # the idempotency key: pass it on where the far end can use it
    channel: str
    kind: str
    body: dict[str, Any]
    # The visitor's address (phone, email, chat id, push subscription JSON), or for a
    # webhook its URL; None once the contact was erased (the message is then cancelled).
    address: str | None
    language: str = "en"
    # The center's settings for this channel (gateway URL, SMTP host, bot token, ...),
    # or for a webhook {"secrets": [...]}.
    settings: dict[str, Any] = field(default_factory=dict)


class Channel(Protocol):
    name: str

    def send(self, delivery: Delivery) -> Outcome: ...
