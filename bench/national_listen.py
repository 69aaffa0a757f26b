"""One load-generator process of live screens for the national day:
``python -m bench.national_listen CLIENTS.json``.

CLIENTS.json lists the clients, each ``{"url", "auth", "kind", "center", "number", "source"}``
(kind: display, public, counter or phone; number: the phone's ticket;
source: the loopback address it connects from). Each is a
tests/swarm.py gevent client (the browsers' protocol) that keeps the arrival instant
(``time.time()``) of every ``ticket.called`` a display or a phone gets. The process
prints ``READY <connected> <failed>`` once every client has its snapshot, then obeys
lines on stdin: ``DUMP <path>`` writes what arrived since the last dump (and how many
clients are still connected) to <path> and prints ``DUMPED``; ``STOP`` ends it.

Invariant: an arrival is written to exactly one dump (the dump takes the list and
starts a new one in one step, with no greenlet switch between).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import gevent.lock  # noqa: E402
from gevent.fileobject import FileObject  # noqa: E402

from tests.swarm import Client  # noqa: E402

RECORDED = {"display", "phone"}
# Clients started together, then a pause: a network's screens do not all connect in
# the same second (and a burst overflows the servers' accept queues).
CONNECT_BATCH = 10
CONNECT_PAUSE_S = 0.1
CONNECT_ATTEMPTS = 6
# Handshakes in flight at once, per process: screens connect as fast as the servers
# admit them (a closed loop), instead of piling up until the servers cut them off and
# every retry adds to the pile.
HANDSHAKES = gevent.lock.Semaphore(16)
SNAPSHOT_TIMEOUT_S = 300


class Screen(Client):
    def __init__(self, index: int, spec: dict, arrivals: list) -> None:
        super().__init__(spec["url"], spec["auth"], "ticket.called", spec.get("source"))
        self.index = index
        self.kind = spec["kind"]
        self.arrivals = arrivals  # shared by the process's clients: (index, number, at)
        self.events = 0
        self.settled = gevent.event.Event()  # has its snapshot, or gave up connecting
        self.holding = False  # one of HANDSHAKES

    def run(self) -> None:
        """As a browser does: a connection refused or cut before its snapshot is tried
        again (the server was busy); one lost after it is a drop, and counted."""
        for attempt in range(CONNECT_ATTEMPTS):
            self.error = None
            self.holding = True
            HANDSHAKES.acquire()
            try:
                super().run()
            finally:
                self.release()
            if self.settled.is_set():  # had its snapshot: dropped later
                return
            gevent.sleep(min(2.0**attempt, 10.0) * (0.5 + random.random()))
        self.settled.set()

    def release(self) -> None:
        if self.holding:
            self.holding = False
            HANDSHAKES.release()

    def on_event(self, name: str, args: list) -> None:
        if name == "snapshot":
            self.settled.set()
            self.release()
        self.events += 1
        if name == "ticket.called" and self.kind in RECORDED and args:
            self.arrivals[0].append((self.index, args[0].get("number"), time.time()))


def raise_file_limit() -> None:
    """One file per connection: the soft limit up to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    raise_file_limit()
    specs = json.loads(Path(sys.argv[1]).read_text())
    arrivals: list[list] = [[]]  # a box, swapped whole on DUMP
    clients = [Screen(i, spec, arrivals) for i, spec in enumerate(specs)]
    greenlets = []
    for i, client in enumerate(clients):
        greenlets.append(gevent.spawn(client.run))
        if i % CONNECT_BATCH == CONNECT_BATCH - 1:
            gevent.sleep(CONNECT_PAUSE_S)
    deadline = time.time() + SNAPSHOT_TIMEOUT_S
    for client in clients:
        client.settled.wait(max(0.0, deadline - time.time()))
    ready = sum(1 for c in clients if c.settled.is_set() and c.error is None)
    print(f"READY {ready} {len(clients) - ready}", flush=True)
    stdin = FileObject(sys.stdin, "r")
    for line in stdin:
        command, *rest = line.split()
        if command == "STOP":
            break
        if command == "DUMP":
            taken, arrivals[0] = arrivals[0], []
            usage = resource.getrusage(resource.RUSAGE_SELF)
            Path(rest[0]).write_text(
                json.dumps(
                    {
                        "arrivals": taken,
                        "connected": sum(1 for c in clients if c.error is None),
                        "errors": sorted({c.error for c in clients if c.error})[:5],
                        "events": sum(c.events for c in clients),
                        "cpu_s": usage.ru_utime + usage.ru_stime,
                    }
                )
            )
            print("DUMPED", flush=True)
    for client in clients:
        client.close()
    gevent.killall(greenlets, timeout=2)


if __name__ == "__main__":
    main()
