"""7. Durability: what SQLite's ``synchronous=FULL`` (the default) costs against NORMAL.

Issues tickets one write transaction at a time through the queue engine, in this
process, on a database file in the run's temporary folder (the same disk an
installation's instance folder would be on). Reports the commit latency and the CPU
per ticket for each mode: FULL adds an fsync of the WAL to every commit, which costs
waiting, not CPU.
"""

from __future__ import annotations

import time

from server.db import Database
from server.migrate import upgrade
from server.queue import issue_ticket
from tests import factories

from .common import percentile

NAME = "durability"
TITLE = "Durability: SQLite synchronous FULL against NORMAL"
MODES = ("NORMAL", "FULL")


def issue_many(url: str, synchronous: str, tickets: int) -> dict:
    db = Database()
    db.connect(url, sqlite_synchronous=synchronous)
    upgrade(db.engine)
    with db.write() as s:
        center = factories.make_center(s, f"dur-{synchronous.lower()}")
        actor = factories.kiosk_actor(s, center)
        code = center.code
    latencies: list[float] = []
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    for i in range(tickets):
        t0 = time.perf_counter()
        with db.write() as s:
            issue_ticket(s, code, ("pension-new", "job-seeker")[i % 2], "az", None, actor)
        latencies.append((time.perf_counter() - t0) * 1000)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    db.dispose()
    return {
        "synchronous": synchronous,
        "tickets": tickets,
        "per_s": round(tickets / wall, 1),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "cpu_ms_per_ticket": round(cpu / tickets * 1000, 2),
    }


def run(ctx) -> dict:
    tickets = 50 if ctx.smoke else 2000
    modes = [issue_many(f"sqlite:///{ctx.tmp / f'durability-{m}.db'}", m, tickets) for m in MODES]
    return {"modes": modes}


if __name__ == "__main__":  # the scenario alone, without a server: python -m bench.durability
    import json
    import tempfile
    from pathlib import Path

    from .common import Context

    with tempfile.TemporaryDirectory(prefix="novbe-durability-") as tmp:
        print(json.dumps(run(Context(None, False, Path(tmp), Path(tmp), "")), indent=2))
