"""9. A ticket's cost against the size of the network: the same tickets, issued at the
services of one center or spread over every center of a network of 66, on one process
(SQLite). A ticket touches one center, so its server CPU should not depend on how many
centers the installation has; before issue 13 it was 2.7 times higher with 66 (the live
figures were recomputed per center from the ORM's objects, and every served visitor
anywhere dropped every center's cached loads).

Each setup is a fresh ``novbe serve`` (tests/live.py) with its centers as
bench/day_plan.py builds them (40 services, 20 counters, all open), a display connected
to every center (the centers are watched, as in real life: their figures are computed
and sent), and ``CLIENTS`` keep-alive clients issuing ``TICKETS`` tickets at random
services, closed loop. The figure to read is the worker's CPU per ticket (utime+stime
from /proc over the run); the rate and p99 swing with the machine's other load.
"""

from __future__ import annotations

import random
import threading
import time

import requests

from tests.cluster import LiveClient
from tests.live import LiveServer, start_live_server

from . import day_plan
from .common import percentile, worker_pid
from .processes import cpu_seconds

NAME = "centers"
TITLE = "A ticket's CPU against the network's size: 1 center or 66"
SIZES = (1, 66)
TICKETS, SMOKE_TICKETS = 2000, 60
CLIENTS = 8
WARM_UP = 100  # tickets before measuring: connections, caches, first pages


def run(ctx) -> dict:
    tickets = SMOKE_TICKETS if ctx.smoke else TICKETS
    sizes = (1, 3) if ctx.smoke else SIZES
    steps = []
    for size in sizes:
        tmp = ctx.tmp / f"centers-{size}"
        tmp.mkdir()
        server = start_live_server(tmp)
        try:
            steps.append(_measure(server, size, tickets))
        finally:
            server.stop()
    first, last = steps[0]["cpu_ms_per_ticket"], steps[-1]["cpu_ms_per_ticket"]
    return {
        "tickets": tickets,
        "clients": CLIENTS,
        "steps": steps,
        "cpu_ratio": round(last / first, 2) if first else None,
    }


def _measure(server: LiveServer, size: int, tickets: int) -> dict:
    spec = day_plan.center_spec("Asia/Baku", 1)
    services = [s["code"] for category in spec["categories"] for s in category["services"]]
    centers = [server.new_center(**spec) for _ in range(size)]
    for center in centers:
        for label in center.counters:
            server.set_counter_state(center, label, "open")
    # Watched, as in real life: each center's figures are computed and sent.
    displays = [LiveClient(server.url, {"token": center.display_token}) for center in centers]
    try:
        for display in displays:
            display.wait("snapshot", timeout=30)
        rng = random.Random(13)
        plan = [(rng.choice(centers), rng.choice(services)) for _ in range(WARM_UP + tickets)]
        _issue(server, plan[:WARM_UP])
        worker = worker_pid(server.process.pid)
        assert worker is not None, "no gunicorn worker"
        cpu_before, started = cpu_seconds([worker]), time.monotonic()
        latencies = _issue(server, plan[WARM_UP:])
        elapsed, cpu = time.monotonic() - started, cpu_seconds([worker]) - cpu_before
        # Each center's figures reached its display (a pass comes at most every
        # REALTIME_STATS_INTERVAL: a short run can end before the last center's).
        for display in displays:
            display.wait("queue.stats", timeout=30)
    finally:
        for display in displays:
            display.close()
    ms = [latency * 1000 for latency in latencies]
    return {
        "centers": size,
        "tickets": len(latencies),
        "per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(ms, 50), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "cpu_ms_per_ticket": round(cpu * 1000 / len(latencies), 2),
        "stats_sent": sum(len(display.named("queue.stats")) for display in displays),
    }


def _issue(server: LiveServer, plan: list) -> list[float]:
    """Issue ``plan``'s (center, service) tickets from CLIENTS keep-alive clients."""
    latencies: list[float] = []
    lock = threading.Lock()
    todo = iter(plan)

    def client() -> None:
        session = requests.Session()
        while True:
            with lock:
                item = next(todo, None)
            if item is None:
                return
            center, service = item
            began = time.perf_counter()
            response = session.post(
                f"{server.url}/api/v1/centers/{center.code}/tickets",
                json={"service": service, "language": "az"},
                headers={"Authorization": f"Bearer {center.kiosk_token}"},
                timeout=30,
            )
            took = time.perf_counter() - began
            if response.status_code != 201:
                raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
            with lock:
                latencies.append(took)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies
