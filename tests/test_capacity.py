"""The production server mode holds 1,000 live connections in one process, keeps
answering HTTP, and delivers a call to every one of them. No timing assertions:
how fast is measured by ``make bench``; here only that nothing hangs or is missed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
