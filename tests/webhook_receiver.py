"""A webhook receiver on loopback for the tests: a real HTTP server in a thread that
verifies every request with the ``standardwebhooks`` library (not our own code) and
keeps what came. It can fail the first N requests, answer slowly, or hold a request
until told (to kill the sender mid-send)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Received:
    id: str
    type: str
    data: dict
    headers: dict
    body: bytes
    verified_by: list[int]  # indexes of the receiver's secrets that verify it


@dataclass
class Receiver:
    secrets: list[str] = field(default_factory=list)
    fail_first: int = 0  # answer 500 to this many requests first
    fail_always: bool = False
    delay_s: float = 0.0  # sleep before answering
    hold: threading.Event | None = None  # wait for it before answering
    received: list[Received] = field(default_factory=list)  # verified, answered 2xx or not
    requests: int = 0
    refused: int = 0  # signature or timestamp not accepted
    arrived: threading.Event = field(default_factory=threading.Event)  # a request came in

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = dict(self.headers.items())
                receiver.arrived.set()
                with receiver._lock:
                    receiver.requests += 1
                    number = receiver.requests
                verified = []
                for index, secret in enumerate(receiver.secrets):
                    try:
                        Webhook(secret).verify(body, headers)
                        verified.append(index)
                    except WebhookVerificationError:
                        pass
                if not verified:
                    receiver.refused += 1
                    self._answer(401, b"bad signature")
                    return
                event = json.loads(body)
                with receiver._lock:
                    receiver.received.append(
                        Received(
                            self.headers["webhook-id"],
                            event["type"],
                            event["data"],
                            headers,
                            body,
                            verified,
                        )
                    )
                if receiver.hold is not None:
                    receiver.hold.wait(60)
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                if receiver.fail_always or number <= receiver.fail_first:
                    self._answer(500, b"not today")
                else:
                    self._answer(204, b"")

            def _answer(self, status: int, text: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                except OSError:
                    pass  # the sender is gone (killed mid-send)

            def log_message(self, *args) -> None:
                pass

        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in list(self.received) if r.type == event_type]

    def wait_for(self, predicate, timeout: float = 15.0) -> list[Received]:
        """The received events that ``predicate`` holds for, once there are any."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [r for r in list(self.received) if predicate(r)]
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"nothing matching within {timeout} s; got {self.received}")
