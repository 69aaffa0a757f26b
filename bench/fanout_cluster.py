"""Fan-out across processes: ~10,000 live clients over several ``novbe serve`` processes
(PostgreSQL + Redis, as docs/deploy.md), one call, its delivery timed to every client.

``python -m bench.fanout_cluster [--processes 3] [--displays 5000] [--phones 5000]``
prints one JSON object.

* Displays (a display's device token) are in the center's room: each must get the
  call's ``ticket.called``; the target is p99 <= 250 ms after the call-next response.
* Phones follow the center's waiting tickets (``--tickets`` of them, several phones per
  ticket, as a family does): the call moves every one of their places, so each must get
  its ``ticket.updated``. Positions are coalesced per process (``REALTIME_STATS_INTERVAL``),
  so theirs is reported apart.

Clients connect straight to the processes, spread evenly (as nginx's least_conn does),
from many loopback addresses (the per-address caps), in several load-generator
processes; the load generators' own CPU is reported beside the servers'.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from server import queue
from server.models import Center
from tests import factories
from tests.live import LiveServer, postgres_database, start_live_server

from .common import percentile, rss_mb, worker_pid
from .swarm import Swarm

POSTGRES_URL = os.environ.get(
    "NOVBE_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("NOVBE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
# Loopback addresses per load generator: the per-address caps (server/connections/)
# must see a center's worth of clients each, not thousands.
SOURCES_PER_SWARM = 20


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def issue_waiting(server: LiveServer, code: str, count: int) -> list[str]:
    """``count`` waiting tickets in the center, straight through the engine; their
    tracking tokens in call order."""
    tokens = []
    with server.db.write() as s:
        center = s.scalar(select(Center).where(Center.code == code))
        kiosk = factories.kiosk_actor(s, center)
        for _ in range(count):
            issued = queue.issue_ticket(s, code, "pension-new", "az", None, kiosk)
            tokens.append(issued.ticket.tracking_token)
    return tokens


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def spread(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def start_swarms(servers, center, phones_auth, displays, phones, per_kind, rate) -> list[tuple]:
    """(kind, Swarm) per load generator, each on one process, round robin, each
    starting ``rate`` clients a second."""
    swarms, base = [], 2
    plan = [("display", n) for n in spread(displays, per_kind)]
    plan += [("phone", n) for n in spread(phones, per_kind)]
    for i, (kind, count) in enumerate(plan):
        if not count:
            continue
        url = servers[i % len(servers)].url
        if kind == "display":
            swarm = Swarm(url, center.display_token, count, "ticket.called", 120,
                          sources=SOURCES_PER_SWARM, source_base=base,
                          connect_rate=rate)  # fmt: skip
        else:
            swarm = Swarm(url, None, count, "ticket.updated", 120, auth=phones_auth,
                          sources=SOURCES_PER_SWARM, source_base=base,
                          connect_rate=rate)  # fmt: skip
        base += SOURCES_PER_SWARM
        swarms.append((kind, swarm))
    return swarms


def ms(values: list[float]) -> dict:
    def r(v):
        return None if v is None else round(v, 1)

    return {
        "n": len(values),
        "p50_ms": r(percentile(values, 50)),
        "p99_ms": r(percentile(values, 99)),
        "max_ms": r(max(values, default=None)),
    }


def run(
    processes: int, displays: int, phones: int, tickets: int, per_kind: int, rate: float
) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="novbe-fanout-"))
    env = {"NOVBE_MESSAGE_CHANNEL": f"novbe-fanout-{os.getpid()}-{secrets.token_hex(3)}"}
    servers: list[LiveServer] = []
    swarms: list[tuple] = []
    try:
        with postgres_database(POSTGRES_URL) as url:
            for i in range(processes):
                home = tmp / f"p{i + 1}"
                home.mkdir()
                servers.append(start_live_server(home, url, REDIS_URL, env=env))
            center = servers[0].new_center()
            waiting = issue_waiting(servers[0], center.code, tickets + 1)
            # Phones follow the tickets behind the first, which the call takes.
            phones_auth = [{"ticket": token} for token in waiting[1:]]
            workers = [worker_pid(s.process.pid) for s in servers]
            rss_before = [rss_mb(pid) for pid in workers]
            started = time.monotonic()
            swarms = start_swarms(servers, center, phones_auth, displays, phones, per_kind, rate)
            connected = {"display": 0, "phone": 0}
            for kind, swarm in swarms:
                connected[kind] += swarm.ready()
                progress(f"{kind}s ready: {connected}, {time.monotonic() - started:.0f} s")
            connect_s = time.monotonic() - started
            time.sleep(2)  # let the last snapshots go out and the workers settle
            rss_with = [rss_mb(pid) for pid in workers]
            cpu_before = [cpu_s(pid) for pid in workers]
            swarm_cpu_before = sum(cpu_s(s.process.pid) for _, s in swarms)
            progress("calling")
            sent = time.time()
            servers[0].call_next(center, "1")
            answered = time.time()
            progress(f"called in {(answered - sent) * 1000:.0f} ms")
            results, swarm_cpu = [], -swarm_cpu_before
            for kind, swarm in swarms:
                # Its CPU as it reports, before it closes its clients and exits.
                results.append((kind, json.loads(swarm.process.stdout.readline())))
                swarm_cpu += cpu_s(swarm.process.pid)
            cpu_after = [cpu_s(pid) for pid in workers]
    finally:
        for _, swarm in swarms:
            swarm.stop()
        for server in servers:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    delivered = {"display": [], "phone": []}
    errors: list[str] = []
    from_request: list[float] = []
    for kind, result in results:
        delivered[kind] += [(t - answered) * 1000 for t in result["received_at"]]
        if kind == "display":
            from_request += [(t - sent) * 1000 for t in result["received_at"]]
        errors += result["errors"]
    clients = displays + phones
    per_process = [
        {
            "rss_before_mb": round(before, 1),
            "rss_mb": round(after, 1),
            "fanout_cpu_ms": round((c1 - c0) * 1000, 1),
        }
        for before, after, c0, c1 in zip(rss_before, rss_with, cpu_before, cpu_after, strict=True)
    ]
    added_kb = sum(a - b for a, b in zip(rss_with, rss_before, strict=True)) * 1024
    return {
        "processes": processes,
        "clients": clients,
        "connected": connected,
        "connect_s": round(connect_s, 1),
        "call_next_ms": round((answered - sent) * 1000, 1),
        "displays": {
            **ms(delivered["display"]),
            "missed": displays - len(delivered["display"]),
            # From the call-next request: the response itself waits behind the fan-out.
            "from_request_p99_ms": ms(from_request)["p99_ms"],
        },
        "phones": {
            **ms(delivered["phone"]),
            "missed": phones - len(delivered["phone"]),
            "tickets": tickets,
        },
        "per_process": per_process,
        "rss_per_connection_kb": round(added_kb / max(1, sum(connected.values())), 1),
        "load_generators": len(swarms),
        "load_generator_cpu_ms": round(swarm_cpu * 1000, 1),
        "errors": sorted(set(errors))[:5],
    }


def main() -> None:
    # A time-out's SIGTERM still stops the servers and drops the schema (finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--displays", type=int, default=5000)
    parser.add_argument("--phones", type=int, default=5000)
    parser.add_argument("--tickets", type=int, default=500, help="tickets the phones follow")
    parser.add_argument("--swarms", type=int, default=3, help="load generators per kind")
    # All at once, the servers' database pools (30 connections each) run dry: clients
    # connect at a pace, as after a morning's opening, not as after a restart.
    parser.add_argument("--rate", type=float, default=40, help="connects per second per swarm")
    args = parser.parse_args()
    report = run(args.processes, args.displays, args.phones, args.tickets, args.swarms, args.rate)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
