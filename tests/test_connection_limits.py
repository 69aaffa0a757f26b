"""What one client may hold (server/connections/, server/realtime/admission.py),
against a real ``novbe serve`` started with small limits so the tests are quick.

Clients speak from chosen loopback addresses (127.0.0.x), so "another address" is a
real other TCP address. No timing assertions: each test waits for an outcome (a
refusal, an answer, a closed connection) with a generous bound.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
import websocket

from .live import LiveServer, postgres_database, start_live_server

NAMESPACE = "/live"
PUBLIC_PER_ADDRESS = 3
REQUESTS_PER_ADDRESS = 4
BODY_TIMEOUT_S = 3
JOIN_TIMEOUT_S = 2
SOCKETS_PER_ADDRESS = 8
LIMITS = {
    "NOVBE_MAX_SOCKETS_PER_CLIENT": str(SOCKETS_PER_ADDRESS),
    "NOVBE_PUBLIC_STATS_INTERVAL_S": "2",
    "NOVBE_MAX_PUBLIC_SOCKETS_PER_CLIENT": str(PUBLIC_PER_ADDRESS),
    "NOVBE_MAX_REQUESTS_PER_CLIENT": str(REQUESTS_PER_ADDRESS),
    "NOVBE_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
    "NOVBE_SOCKET_JOIN_TIMEOUT_S": str(JOIN_TIMEOUT_S),
}
WAIT_S = 30  # the longest any outcome is waited for


POSTGRES_URL = os.environ.get("NOVBE_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


def _serve(tmp_path_factory, name: str, backend: str, **env: str) -> Iterator[LiveServer]:
    with contextlib.ExitStack() as stack:
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        for key, value in {**LIMITS, **env}.items():
            patch.setenv(key, value)
        database_url = None
        if backend == "postgresql":
            database_url = stack.enter_context(postgres_database(POSTGRES_URL))
        server = start_live_server(tmp_path_factory.mktemp(name), database_url)
        patch.undo()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory):
    yield from _serve(tmp_path_factory, "limits", request.param, NOVBE_TRUSTED_PROXIES="0")


@pytest.fixture(scope="module")
def proxied_server(tmp_path_factory):
    yield from _serve(tmp_path_factory, "limits-proxied", "sqlite", NOVBE_TRUSTED_PROXIES="1")


# ---- clients from a chosen address ---------------------------------------------------


def connect_from(url: str, source: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), WAIT_S, (source, 0))
    return sock


class Live:
    """One Socket.IO client over a WebSocket from ``source``."""

    def __init__(self, url: str, source: str) -> None:
        ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(
            ws_url, timeout=WAIT_S, socket=connect_from(url, source)
        )
        assert self.ws.recv().startswith("0")  # Engine.IO open
        self.events: list[tuple[str, dict]] = []

    def join(self, auth: dict) -> str:
        """Send the /live connect; the server's answer: "connected" or its refusal."""
        self.ws.send(f"40{NAMESPACE},{json.dumps(auth)}")
        while True:
            packet = self._next()
            if packet.startswith(f"40{NAMESPACE},"):
                return "connected"
            if packet.startswith(f"44{NAMESPACE},"):
                return json.loads(packet[len(NAMESPACE) + 3 :])["message"]

    def wait_for(self, name: str, found) -> dict:
        """The first ``name`` event (received already or to come) whose data ``found``."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            for event, data in self.events:
                if event == name and found(data):
                    return data
            self._next()
        raise AssertionError(f"no {name} as expected within {WAIT_S} s: {self.events}")

    def _next(self) -> str:
        """The next packet; pings answered, events kept in ``events``."""
        packet = self.ws.recv()
        if packet == "2":
            self.ws.send("3")
        elif packet.startswith(f"42{NAMESPACE},"):
            self.events.append(tuple(json.loads(packet[len(NAMESPACE) + 3 :])[:2]))
        return packet

    def closed_by_server(self) -> bool:
        """Wait for the server to end the connection (answering its pings meanwhile)."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                packet = self.ws.recv()
            except (websocket.WebSocketConnectionClosedException, ConnectionError):
                return True
            if packet == "":  # a close frame
                return True
            if packet == "2":
                self.ws.send("3")
        return False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()


@pytest.fixture
def live_clients() -> Iterator[list[Live]]:
    clients: list[Live] = []
    yield clients
    for client in clients:
        client.close()


