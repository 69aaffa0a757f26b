"""Many live clients in one process: ``python -m tests.swarm URL AUTH_JSON COUNT EVENT``.

Each client is a gevent greenlet speaking Engine.IO 4 / Socket.IO 5 over a
WebSocket (websocket-client), the same protocol the browsers use, without a
thread per client. The process prints ``READY <n>`` once every client has its
snapshot, then waits for ``EVENT`` on every client (or ``--timeout`` seconds) and
prints one JSON line: how many connected, got their snapshot and got the event,
and when each got it (``time.time()``), so the caller can measure delivery.
Used by tests/test_capacity.py and by the benchmarks.

``--sources N`` spreads the clients over the loopback addresses 127.0.0.2 ...
127.0.0.(N+1) (``--source-base`` moves the first), so the server's per-address caps
(server/connections/) see N clients, not one. ``--deflate`` offers permessage-deflate
as browsers do (a wsproto client; websocket-client cannot inflate).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import gevent  # noqa: E402
import websocket  # noqa: E402
from wsproto import ConnectionType, WSConnection  # noqa: E402
from wsproto.events import (  # noqa: E402
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.extensions import PerMessageDeflate  # noqa: E402

NAMESPACE = "/live"


PATH = "/socket.io/?EIO=4&transport=websocket"


def source_address(index: int, sources: int, base: int = 2) -> str | None:
    """The loopback address client ``index`` connects from; None: the system's choice."""
    return f"127.0.0.{base + index % sources}" if sources else None


def open_socket(url: str, source: str | None) -> socket.socket:
    parts = urlsplit(url)
    bind = (source, 0) if source else None
    return socket.create_connection((parts.hostname, parts.port), 60, source_address=bind)


class Client:
    def __init__(self, url: str, auth: dict, event: str, source: str | None = None) -> None:
        self.base_url = url
        self.url = url.replace("http://", "ws://", 1) + PATH
        self.auth = auth
        self.event = event
        self.source = source
        self.snapshot = gevent.event.Event()
        self.got_event = gevent.event.Event()
        self.received_at: float | None = None
        self.error: str | None = None
        self.ws: websocket.WebSocket | None = None

    def run(self) -> None:
        try:
            # The UTF-8 check is pure Python in websocket-client: the load generator would
            # spend more CPU than the server it measures.
            sock = open_socket(self.base_url, self.source) if self.source else None
            self.ws = websocket.create_connection(
                self.url, timeout=60, skip_utf8_validation=True, socket=sock
            )
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
                    name, *args = json.loads(packet[len(NAMESPACE) + 3 :])
                    self.on_event(name, args)
                    if name == "snapshot":
                        self.snapshot.set()
                    elif name == self.event and self.received_at is None:
                        self.received_at = time.time()
                        self.got_event.set()
        except Exception as exc:  # a dropped client is counted, not fatal
            self.error = self.error or repr(exc)
            self.snapshot.set()

    def on_event(self, name: str, args: list) -> None:
        """Every event as it arrives, with its arguments: a subclass keeps what it needs
        (bench/national_listen.py)."""

    def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                self.ws.close()


class DeflateClient(Client):
    """The same client over wsproto, offering permessage-deflate as a browser does."""

    def run(self) -> None:
        conn = WSConnection(ConnectionType.CLIENT)
        try:
            self.sock = sock = open_socket(self.base_url, self.source)
            host = urlsplit(self.base_url).netloc
            offer = Request(host=host, target=PATH, extensions=[PerMessageDeflate()])
            sock.sendall(conn.send(offer))
            text = ""
            while True:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("closed by the server")
                conn.receive_data(data)
                out = b""
                for event in conn.events():
                    if isinstance(event, AcceptConnection):
                        continue
                    if isinstance(event, RejectConnection):
                        raise ConnectionError(f"refused: HTTP {event.status_code}")
                    if isinstance(event, CloseConnection):
                        raise ConnectionError(f"closed by the server: {event.code}")
                    if isinstance(event, Ping):
                        out += conn.send(event.response())
                    elif isinstance(event, TextMessage):
                        text += event.data
                        if event.message_finished:
                            packet, text = text, ""
                            reply = self.on_packet(packet)
                            if reply:
                                out += conn.send(TextMessage(data=reply))
                if out:
                    sock.sendall(out)
        except Exception as exc:  # a dropped client is counted, not fatal
            self.error = self.error or repr(exc)
            self.snapshot.set()

    def on_packet(self, packet: str) -> str | None:
        """The reply to an Engine.IO / Socket.IO packet, if any."""
        if packet.startswith("0"):  # Engine.IO open: join the namespace
            return f"40{NAMESPACE},{json.dumps(self.auth)}"
        if packet == "2":
            return "3"
        if packet.startswith(f"44{NAMESPACE},"):
            self.error = packet
            self.snapshot.set()
        elif packet.startswith(f"42{NAMESPACE},"):
            name, *_ = json.loads(packet[len(NAMESPACE) + 3 :])
            if name == "snapshot":
                self.snapshot.set()
            elif name == self.event and self.received_at is None:
                self.received_at = time.time()
                self.got_event.set()
        return None

    def close(self) -> None:
        sock = getattr(self, "sock", None)
        if sock is not None:
            with contextlib.suppress(Exception):
                sock.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument(
        "auth", help="the Socket.IO auth object, as JSON (a list of them: one per client, cycled)"
    )
    parser.add_argument("count", type=int)
    parser.add_argument("event")
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument(
        "--sources", type=int, default=0, help="spread over this many 127.0.0.x addresses"
    )
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate")
    parser.add_argument(
        "--connect-rate", type=float, default=0, help="clients started per second (0: ~1,000)"
    )
    parser.add_argument(
        "--source-base", type=int, default=2, help="the first address: 127.0.0.BASE"
    )
    args = parser.parse_args()

    kind = DeflateClient if args.deflate else Client
    auth = json.loads(args.auth)
    auths = auth if isinstance(auth, list) else [auth]  # a list: client i takes auths[i % n]
    clients = [
        kind(
            args.url,
            auths[i % len(auths)],
            args.event,
            source_address(i, args.sources, args.source_base),
        )
        for i in range(args.count)
    ]
    greenlets = []
    for i, client in enumerate(clients):
        greenlets.append(gevent.spawn(client.run))
        if args.connect_rate:
            gevent.sleep(1 / args.connect_rate)
        elif i % 50 == 49:
            gevent.sleep(0.05)  # a center's screens do not all connect in the same millisecond
    # Up to 60 s each, as they connect side by side; but clients stuck connecting must
    # not add their waits up without end.
    ready_by = time.time() + 180
    for client in clients:
        client.snapshot.wait(max(0.0, min(60.0, ready_by - time.time())))
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
