"""Many live clients in one process: ``python -m tests.swarm URL AUTH_JSON COUNT EVENT``.

Each client is a gevent greenlet speaking Engine.IO 4 / Socket.IO 5 over a
WebSocket (websocket-client), the same protocol the browsers use, without a
thread per client. The process prints ``READY <n>`` once every client has its
snapshot, then waits for ``EVENT`` on every client (or ``--timeout`` seconds) and
prints one JSON line: how many connected, got their snapshot and got the event,
and when each got it (``time.time()``), so the caller can measure delivery.
Used by tests/test_capacity.py and by the benchmarks.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import websocket  # noqa: E402

NAMESPACE = "/live"


class Client:
    def __init__(self, url: str, auth: dict, event: str) -> None:
        self.url = url.replace("http://", "ws://", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.auth = auth
        self.event = event
        self.snapshot = gevent.event.Event()
        self.got_event = gevent.event.Event()
        self.received_at: float | None = None
        self.error: str | None = None
        self.ws: websocket.WebSocket | None = None

    def run(self) -> None:
        try:
            # The UTF-8 check is pure Python in websocket-client: the load generator would
            # spend more CPU than the server it measures.
            self.ws = websocket.create_connection(self.url, timeout=60, skip_utf8_validation=True)
            self.ws.recv()  # Engine.IO open packet
            self.ws.send(f"40{NAMESPACE},{json.dumps(self.auth)}")
            while True:
                packet = self.ws.recv()
                if packet == "2":  # Engine.IO ping: answer or be dropped
                    self.ws.send("3")
                elif packet.startswith(f"44{NAMESPACE},"):
                    self.error = packet
                    self.snapshot.set()
                    return
                elif packet.startswith(f"42{NAMESPACE},"):
                    name, *_ = json.loads(packet[len(NAMESPACE) + 3 :])
                    if name == "snapshot":
                        self.snapshot.set()
                    elif name == self.event and self.received_at is None:
                        self.received_at = time.time()
                        self.got_event.set()
        except Exception as exc:  # a dropped client is counted, not fatal
            self.error = self.error or repr(exc)
            self.snapshot.set()

    def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                self.ws.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("auth", help="the Socket.IO auth object, as JSON")
    parser.add_argument("count", type=int)
    parser.add_argument("event")
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()

    clients = [Client(args.url, json.loads(args.auth), args.event) for _ in range(args.count)]
    greenlets = []
    for i, client in enumerate(clients):
        greenlets.append(gevent.spawn(client.run))
        if i % 50 == 49:
            gevent.sleep(0.05)  # a center's screens do not all connect in the same millisecond
    for client in clients:
        client.snapshot.wait(60)
    ready = sum(1 for c in clients if c.snapshot.is_set() and c.error is None)
    print(f"READY {ready}", flush=True)

    deadline = time.time() + args.timeout
    for client in clients:
        client.got_event.wait(max(0.0, deadline - time.time()))
    result = {
        "clients": args.count,
        "connected": ready,
        "received": sum(1 for c in clients if c.received_at is not None),
        "received_at": [c.received_at for c in clients if c.received_at is not None],
        "errors": sorted({c.error for c in clients if c.error})[:5],
    }
    print(json.dumps(result), flush=True)
    for client in clients:
        client.close()
    gevent.killall(greenlets, timeout=2)
    sys.exit(0)


if __name__ == "__main__":
    main()
