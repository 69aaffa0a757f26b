"""One load-generator process of kiosks and counter desks for one step of the national
day: ``python -m bench.national_desks STEP.json RESULT.json``.

STEP.json: ``{"api", "factor", "start", "end", "seed", "centers": [...]}``, each center
``{"code", "kiosk_token", "staff_token", "rate_per_min", "services": [[code, mean_min,
cv, weight]], "counters": [[label, id]]}`` (a counter's services are the server's
business: call-next asks it). Between ``start`` and ``end`` (epoch seconds) kiosks issue
tickets as a Poisson process at ``rate_per_min`` simulated arrivals per minute, the
clock ``factor`` times faster, one greenlet per arrival (open loop: an issue's latency
counts from its due instant, so a slow server cannot slow the arrivals); every counter
is a desk calling next, then (the visitor walks up) starting and, after the service
time, completing, or recalling and marking a no-show, or transferring to another
service. After ``end`` a desk finishes its visitor at once and stops, so the next
step finds every counter free.

RESULT.json: latencies by request kind ((sent, seconds) pairs), errors by kind and status, every
call's (center, number, sent, answered) for the delivery join, counts, own CPU.
Invariant: every call recorded got a 200 with that ticket number; nothing else is.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import gevent.pool  # noqa: E402
import requests  # noqa: E402

from .day_plan import (  # noqa: E402
    LANGUAGES,
    NO_SHOW_SHARE,
    NO_SHOW_WAIT_MIN,
    PRIORITY_CLASSES,
    PRIORITY_SHARE,
    WALK_MIN,
    ServiceSpec,
    service_time,
)
from .day_sim import Connection, error_code  # noqa: E402
from .national_plan import TRANSFER_SHARE  # noqa: E402

EMPTY_RETRY_MIN = 0.5  # nobody waits for the desk's services: look again (simulated)
MIN_PAUSE_S = 0.05


class Step:
    def __init__(self, spec: dict) -> None:
        self.api = spec["api"]
        self.factor = spec["factor"]
        self.start = spec["start"]
        self.end = spec["end"]
        self.rng = random.Random(spec["seed"])
        self.latencies: dict[str, list[tuple[float, float]]] = {}  # (sent, seconds)
        self.errors: dict[str, int] = {}
        self.calls: list[tuple] = []  # (center, number, sent, answered)
        self.counts: dict[str, int] = {}
        self.issuing = gevent.pool.Group()  # the arrivals' greenlets

    # -- bookkeeping

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def post(
        self, conn: Connection, kind: str, path: str, token: str, since: float | None = None, **kw
    ) -> requests.Response | None:
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        sent = time.time()
        try:
            response = conn.post(f"{self.api}{path}", headers=headers, **kw)
        except requests.RequestException as exc:
            self.count_error(kind, type(exc).__name__)
            return None
        took = time.time() - (since if since is not None else sent)
        if response.status_code >= 300 and response.status_code != 204:
            self.count_error(kind, f"{response.status_code} {error_code(response)}".strip())
        else:
            self.latencies.setdefault(kind, []).append((sent, took))
        return response

    def count_error(self, kind: str, what: str) -> None:
        key = f"{kind} {what}"
        self.errors[key] = self.errors.get(key, 0) + 1

    def nap(self, sim_min: float) -> None:
        """A simulated wait, cut short at the step's end."""
        gevent.sleep(max(0.0, min(sim_min * 60 / self.factor, self.end - time.time())))

    # -- kiosks

    def kiosks(self, center: dict) -> None:
        """Poisson arrivals at the center's rate; each ticket issued by its own greenlet
        on a free keep-alive connection (a new one when all are busy)."""
        per_s = center["rate_per_min"] * self.factor / 60
        codes = [s[0] for s in center["services"]]
        weights = [s[3] for s in center["services"]]
        free: list[Connection] = []
        due = self.start
        while True:
            due += self.rng.expovariate(per_s)
            if due >= self.end:
                return
            gevent.sleep(max(0.0, due - time.time()))
            body = {
                "service": self.rng.choices(codes, weights)[0],
                "language": _pick(self.rng, LANGUAGES),
                "priority": (
                    _pick(self.rng, PRIORITY_CLASSES)
                    if self.rng.random() < PRIORITY_SHARE
                    else None
                ),
            }
            self.issuing.spawn(self.issue, center, body, due, free)

    def issue(self, center: dict, body: dict, due: float, free: list[Connection]) -> None:
        conn = free.pop() if free else Connection()
        try:
            response = self.post(
                conn,
                "issue",
                f"/centers/{center['code']}/tickets",
                center["kiosk_token"],
                since=due,
                json=body,
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            if response is not None and response.status_code == 201:
                self.count("issued")
        finally:
            free.append(conn)

    # -- desks

    def desk(self, center: dict, counter_id: int) -> None:
        conn = Connection()
        token = center["staff_token"]
        specs = {s[0]: ServiceSpec(s[0], s[0], 0, s[1], s[2], s[3]) for s in center["services"]}
        rng = random.Random(self.rng.random())
        # Desks are busy with visitors when the window opens: each makes its first call
        # somewhere in one service cycle, so calls come at the steady rate from the start
        # instead of all at once.
        weights = sum(s[3] for s in center["services"])
        cycle = WALK_MIN + sum(s[1] * s[3] for s in center["services"]) / weights
        self.nap(rng.uniform(0, cycle))
        while time.time() < self.end:
            sent = time.time()
            response = self.post(conn, "call_next", f"/counters/{counter_id}/call-next", token)
            if response is None or response.status_code != 200:
                if response is not None and response.status_code == 204:
                    self.count("found nobody")
                gevent.sleep(max(MIN_PAUSE_S, EMPTY_RETRY_MIN * 60 / self.factor))
                continue
            ticket = response.json()
            self.calls.append((center["code"], ticket["number"], sent, time.time()))
            self.count("called")
            self.serve(conn, center, token, ticket, specs, rng)

    def serve(self, conn, center: dict, token: str, ticket: dict, specs: dict, rng) -> None:
        path = f"/tickets/{ticket['id']}"
        self.nap(WALK_MIN)
        if rng.random() < NO_SHOW_SHARE:
            self.nap(NO_SHOW_WAIT_MIN)
            sent = time.time()
            response = self.post(conn, "recall", f"{path}/recall", token)
            if response is not None and response.status_code == 200:
                self.calls.append((center["code"], ticket["number"], sent, time.time()))
            self.nap(NO_SHOW_WAIT_MIN)
            response = self.post(conn, "no_show", f"{path}/no-show", token)
            if response is not None and response.status_code == 200:
                self.count("no_show")
            return
        response = self.post(conn, "start", f"{path}/start", token)
        if response is None or response.status_code != 200:
            return
        spec = specs.get(ticket["service"]["code"] if isinstance(ticket["service"], dict) else "")
        self.nap(service_time(rng, spec) if spec else 3.0)
        if rng.random() < TRANSFER_SHARE:
            other = rng.choice(list(specs))
            response = self.post(
                conn, "transfer", f"{path}/transfer", token, json={"service": other}
            )
            if response is not None and response.status_code == 200:
                self.count("transferred")
                return
        response = self.post(conn, "complete", f"{path}/complete", token)
        if response is not None and response.status_code == 200:
            self.count("completed")

    def run(self, centers: list[dict]) -> None:
        gevent.sleep(max(0.0, self.start - time.time()))
        jobs = [gevent.spawn(self.kiosks, c) for c in centers]
        jobs += [gevent.spawn(self.desk, c, cid) for c in centers for _, cid in c["counters"]]
        gevent.joinall(jobs)
        self.issuing.join(timeout=30)  # the last arrivals' tickets still on their way


def _pick(rng: random.Random, options) -> str:
    values, weights = zip(*options, strict=True)
    return rng.choices(values, weights)[0]


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    step = Step(spec)
    step.run(spec["centers"])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    Path(sys.argv[2]).write_text(
        json.dumps(
            {
                "latencies": step.latencies,
                "errors": step.errors,
                "calls": step.calls,
                "counts": step.counts,
                "cpu_s": usage.ru_utime + usage.ru_stime,
            }
        )
    )


if __name__ == "__main__":
    main()