def open_live(clients: list[Live], server: LiveServer, source: str) -> Live:
    client = Live(server.url, source)
    clients.append(client)
    return client


def slow_post(url: str, source: str, headers: dict[str, str] | None = None) -> socket.socket:
    """A login POST whose body is announced but only its first byte is sent."""
    body = json.dumps({"username": "someone", "password": "wrong"}).encode()
    sock = connect_from(url, source)
    lines = [
        "POST /api/v1/auth/token HTTP/1.1",
        f"Host: {urlsplit(url).netloc}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body[:1])
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    deadline = time.monotonic() + WAIT_S
    with contextlib.suppress(OSError):
        while time.monotonic() < deadline and (data := sock.recv(65536)):
            received += data
    return received


def get_from(url: str, source: str, headers: dict[str, str] | None = None) -> requests.Response:
    """GET ``url`` over a connection from ``source`` (requests cannot choose it)."""
    parts = urlsplit(url)
    sock = connect_from(url, source)
    lines = [f"GET {parts.path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    raw = read_until_closed(sock)
    sock.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    response = requests.Response()
    response.status_code = int(head.split()[1])
    response._content = body
    return response


def refused_while_held(url: str, source: str, holders: list[socket.socket], **kw) -> bool:
    """Whether a GET from ``source`` is refused with 429 while ``holders`` are in
    flight (they are cut at the body deadline, so the window is a few seconds; a
    refusal is looked for until then)."""
    deadline = time.monotonic() + BODY_TIMEOUT_S
    while time.monotonic() < deadline:
        response = get_from(url, source, **kw)
        if response.status_code == 429:
            error = response.json()["error"]
            assert error["code"] == "too_many_requests", error
            return True
        time.sleep(0.1)
    return False


# ---- live connections without a credential ---------------------------------------------


def test_public_sockets_are_capped_per_address_and_given_back(server, live_clients):
    center = server.new_center()
    public = {"public": center.code}
    held = [open_live(live_clients, server, "127.0.0.2") for _ in range(PUBLIC_PER_ADDRESS)]
    assert [client.join(public) for client in held] == ["connected"] * PUBLIC_PER_ADDRESS

    one_more = open_live(live_clients, server, "127.0.0.2")
    refusal = one_more.join(public)
    assert "too many live connections from your address" in refusal
    one_more.close()
    # A visitor's phone needs no staff credential either: the same cap.
    ticket = server.issue(center, "pension-new")
    phone = open_live(live_clients, server, "127.0.0.2")
    assert "too many" in phone.join({"ticket": ticket["tracking_token"]})
    phone.close()

    # Another address has its own places.
    assert open_live(live_clients, server, "127.0.0.3").join(public) == "connected"

    # A place is given back when its connection ends.
    held[0].close()
    deadline = time.monotonic() + WAIT_S
    outcome = ""
    while outcome != "connected" and time.monotonic() < deadline:
        attempt = open_live(live_clients, server, "127.0.0.2")
        outcome = attempt.join(public)
        if outcome != "connected":
            attempt.close()
    assert outcome == "connected"


def test_screens_and_staff_connect_while_the_public_places_of_their_address_are_taken(
    server, live_clients
):
    center = server.new_center()
    for _ in range(PUBLIC_PER_ADDRESS):
        assert open_live(live_clients, server, "127.0.0.4").join({"public": center.code}) == (
            "connected"
        )
    assert "too many" in open_live(live_clients, server, "127.0.0.4").join({"public": center.code})

    display = open_live(live_clients, server, "127.0.0.4")
    assert display.join({"token": center.display_token}) == "connected"
    staff = open_live(live_clients, server, "127.0.0.4")
    assert staff.join({"token": center.staff_token, "counter": center.counters["1"]}) == (
        "connected"
    )


def test_a_connection_that_never_joins_or_is_refused_is_closed(server, live_clients):
    silent = open_live(live_clients, server, "127.0.0.5")
    refused = open_live(live_clients, server, "127.0.0.5")
    assert refused.join({"token": "dv_not-a-token"}) != "connected"
    assert silent.closed_by_server()
    assert refused.closed_by_server()


def test_websockets_are_capped_per_address_before_the_handshake(server, live_clients):
    for _ in range(SOCKETS_PER_ADDRESS):
        open_live(live_clients, server, "127.0.0.12")  # open, not yet joined
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        open_live(live_clients, server, "127.0.0.12")
    assert refused.value.status_code == 429
    assert open_live(live_clients, server, "127.0.0.13").ws.connected  # another address


def test_a_websocket_is_offered_no_compression(server):
    """permessage-deflate would hold ~300 KB of zlib state per connection."""
    parts = urlsplit(server.url)
    sock = connect_from(server.url, "127.0.0.14")
    sock.sendall(
        (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    sock.close()
    assert head.startswith(b"HTTP/1.1 101"), head
    assert b"sec-websocket-extensions" not in head.lower(), head


def test_the_public_page_gets_fresh_figures_at_connect_and_the_last_change_pushed(
    server, live_clients
):
    center = server.new_center()
    watcher = open_live(live_clients, server, "127.0.0.15")
    assert watcher.join({"public": center.code}) == "connected"
    assert waiting(watcher.wait_for("snapshot", lambda data: True)) == 0

    for _ in range(3):  # changes in a row, quicker than the public pace
        server.issue(center, "pension-new")
    # A connect after a change sees it (the shared snapshot is dropped at each change)...
    late = open_live(live_clients, server, "127.0.0.15")
    assert late.join({"public": center.code}) == "connected"
    assert waiting(late.wait_for("snapshot", lambda data: True)) == 3
    # ... and the one connected before gets the last figures, however paced.
    watcher.wait_for("public.stats", lambda data: waiting(data) == 3)


def waiting(figures: dict) -> int:
    return sum(row["waiting"] for row in figures["services"])


# ---- HTTP requests ------------------------------------------------------------------------


def test_a_slow_body_is_cut_off_with_408(server):
    sock = slow_post(server.url, "127.0.0.6")
    answer = read_until_closed(sock)  # returns once the server has closed the connection
    sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:200]
    assert json.loads(body)["error"]["code"] == "request_timeout"


def test_requests_in_flight_are_capped_per_address(server):
    holders = [slow_post(server.url, "127.0.0.7") for _ in range(REQUESTS_PER_ADDRESS)]
    try:
        assert refused_while_held(f"{server.url}/healthz", "127.0.0.7", holders)
        # Meanwhile another address is served.
        assert get_from(f"{server.url}/healthz", "127.0.0.8").status_code == 200
    finally:
        answers = [read_until_closed(sock) for sock in holders]
        for sock in holders:
            sock.close()
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in answers)
    # Cut off, they gave their places back.
    assert get_from(f"{server.url}/healthz", "127.0.0.7").status_code == 200


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(server):
    holders = [
        slow_post(server.url, "127.0.0.9", {"X-Forwarded-For": f"10.0.0.{n}"})
        for n in range(REQUESTS_PER_ADDRESS)
    ]
    try:
        # Claiming to be yet another client does not get round the cap.
        assert refused_while_held(
            f"{server.url}/healthz",
            "127.0.0.9",
            holders,
            headers={"X-Forwarded-For": "10.0.0.99"},
        )
    finally:
        for sock in holders:
            read_until_closed(sock)
            sock.close()


def test_x_forwarded_for_names_the_client_behind_a_trusted_proxy(proxied_server):
    url = proxied_server.url
    holders = [
        slow_post(url, "127.0.0.10", {"X-Forwarded-For": "10.0.0.1"})
        for _ in range(REQUESTS_PER_ADDRESS)
    ]
    try:
        # Through the same proxy address, another client is served...
        other = get_from(f"{url}/healthz", "127.0.0.10", {"X-Forwarded-For": "10.0.0.2"})
        assert other.status_code == 200
        # ... and the client the proxy named is held to its cap.
        assert refused_while_held(
            f"{url}/healthz", "127.0.0.10", holders, headers={"X-Forwarded-For": "10.0.0.1"}
        )
    finally:
        for sock in holders:
            read_until_closed(sock)
            sock.close()


def test_an_ipv6_client_is_its_slash_64_and_a_mapped_ipv4_address_is_itself():
    from server.connections import client_key

    def key(address: str) -> str:
        return client_key({"REMOTE_ADDR": address})

    assert key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff:ffff:ffff:ffff")
    assert key("2001:db8:1:2::1") != key("2001:db8:1:3::1")
    assert key("::ffff:192.0.2.7") == key("192.0.2.7") == "192.0.2.7"
    assert key("192.0.2.7") != key("192.0.2.8")
