"""The production server mode holds 1,000 live connections in one process, keeps
answering HTTP, and delivers a call to every one of them. No timing assertions:
how fast is measured by ``make bench``; here only that nothing hangs or is missed."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import websocket
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from .live import postgres_database, start_live_server

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 1000
pytestmark = pytest.mark.e2e


@pytest.mark.slow
def test_one_process_holds_1000_sockets_answers_http_and_reaches_every_client(
    live_server, live_center
):
    swarm = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.swarm",
            live_server.url,
            json.dumps({"token": live_center.display_token}),
            str(CLIENTS),
            "ticket.called",
            "--timeout",
            "60",
            # From four addresses: one address may hold 500 (server/connections/).
            "--sources",
            "4",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = swarm.stdout.readline().split()
        assert ready == ["READY", str(CLIENTS)], ready

        # With every socket open, the same process still serves plain HTTP and the API
        # (a thread-per-socket server would have run out of threads long before).
        catalog = live_server.api(
            "GET", f"/centers/{live_center.code}/services", live_center.kiosk_token
        )
        assert catalog.status_code == 200, catalog.text
        live_server.issue(live_center, "pension-new")
        called_at = time.time()
        ticket = live_server.call_next(live_center, "1")
        assert ticket["number"] == "A001"

        result = json.loads(swarm.stdout.readline())
        assert swarm.wait(30) == 0
    finally:
        if swarm.poll() is None:
            swarm.kill()
    assert result["errors"] == []
    assert result["received"] == CLIENTS, f"{CLIENTS - result['received']} clients missed it"
    assert min(result["received_at"]) >= called_at - 5  # the event, not a stale one


# Never skipped: without the setting, this machine's PostgreSQL (as .ci/run sets it).
POSTGRES_URL = os.environ.get(
    "NOVBE_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)


def live_visitors(server) -> int:
    """The phones the server counts on /metrics."""
    metrics = requests.get(f"{server.url}/metrics?queues=0", timeout=10).text
    [line] = [
        m for m in metrics.splitlines() if m.startswith('novbe_live_connections{kind="visitor"}')
    ]
    return int(float(line.rsplit(" ", 1)[1]))


@pytest.mark.slow
def test_a_phone_that_leaves_while_its_connect_waits_is_not_kept(tmp_path):
    """python-socketio never calls the disconnect handler of a connection still in its
    connect handler; Engine.IO drops a connection that has not answered pings for its
    ping timeout (20 s). A connect held up that long (here by a lock on the tickets, in
    real life by a database too busy to lend a connection) must not leave its phone
    registered once the client is gone."""
    with postgres_database(POSTGRES_URL) as url:
        server = start_live_server(tmp_path, url)
        blocker = create_engine(url, poolclass=NullPool)
        try:
            center = server.new_center()
            token = server.issue(center, "pension-new")["tracking_token"]
            with blocker.connect() as lock:
                lock.execute(text("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE"))
                ws = websocket.create_connection(
                    server.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
                )
                ws.recv()  # Engine.IO open
                ws.send(f"40/live,{json.dumps({'ticket': token})}")
                # The connect now waits on the lock; the client neither answers pings nor
                # hears anything until Engine.IO gives it up and closes the connection.
                ws.settimeout(90)
                with contextlib.suppress(websocket.WebSocketException, OSError):
                    while ws.recv():
                        pass
                lock.rollback()  # the connect goes on, for a connection already gone
            deadline = time.monotonic() + 10
            while live_visitors(server) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert live_visitors(server) == 0
            # And a phone that stays is counted, so the figure above can be 1.
            phone = websocket.create_connection(
                server.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
            )
            phone.recv()
            phone.send(f"40/live,{json.dumps({'ticket': token})}")
            assert "snapshot" in phone.recv()
            assert live_visitors(server) == 1
            phone.close()
        finally:
            blocker.dispose()
            server.stop()
