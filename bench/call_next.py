"""2. Call-next: 20 counters calling at once, with 100 / 10,000 / 100,000 tickets
waiting across 130 services. The queue is seeded straight into the database and
topped up between rounds, so every round sees the same number waiting."""

from __future__ import annotations

import itertools
import random
import string
import threading
import time
from datetime import timedelta

import requests
from sqlalchemy import insert, select

from server.auth import create_staff, issue_staff_token
from server.models import Center, Service, Ticket, utcnow
from server.queue.issuing import new_tracking_token
from server.queue.numbering import business_day
from tests import factories

from .common import summary_ms

NAME = "call_next"
TITLE = "Call-next: 20 counters at once"
SERVICES = 130
COUNTERS = 20
SERVICES_PER_COUNTER = 20
SIZES = (100, 10_000, 100_000)
_centers = itertools.count(1)


def prefixes() -> list[str]:
    letters = string.ascii_uppercase
    return [a + b for a in letters for b in letters][:SERVICES]


def spec() -> dict:
    codes = [f"svc-{i:03d}" for i in range(SERVICES)]
    categories = [
        {
            "code": f"cat-{k}",
            "name": factories.names(f"Category {k}"),
            "services": [
                {
                    "code": codes[i],
                    "prefix": prefix,
                    "target_wait_min": 5 + i % 4 * 5,
                    "name": factories.names(f"Service {i}"),
                }
                for i, prefix in enumerate(prefixes())
                if i % 10 == k
            ],
        }
        for k in range(10)
    ]
    step = SERVICES // COUNTERS  # overlapping windows: every service has counters
    counters = [
        {
            "label": str(n + 1),
            "services": [codes[(n * step + j) % SERVICES] for j in range(SERVICES_PER_COUNTER)],
        }
        for n in range(COUNTERS)
    ]
    return {"categories": categories, "counters": counters}


class Queue:
    """Waiting tickets written directly, as if issued over the last hours."""

    def __init__(self, server, code: str) -> None:
        self.db = server.db
        with self.db.read() as s:
            center = s.scalar(select(Center).where(Center.code == code))
            self.center_id = center.id
            self.services = [
                (svc.id, svc.prefix, svc.target_wait_min)
                for svc in s.scalars(select(Service).where(Service.center_id == center.id))
            ]
            self.day = business_day(center, utcnow())
        self.numbers = dict.fromkeys((p for _, p, _ in self.services), 0)
        self.rng = random.Random(6)

    def add(self, count: int) -> None:
        now = utcnow()
        rows = []
        for _ in range(count):
            service_id, prefix, target = self.rng.choice(self.services)
            self.numbers[prefix] += 1
            since = now - timedelta(seconds=self.rng.uniform(0, 4 * 3600))
            priority = "elderly" if self.rng.random() < 0.05 else None
            rows.append(
                {
                    "center_id": self.center_id,
                    "service_id": service_id,
                    "business_day": self.day,
                    "prefix": prefix,
                    "number": self.numbers[prefix],
                    "status": "waiting",
                    "priority": priority,
                    "language": "az",
                    "tracking_token": new_tracking_token(),
                    "lane": 1 if priority else 2,
                    "waiting_since": since,
                    "due_at": since + timedelta(minutes=target),
                    "issued_at": since,
                }
            )
        with self.db.write() as s:
            for start in range(0, len(rows), 5000):
                s.execute(insert(Ticket), rows[start : start + 5000])


def run(ctx) -> dict:
    sizes = (100, 1000) if ctx.smoke else SIZES
    rounds = 2 if ctx.smoke else 25
    return {
        "services": SERVICES,
        "counters": COUNTERS,
        "rounds": rounds,
        "sizes": [_measure(ctx.server, size, rounds) for size in sizes],
    }


def _measure(server, waiting: int, rounds: int) -> dict:
    center = server.new_center(**spec())
    with server.db.write() as s:
        c = s.scalar(select(Center).where(Center.code == center.code))
        tokens = []
        for n in range(COUNTERS):
            user = create_staff(s, f"{center.code}-desk-{n}", factories.PASSWORD, "staff", c.code)
            tokens.append(issue_staff_token(s, user, hours=2)[0])
    queue = Queue(server, center.code)
    seeded = time.monotonic()
    queue.add(waiting)
    seed_s = time.monotonic() - seeded

    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(COUNTERS)
    sessions = [requests.Session() for _ in range(COUNTERS)]

    solo: list[float] = []

    def desk(n: int, into: list[float] | None = None) -> None:
        counter_id = center.counters[str(n + 1)]
        headers = {"Authorization": f"Bearer {tokens[n]}"}
        base = f"{server.url}/api/v1"
        if into is None:
            barrier.wait()
        t0 = time.perf_counter()
        r = sessions[n].post(f"{base}/counters/{counter_id}/call-next", headers=headers, timeout=30)
        elapsed = time.perf_counter() - t0
        with lock:
            if r.status_code == 200:
                (latencies if into is None else into).append(elapsed)
            else:
                errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
        if r.status_code == 200:  # start serving, so the next call-next finishes it
            ticket_id = r.json()["id"]
            sessions[n].post(f"{base}/tickets/{ticket_id}/start", headers=headers, timeout=30)

    # One counter alone first: the cost of one call-next, without waiting for the
    # other 19 in the single worker and SQLite's single writer.
    for _ in range(rounds):
        desk(0, solo)
        queue.add(1)
    for _ in range(rounds):
        threads = [threading.Thread(target=desk, args=(n,)) for n in range(COUNTERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        queue.add(COUNTERS)  # top up: the same number waits for every round
    return {
        "waiting": waiting,
        "seed_s": round(seed_s, 2),
        "errors": errors,
        **summary_ms(latencies),
        "solo": summary_ms(solo),
    }
