"""What several server processes must agree on, with real ``novbe serve`` processes on
PostgreSQL and this machine's Redis: a kiosk's print agent is known to every process,
and its loss with a killed process is announced once; ``novbe serve --workers 2``
serves one port with two processes that agree. The whole installation behind nginx is
tests/test_cluster.py."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import socketio

from .live import free_port, postgres_database, start_live_server

# Never skipped: without the setting, this machine's PostgreSQL (as .ci/run sets it).
POSTGRES_URL = os.environ.get(
    "NOVBE_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
REDIS_URL = "redis://127.0.0.1:6379/6"
NS = "/live"
ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,  # several server processes per test: outside the fast loop
]


class Listener:
    """A Socket.IO client that keeps what it hears."""

    def __init__(self, url: str, auth: dict) -> None:
        self.heard: list[tuple[str, object]] = []
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", lambda event, data=None: self.heard.append((event, data)), namespace=NS)
        self.sio.connect(url, auth=auth, namespaces=[NS], transports=["websocket"])

    def named(self, event: str) -> list:
        return [data for name, data in self.heard if name == event]

    def wait_for(self, event: str, predicate=lambda data: True, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [data for data in self.named(event) if predicate(data)]
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {event} within {timeout} s; heard {self.heard}")

    def close(self) -> None:
        self.sio.disconnect()


@pytest.fixture
def trio(tmp_path):
    """Three server processes of one installation."""
    channel = {"NOVBE_MESSAGE_CHANNEL": f"novbe-test-{secrets.token_hex(4)}"}
    with postgres_database(POSTGRES_URL) as url:
        servers = [
            start_live_server(tmp_path, url, message_queue=REDIS_URL, env=channel) for _ in range(3)
        ]
        yield servers
        for server in servers:
            server.stop()


PRINTER_OK = {"online": True, "paper": "ok", "cover_open": False}


def test_a_kiosk_prints_through_its_agent_on_another_process(trio):
    first, second, _ = trio
    center = first.new_center()
    agent = Listener(
        second.url, {"token": center.kiosk_token, "agent": "printer", "printer": PRINTER_OK}
    )
    try:
        ticket = first.issue(center, "pension-new")  # the kiosk's request reaches the first
        assert ticket["print"]["state"] == "pending"  # not an e-ticket: an agent is there
        [job] = agent.wait_for("ticket.print", lambda job: job["number"] == ticket["number"])
        assert job["phone_url"].endswith(ticket["tracking_token"])
    finally:
        agent.close()
    # The agent said goodbye: the first process knows at once.
    later = first.issue(center, "pension-new")
    assert later["print"]["state"] == "e_ticket"


def test_an_agent_lost_with_a_killed_process_is_announced_once(trio):
    """Both survivors sweep for the dead process's agents; managers hear it once."""
    first, second, third = trio
    center = first.new_center()
    agent = Listener(
        second.url, {"token": center.kiosk_token, "agent": "printer", "printer": PRINTER_OK}
    )
    managers = [Listener(server.url, {"token": center.manager_token}) for server in (first, third)]
    try:
        for manager in managers:
            manager.wait_for("snapshot")
        second.kill()  # no disconnect handler runs: only the heartbeat's absence tells
        for manager in managers:
            manager.wait_for(
                "alert",
                lambda alert: alert["kind"] == "printer" and alert["problem"] == "offline",
                timeout=40,
            )
            status = manager.named("printer.status")[-1]
            assert status["agent_connected"] is False and status["mode"] is None
        time.sleep(6)  # another sweep: nothing more to tell
        for manager in managers:
            offline = [a for a in manager.named("alert") if a["kind"] == "printer"]
            assert len(offline) == 1, offline
        assert first.issue(center, "pension-new")["print"]["state"] == "e_ticket"
    finally:
        for client in (*managers, agent):
            client.sio.disconnect()


def test_two_workers_on_one_port_agree(tmp_path):
    """``novbe serve --workers 2``: the kernel spreads connections over both workers;
    every phone hears its place move, whichever worker made the call."""
    port = free_port()
    with postgres_database(POSTGRES_URL) as url:
        server = start_live_server(tmp_path, url)  # migrates, and seeds through it
        center = server.new_center()
        tickets = [server.issue(center, "pension-new") for _ in range(9)]
        server.stop()
        env = dict(
            os.environ,
            NOVBE_DATABASE_URL=url,
            NOVBE_SECRET_KEY="live-test",
            NOVBE_MESSAGE_QUEUE=REDIS_URL,
            NOVBE_MESSAGE_CHANNEL=f"novbe-test-{secrets.token_hex(4)}",
        )
        log_path = tmp_path / "workers.log"
        command = [sys.executable, "-m", "server.cli", "serve", "--port", str(port)]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [*command, "--workers", "2"], stdout=log, stderr=subprocess.STDOUT, env=env
            )
        base = f"http://127.0.0.1:{port}"
        phones = []
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if requests.get(f"{base}/healthz", timeout=1).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.1)
            phones = [Listener(base, {"ticket": t["tracking_token"]}) for t in tickets[1:]]
            for phone in phones:
                phone.wait_for("snapshot")
            headers = {"Authorization": f"Bearer {center.staff_token}"}
            counter = center.counters["1"]
            call = requests.post(f"{base}/api/v1/counters/{counter}/call-next", headers=headers)
            assert call.status_code == 200, call.text
            for place, phone in enumerate(phones, start=1):
                phone.wait_for("ticket.updated", lambda body, p=place: body.get("position") == p)
            booted = log_path.read_text().count("Booting worker")
            assert booted == 2, log_path.read_text()
        finally:
            for phone in phones:
                phone.close()
            process.terminate()
            process.wait(15)

    refused = subprocess.run(
        [*command, "--workers", "2"],
        env={k: v for k, v in env.items() if k != "NOVBE_MESSAGE_QUEUE"},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert refused.returncode != 0 and "NOVBE_MESSAGE_QUEUE" in refused.stderr


def test_a_counter_closed_on_one_process_changes_estimates_on_the_other_at_once(trio):
    """Each process caches services' loads for ESTIMATE_CACHE_S (5 s); a change made on
    another process drops them at once (the cluster bus), not 5 s later."""
    first, second, _ = trio
    center = first.new_center()
    for label in ("1", "2"):
        first.set_counter_state(center, label, "open")
    tickets = [first.issue(center, "pension-new") for _ in range(6)]
    last = tickets[-1]["tracking_token"]

    def wait_on_first() -> int:
        response = first.api("GET", f"/tickets/{last}")
        assert response.status_code == 200, response.text
        return response.json()["estimated_wait_s"]

    before = wait_on_first()
    assert wait_on_first() == before  # cached now
    second.set_counter_state(center, "2", "closed")
    deadline = time.monotonic() + 1.0  # well inside the cache's 5 s
    after = wait_on_first()
    while after == before and time.monotonic() < deadline:
        time.sleep(0.05)
        after = wait_on_first()
    assert after > before  # one counter fewer for the same work
