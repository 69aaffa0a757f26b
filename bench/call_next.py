"""2. Call-next: 20 counters calling at once, with 100 / 10,000 / 100,000 tickets
waiting across 130 services. The queue is seeded straight into the database and
topped up between rounds, so every round sees the same number waiting.

Beside the latencies, the server's CPU per operation (utime + stime of the gunicorn
worker from /proc over the run, divided by the operations), which holds on a busy
machine where rates do not: one counter alone calling then starting (``cpu_ms``: per
call, per start, per call + start, and per one-press call with ``"start": true``), and
8 counters each pressing as fast as it can (``eight``: calls per second and CPU per
call, both ways). The 20-at-once rounds use the one-press call."""

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

from .common import summary_ms, worker_pid
from .processes import cpu_seconds

NAME = "call_next"
TITLE = "Call-next: 20 counters at once"
SERVICES = 130
COUNTERS = 20
SERVICES_PER_COUNTER = 20
SIZES = (100, 10_000, 100_000)
EIGHT = 8  # counters pressing as fast as they can, for calls per second
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
            services = list(s.scalars(select(Service).where(Service.center_id == center.id)))
            self.services = [(svc.id, svc.prefix, svc.target_wait_min) for svc in services]
            self.codes = {svc.code: row for svc, row in zip(services, self.services, strict=True)}
            self.day = business_day(center, utcnow())
        self.numbers = dict.fromkeys((p for _, p, _ in self.services), 0)
        self.rng = random.Random(6)

    def add(self, count: int, codes: list[str] | None = None) -> None:
        """``count`` more waiting, at random services (or at those of ``codes``)."""
        choices = [self.codes[code] for code in codes] if codes else self.services
        now = utcnow()
        rows = []
        for _ in range(count):
            service_id, prefix, target = self.rng.choice(choices)
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

    pid = worker_pid(server.process.pid)
    desks = [Desk(server, center.counters[str(n + 1)], tokens[n]) for n in range(COUNTERS)]
    errors: dict[str, int] = {}
    empty: list[float] = []
    lock = threading.Lock()

    def press(desk: Desk, start: bool, into: list[float] | None = None) -> None:
        status, elapsed = desk.press(start)
        with lock:
            if status == 200:
                if into is not None:
                    into.append(elapsed)
            elif status == 204:  # nobody waits for that counter: not a failure, nor a call
                empty.append(elapsed)
            else:
                errors[str(status)] = errors.get(str(status), 0) + 1

    # One counter alone first: the cost of one call, without waiting for the others in
    # the single worker and SQLite's single writer.
    solo_n = max(rounds * 4, 10)
    counters = spec()["counters"]
    own = counters[0]["services"]  # desk 0's: each call is replaced by one of them
    for desk in desks:  # each desk's first request (a new connection) is not measured
        press(desk, True)
    queue.add(COUNTERS)
    solo: list[float] = []
    call_cpu = start_cpu = 0.0
    for _ in range(solo_n):
        before = cpu_seconds([pid])
        status, elapsed = desks[0].call(start=False)
        called = cpu_seconds([pid])
        desks[0].start_called()
        call_cpu += called - before
        start_cpu += cpu_seconds([pid]) - called
        if status == 200:
            solo.append(elapsed)
        queue.add(1, own)
    one_press_cpu = 0.0
    for _ in range(solo_n):
        before = cpu_seconds([pid])
        press(desks[0], True)
        one_press_cpu += cpu_seconds([pid]) - before
        queue.add(1, own)

    # The 8 desks' services get as many more as the desks will call.
    theirs = sorted({code for counter in counters[:EIGHT] for code in counter["services"]})
    eight = {}
    for mode in ("two_step", "one_press"):
        queue.add(EIGHT * rounds, theirs)
        eight[mode] = _eight(desks[:EIGHT], pid, rounds, mode == "one_press", press)

    # 20 counters pressing at the same instant (one-press: call and start).
    latencies: list[float] = []
    for _ in range(rounds):
        barrier = threading.Barrier(COUNTERS)

        def at_once(desk: Desk, barrier: threading.Barrier) -> None:
            barrier.wait()
            press(desk, True, latencies)

        threads = [threading.Thread(target=at_once, args=(desk, barrier)) for desk in desks]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        queue.add(COUNTERS)  # top up: the same number waits for every round
    cpu_ms = {
        name: round(seconds * 1000 / solo_n, 2)
        for name, seconds in (
            ("call", call_cpu),
            ("start", start_cpu),
            ("call_start", call_cpu + start_cpu),
            ("one_press", one_press_cpu),
        )
    }
    return {
        "waiting": waiting,
        "seed_s": round(seed_s, 2),
        "errors": errors,
        **summary_ms(latencies),
        "nobody_waiting": len(empty),
        "solo": summary_ms(solo),
        "cpu_ms": cpu_ms,
        "eight": eight,
    }


class Desk:
    """One counter's workstation: a keep-alive session and its clerk's token."""

    def __init__(self, server, counter_id: int, token: str) -> None:
        self.session = requests.Session()
        self.base = f"{server.url}/api/v1"
        self.counter_id = counter_id
        self.headers = {"Authorization": f"Bearer {token}"}
        self.ticket_id: int | None = None  # called, not started yet

    def call(self, *, start: bool) -> tuple[int, float]:
        body = {"start": True} if start else None
        t0 = time.perf_counter()
        r = self.session.post(
            f"{self.base}/counters/{self.counter_id}/call-next",
            json=body,
            headers=self.headers,
            timeout=60,
        )
        elapsed = time.perf_counter() - t0
        self.ticket_id = r.json()["id"] if r.status_code == 200 and not start else None
        return r.status_code, elapsed

    def start_called(self) -> None:
        """Start the ticket just called, so that the next call-next finishes it."""
        if self.ticket_id is not None:
            self.session.post(
                f"{self.base}/tickets/{self.ticket_id}/start", headers=self.headers, timeout=60
            )
            self.ticket_id = None

    def press(self, start: bool) -> tuple[int, float]:
        """What the clerk does for one visitor: call and start, in one request or two."""
        status, elapsed = self.call(start=start)
        self.start_called()
        return status, elapsed


def _eight(desks: list[Desk], pid: int, rounds: int, one_press: bool, press) -> dict:
    """Each desk calls (and starts) ``rounds`` visitors as fast as it can."""
    before, t0 = cpu_seconds([pid]), time.perf_counter()

    def desk_loop(desk: Desk) -> None:
        for _ in range(rounds):
            press(desk, one_press)

    threads = [threading.Thread(target=desk_loop, args=(desk,)) for desk in desks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    calls = len(desks) * rounds
    seconds, cpu = time.perf_counter() - t0, cpu_seconds([pid]) - before
    return {
        "calls": calls,
        "calls_per_s": round(calls / seconds, 1),
        "cpu_ms_per_call": round(cpu * 1000 / calls, 2),
    }
