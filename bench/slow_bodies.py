"""Slow request bodies, the attack benchmark's load (bench/attack.py runs this as a
subprocess): ``python -m bench.slow_bodies URL COUNT [--sources N] [--source-base B]
[--every S] [--seconds T]``.

Keeps COUNT login POSTs open, each announcing a 200-byte JSON body and sending it one
byte every S seconds; a request the server ends is opened again at once (after a short
pause if it was refused, so a refusal does not become a busy loop), so the pressure
stays at COUNT for T seconds. The clients are gevent greenlets spread over the loopback
addresses 127.0.0.B ... 127.0.0.(B+N-1). Prints ``READY <n>`` once every client has
sent its headers, then one JSON line: how the server ended the requests (by HTTP
status, "closed" without an answer, "open at the end") and how long they lasted.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import gevent  # noqa: E402

BODY = json.dumps({"username": "slow-client", "password": "x" * 160}).encode()
REFUSED_PAUSE_S = 0.5


def request_head(host: str) -> bytes:
    return (
        "POST /api/v1/auth/token HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n"
    ).encode()


class SlowClient:
    def __init__(self, url: str, source: str, every_s: float, stop_at: float) -> None:
        parts = urlsplit(url)
        self.address = (parts.hostname, parts.port)
        self.head = request_head(parts.netloc)
        self.source = source
        self.every_s = every_s
        self.stop_at = stop_at
        self.started = gevent.event.Event()
        self.outcomes: list[tuple[str, float]] = []  # (how it ended, seconds it lasted)

    def run(self) -> None:
        while time.time() < self.stop_at:
            outcome, lasted = self.one_request()
            self.outcomes.append((outcome, lasted))
            if outcome not in ("408", "closed"):
                gevent.sleep(REFUSED_PAUSE_S)

    def one_request(self) -> tuple[str, float]:
        start = time.time()
        try:
            sock = socket.create_connection(self.address, 30, source_address=(self.source, 0))
        except OSError as exc:
            self.started.set()
            return type(exc).__name__, time.time() - start
        try:
            sock.sendall(self.head + BODY[:1])
            self.started.set()
            sent = 1
            sock.settimeout(self.every_s)
            while time.time() < self.stop_at:
                try:
                    data = sock.recv(4096)
                except TimeoutError:
                    if sent < len(BODY):
                        sock.sendall(BODY[sent : sent + 1])
                        sent += 1
                    continue
                if not data:
                    return "closed", time.time() - start
                return data.split(b" ", 2)[1].decode(), time.time() - start
            return "open at the end", time.time() - start
        except OSError as exc:
            return type(exc).__name__, time.time() - start
        finally:
            sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.slow_bodies")
    parser.add_argument("url")
    parser.add_argument("count", type=int)
    parser.add_argument("--sources", type=int, default=1)
    parser.add_argument("--source-base", type=int, default=20)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between bytes")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()

    stop_at = time.time() + args.seconds
    clients = [
        SlowClient(args.url, f"127.0.0.{args.source_base + i % args.sources}", args.every, stop_at)
        for i in range(args.count)
    ]
    greenlets = []
    for i, client in enumerate(clients):
        greenlets.append(gevent.spawn(client.run))
        if i % 100 == 99:
            gevent.sleep(0.05)
    for client in clients:
        client.started.wait(30)
    print(f"READY {sum(c.started.is_set() for c in clients)}", flush=True)
    gevent.joinall(greenlets, timeout=args.seconds + 30)

    ended: dict[str, list[float]] = {}
    for client in clients:
        for outcome, lasted in client.outcomes:
            ended.setdefault(outcome, []).append(lasted)
    print(
        json.dumps(
            {
                outcome: {
                    "n": len(lasted),
                    "median_s": round(sorted(lasted)[len(lasted) // 2], 1),
                    "max_s": round(max(lasted), 1),
                }
                for outcome, lasted in sorted(ended.items())
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
