"""``public.stats`` to the public page's rooms: paced, and sent in slices.

Anyone may open the public page's live connection (server/realtime/admission.py caps
how many), so the public room can hold thousands of connections, every one of which
costs a send (about 0.1 ms of the worker's one core) per event. Sent like the staff
screens' events, every queue change would stall the worker for the whole room at
once. So, for the public rooms only:

* at most one ``public.stats`` per center every ``PUBLIC_STATS_INTERVAL_S``, carrying
  the latest figures (a change in between is not lost: the figures offered last are
  sent when the interval is over);
* sent to the room's connections in slices of ``SLICE``, letting other work (a
  health probe, a counter's call) through between slices.

Every server process runs its own: the figures reach each of them on the cluster bus
(publisher.py), and each sends them to its own connections, not through the message
queue, so a connection gets each push once.

``PUBLIC_STATS_INTERVAL_S = 0`` sends each offer at once, whole (the tests' config).
"""

from __future__ import annotations

import logging
import threading
import time

from flask_socketio import SocketIO

from .emitter import Emitter
from .rooms import NAMESPACE, public_room

log = logging.getLogger(__name__)

EVENT = "public.stats"
SLICE = 200  # connections per send, encoded once


class PublicStats:
    def __init__(self, emitter: Emitter, socketio: SocketIO, interval_s: float) -> None:
        self.emitter = emitter
        self.socketio = socketio  # whose manager knows this process's connections
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._pending: dict[int, dict] = {}  # center id -> figures not sent yet
        self._next_at: dict[int, float] = {}  # center id -> earliest next send
        self._wake: threading.Event | None = None

    def offer(self, center_id: int, figures: dict) -> None:
        """The center's figures changed: send them now or when its interval is over."""
        if self.interval_s <= 0:
            self._send(center_id, figures)
            return
        with self._lock:
            self._pending[center_id] = figures
            if self._wake is None:
                self._wake = threading.Event()
                self.emitter.background(self._loop, self._wake)
            self._wake.set()

    def _loop(self, wake: threading.Event) -> None:
        while True:
            with self._lock:
                wake.clear()
                now = time.monotonic()
                due = [c for c in self._pending if self._next_at.get(c, 0.0) <= now]
                sends = [(c, self._pending.pop(c)) for c in due]
                for center_id in due:
                    self._next_at[center_id] = now + self.interval_s
                waits = [self._next_at[c] - now for c in self._pending]
            for center_id, figures in sends:
                try:
                    self._send(center_id, figures)
                except Exception:
                    log.exception("could not send the public figures of center %s", center_id)
            # Asleep until the next pending center is due, or until a new offer.
            wake.wait(min(waits) if waits else None)

    def _send(self, center_id: int, figures: dict) -> None:
        room = public_room(center_id)
        # This process's connections; each is also a room of its own: a slice is one
        # emit, encoded once, sent here only (ignore_queue).
        sids = [sid for sid, _ in self.socketio.server.manager.get_participants(NAMESPACE, room)]
        for start in range(0, len(sids), SLICE):
            self.emitter.emit(EVENT, figures, sids[start : start + SLICE], local=True)
            self.emitter.sleep(0)  # the slice's sends go out; other work gets its turn
