"""How many of one kind of thing (requests in flight, open sockets) each client
holds, against a cap per client and, optionally, a cap in all.

Invariants: ``held(key) <= per_client`` and ``total <= in_all``; a key holding
nothing is not stored, so the map only grows with clients that hold something now.
Every ``acquire`` that returned True is matched by exactly one ``release`` (the
callers make sure of that).
"""

from __future__ import annotations

import threading


class ClientCounts:
    def __init__(self, per_client: int, in_all: int | None = None) -> None:
        self.per_client = per_client
        self.in_all = in_all
        self.total = 0
        self._held: dict[str, int] = {}
        # Under gevent this is a green lock and is never contended across a switch;
        # under the threaded development server it is a real one.
        self._lock = threading.Lock()

    def acquire(self, key: str) -> bool:
        """Count one more for ``key``, or say no (and count nothing) if a cap is full."""
        with self._lock:
            held = self._held.get(key, 0)
            if held >= self.per_client:
                return False
            if self.in_all is not None and self.total >= self.in_all:
                return False
            self._held[key] = held + 1
            self.total += 1
            return True

    def release(self, key: str) -> None:
        with self._lock:
            held = self._held.get(key, 0)
            if held <= 0:
                return  # never counted: nothing to give back
            if held == 1:
                del self._held[key]
            else:
                self._held[key] = held - 1
            self.total -= 1

    def held(self, key: str) -> int:
        return self._held.get(key, 0)

    def clients(self) -> int:
        return len(self._held)
