"""10. What the fairness ledger (issue 14) costs issuance and call-next, on SQLite and on
PostgreSQL: "without slowing issuance or call-next by more than 10%".

Measured in this process, through the queue engine, without a server: the server's CPU
for an operation is this process's CPU here. Each backend gets an app of its own
(``create_app`` with the production settings; SQLite a file with ``synchronous=FULL``,
PostgreSQL a private schema, created and dropped; the realtime publisher's commit
listener set aside but for the whole requests below) and a center from
bench/day_plan.py (40 services, 20 counters). Then, in blocks that alternate with the
ledger on (as shipped) and off, so that the machine's drift hits both alike:

* issuance: one ``issue_ticket`` per ``db.write()``, at services taken in turn from the
  counters' lists (every counter keeps visitors waiting);
* call-next: one press per ``db.write()`` (``call_next(..., start=True)``), at the 20
  counters in turn; the press first completes the visitor that counter was serving, in
  the same transaction (queue/calling.py ``_prepare_counter``), as a desk's "next" does:
  3 ticket events a press (complete, call, start), 2 on a counter's first press.

"Off" replaces ``server.db.write_pending`` and the engine's ``note`` calls by no-ops in
this process only (there is no switch in the product). CPU per operation is
``time.process_time`` over a block, divided by its operations; wall p50/p99 per
operation. The ledger's cost is reported twice: on − off (what it adds, noise
included), and ``write_pending``'s own thread CPU timed inside the "on" blocks (for a
press it includes the ORM flush that the commit would otherwise run: most of it).

The same again once the day's chain holds ``GROWN`` entries (topped up through the
engine, many tickets a transaction): an append locks the head and inserts one row per
event, so the 20,001st entry should cost what the first did. And once more through the
whole app (Flask's test client: authentication, validation, JSON, the realtime
publisher; no network, no gunicorn), for the ledger's share of a whole request.

No timing is asserted anywhere; ``check`` only verifies that "on" wrote one entry per
event (a ticket: 1; a press: 2 or 3) and "off" none.
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from server import create_app
from server.extensions import db
from server.ledger import chain
from server.migrate import upgrade
from server.models import Center, Counter, LedgerEntry, LedgerHead
from server.queue import audit, call_next, issue_ticket, issuing
from server.realtime import figures
from tests import factories
from tests.live import postgres_database

from . import day_plan
from .common import percentile

server_db = importlib.import_module("server.db")  # the module (``server.db`` is the Database)

NAME = "ledger"
TITLE = "The fairness ledger's cost: issuance and call-next, with it and without"
POSTGRES_URL = os.environ.get(
    "NOVBE_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
# (rounds, operations per block): each round is one "on" block and one "off" block,
# which of the two goes first alternating from round to round.
FULL = {"fresh": (10, 200), "grown": (6, 150), "request": (6, 150)}
SMOKE = {"fresh": (1, 6), "grown": (1, 6), "request": (1, 6)}
GROWN, SMOKE_GROWN = 20_000, 200  # the day's chain before the "grown" measurements
# Operations of each kind before measuring: caches, statements, pages.
WARM_UP, SMOKE_WARM_UP = 50, 10
TOP_UP_BATCH = 200  # tickets per transaction when filling the queue or the chain


def run(ctx) -> dict:
    plan = SMOKE if ctx.smoke else FULL
    grown = SMOKE_GROWN if ctx.smoke else GROWN
    warm_up = SMOKE_WARM_UP if ctx.smoke else WARM_UP
    backends = {}
    with _app(f"sqlite:///{ctx.tmp / 'ledger.db'}", ctx.tmp) as app:
        backends["sqlite"] = measure(app, plan, grown, warm_up)
    with postgres_database(POSTGRES_URL) as url, _app(url, ctx.tmp) as app:
        backends["postgresql"] = measure(app, plan, grown, warm_up)
    return {
        "grown_entries": grown,
        "backends": backends,
        "http_reference": http_reference(ctx.results_dir, ctx.stamp),
    }


@contextmanager
def _app(url: str, tmp: Path) -> Iterator[Any]:
    """An app with the production settings on ``url``, its tables made."""
    app = create_app(
        {
            "DATABASE_URL": url,
            "SQLITE_SYNCHRONOUS": "FULL",  # as production: an fsync per commit
            "SOCKETIO_MESSAGE_QUEUE": "",
            "MAX_REQUESTS_PER_CLIENT": 100_000,  # every request comes from 127.0.0.1
            "LEDGER_KEY_FILE": str(tmp / "ledger-ed25519.pem"),
        }
    )
    upgrade(db.engine)
    try:
        yield app
    finally:
        db.dispose()


# --- one backend


class Desks:
    """The center, its kiosk and a clerk, and what each counter serves."""

    def __init__(self) -> None:
        spec = day_plan.center_spec(_noon_timezone(), 1)
        spec["hours"] = {"open": "00:00", "close": "23:59"}
        with db.write() as s:
            center = factories.make_center(s, "ledger-bench", **spec)
            self.center_id, self.code = center.id, center.code
            self.kiosk = factories.kiosk_actor(s, center)
            self.clerk = factories.make_staff(s, "ledger-bench-clerk", "staff", center.code)
            self.kiosk_token = factories.device_token(s, center, "kiosk-1")
            self.clerk_token = factories.staff_token(s, "ledger-bench-clerk")
            self.counters = list(
                s.scalars(
                    select(Counter.id).where(Counter.center_id == center.id).order_by(Counter.id)
                )
            )
        plans = dict(day_plan.counters())
        # Service i goes to counter i % 20's list in turn: every counter has its share.
        self.services = [
            plans[label][k % len(plans[label])]
            for k in range(40)
            for label in sorted(plans, key=int)
        ]
        self.issued = 0
        self.pressed = 0

    def issue(self) -> None:
        service = self.services[self.issued % len(self.services)]
        self.issued += 1
        with db.write() as s:
            issue_ticket(s, self.code, service, "az", None, self.kiosk)

    def press(self) -> bool:
        counter = self.counters[self.pressed % len(self.counters)]
        self.pressed += 1
        with db.write() as s:
            return call_next(s, counter, self.clerk, start=True) is not None

    def post_ticket(self, client) -> None:
        """The kiosk's whole request, through the app (no network, no server)."""
        service = self.services[self.issued % len(self.services)]
        self.issued += 1
        response = client.post(
            f"/api/v1/centers/{self.code}/tickets",
            json={"service": service, "language": "az"},
            headers={"Authorization": f"Bearer {self.kiosk_token}"},
        )
        check(response.status_code == 201, f"issuance: {response.status_code}")

    def post_press(self, client) -> bool:
        counter = self.counters[self.pressed % len(self.counters)]
        self.pressed += 1
        response = client.post(
            f"/api/v1/counters/{counter}/call-next",
            json={"start": True},
            headers={"Authorization": f"Bearer {self.clerk_token}"},
        )
        check(
            response.status_code in (200, 204),
            f"call-next: {response.status_code} {response.get_data(as_text=True)[:300]}",
        )
        return response.status_code == 200

    def top_up(self, tickets: int) -> None:
        """``tickets`` more waiting, many a transaction (the ledger on: the chain grows)."""
        while tickets > 0:
            batch = min(tickets, TOP_UP_BATCH)
            with db.write() as s:
                for _ in range(batch):
                    service = self.services[self.issued % len(self.services)]
                    self.issued += 1
                    issue_ticket(s, self.code, service, "az", None, self.kiosk)
            tickets -= batch

    def chain_length(self) -> int:
        """Entries in the center's chains (one chain: the run stays within a local day)."""
        with db.read() as s:
            return s.scalar(
                select(func.coalesce(func.sum(LedgerHead.seq), 0)).where(
                    LedgerHead.center_id == self.center_id
                )
            )

    def entries(self) -> int:
        with db.read() as s:
            return s.scalar(
                select(func.count())
                .select_from(LedgerEntry)
                .where(LedgerEntry.center_id == self.center_id)
            )


def measure(app, plan: dict, grown: int, warm_up: int) -> dict:
    """Outside any app context: each request of the test client has its own (and ``g``)."""
    desks = Desks()
    with db.read() as s:
        dialect = s.get_bind().dialect.name
        center = s.get(Center, desks.center_id)
        timezone = center.timezone
    timer = WritePendingTimer()
    # The engine's path alone: without the realtime publisher's commit listener,
    # whose figures passes run in a background thread now and then (CPU per second,
    # not per operation, landing in whichever block they fall in). It is back for
    # the whole requests, as a server runs them.
    listeners = list(db._commit_listeners)
    db._commit_listeners.clear()
    # Warm up both paths, then enough waiting for every press to find a visitor
    # (those without the ledger: the day's chain starts short).
    for _ in range(warm_up):
        desks.issue()
    with ledger(False, timer):
        desks.top_up(warm_up + 2 * _presses(plan))
    for _ in range(warm_up):
        desks.press()
    out: dict[str, Any] = {"dialect": dialect, "timezone": timezone}
    for phase, (rounds, block) in plan.items():
        if phase == "grown" and (short := grown - desks.chain_length()) > 0:
            desks.top_up(short)
        if phase == "request":
            db._commit_listeners[:] = listeners
            client = app.test_client()
            issue, press = partial(desks.post_ticket, client), partial(desks.post_press, client)
            for _ in range(warm_up):
                issue(), press()
        else:
            issue, press = desks.issue, desks.press
        start = desks.chain_length()
        out[phase] = {
            "chain_at_start": start,
            "issuance": _alternate(desks, issue, rounds, block, timer, entries=(1, 1)),
            "call_next": _alternate(desks, press, rounds, block, timer, entries=(2, 3)),
        }
        out[phase]["chain_at_end"] = desks.chain_length()
    db._commit_listeners.clear()
    # The publisher's last paced pass, before its database goes (or becomes the next
    # backend's, whose CPU it would add to).
    time.sleep(figures.MAX_PAUSE_S + 1)
    out["entries"] = desks.entries()
    check(out["entries"] == desks.chain_length(), "entries and the head's seq differ")
    return out


def _presses(plan: dict) -> int:
    return sum(2 * rounds * block for rounds, block in plan.values())


def _alternate(
    desks: Desks,
    op: Callable[[], Any],
    rounds: int,
    block: int,
    timer: WritePendingTimer,
    entries: tuple[int, int],
) -> dict:
    """``rounds`` pairs of blocks of ``block`` operations, ledger on and off by turns."""
    samples: dict[bool, dict[str, list]] = {
        on: {"cpu": [], "thread_cpu": [], "wall": [], "ledger_cpu": [], "empty": []}
        for on in (True, False)
    }
    for r in range(rounds):
        for on in (True, False) if r % 2 == 0 else (False, True):
            before = desks.chain_length()
            with ledger(on, timer):
                timer.reset()
                walls = []
                empty = 0
                cpu0, thread0 = time.process_time(), time.thread_time()
                for _ in range(block):
                    t0 = time.perf_counter()
                    if op() is False:
                        empty += 1  # nobody waiting at that counter: no call made
                    walls.append(time.perf_counter() - t0)
                cpu = time.process_time() - cpu0
                thread_cpu = time.thread_time() - thread0
            added = desks.chain_length() - before
            done = block - empty
            if on:  # one entry per event: issue 1; a press 3 (2 on a counter's first)
                lo, hi = entries
                check(lo * done <= added <= hi * done, f"ledger on: {added} entries for {done}")
            else:
                check(added == 0, f"ledger off, yet {added} entries written")
            s = samples[on]
            s["cpu"].append(cpu / block)
            s["thread_cpu"].append(thread_cpu / block)
            s["wall"] += walls
            s["ledger_cpu"].append(timer.cpu / block)
            s["empty"].append(empty)
    on, off = _summary(samples[True]), _summary(samples[False])
    overhead_us = on["cpu_us"] - off["cpu_us"]
    # Each round's own difference: how much the figure moves from round to round; their
    # median shrugs off a round that a burst of other work fell into.
    by_round = [
        round((a - b) * 1e6, 1)
        for a, b in zip(samples[True]["cpu"], samples[False]["cpu"], strict=True)
    ]
    median_us = statistics.median(by_round)
    return {
        "rounds": rounds,
        "block": block,
        "on": on,
        "off": off,
        "overhead_us": round(overhead_us, 1),
        "overhead_pct": round(100 * overhead_us / off["cpu_us"], 1),
        "overhead_us_median": round(median_us, 1),
        "overhead_pct_median": round(100 * median_us / off["cpu_us"], 1),
        "overhead_us_by_round": by_round,
        # The calling thread's CPU alone: the operation itself, without the realtime
        # publisher's background passes that land in some blocks and not others (the
        # whole requests' main noise); the same as process CPU for the engine phases.
        "thread": _thread_overhead(samples),
        "write_pending_us": on["ledger_cpu_us"],
        "write_pending_pct": round(100 * on["ledger_cpu_us"] / off["cpu_us"], 1),
    }


def _thread_overhead(samples: dict[bool, dict[str, list]]) -> dict:
    on = statistics.fmean(samples[True]["thread_cpu"]) * 1e6
    off = statistics.fmean(samples[False]["thread_cpu"]) * 1e6
    return {
        "on_us": round(on, 1),
        "off_us": round(off, 1),
        "overhead_us": round(on - off, 1),
        "overhead_pct": round(100 * (on - off) / off, 1),
    }


def _summary(s: dict) -> dict:
    ms = [w * 1000 for w in s["wall"]]
    return {
        "ops": len(ms),
        "cpu_us": round(1e6 * sum(s["cpu"]) / len(s["cpu"]), 1),
        "ledger_cpu_us": round(1e6 * sum(s["ledger_cpu"]) / len(s["ledger_cpu"]), 1),
        "per_s_cpu": round(len(s["cpu"]) / sum(s["cpu"]), 1),  # on one core, CPU-bound
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "nobody_waiting": sum(s["empty"]),
    }


def check(ok: bool, message: str) -> None:
    if not ok:
        raise RuntimeError(message)


# --- the ledger on and off (this process only)


class WritePendingTimer:
    """``write_pending``'s own CPU, summed over a block: this thread's (the realtime
    publisher's background passes run beside the whole requests)."""

    def __init__(self) -> None:
        self.cpu = 0.0

    def reset(self) -> None:
        self.cpu = 0.0

    def wrap(self, write_pending: Callable) -> Callable:
        def timed(session) -> None:
            t0 = time.thread_time()
            try:
                write_pending(session)
            finally:
                self.cpu += time.thread_time() - t0

        return timed


@contextmanager
def ledger(on: bool, timer: WritePendingTimer) -> Iterator[None]:
    """The ledger as shipped (its write timed), or no ledger at all: neither notes in the
    session nor the append before COMMIT."""
    shipped = (server_db.write_pending, audit.note, issuing.note)
    if on:
        server_db.write_pending = timer.wrap(chain.write_pending)
    else:
        server_db.write_pending = audit.note = issuing.note = _nothing
    try:
        yield
    finally:
        server_db.write_pending, audit.note, issuing.note = shipped


def _nothing(*args, **kwargs) -> None:
    return None


def _noon_timezone() -> str:
    """A fixed-offset zone where it is about noon now: the run stays within one local
    day (one chain), whenever it runs. (Etc/GMT-4 is UTC+4: POSIX signs.)"""
    offset = (12 - datetime.now(UTC).hour + 12) % 24 - 12
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")


# --- against a whole request


def http_reference(results_dir: Path, stamp: str) -> dict:
    """The whole HTTP request's server CPU per operation from the latest earlier result
    file that has it (bench/run.py compares with this run's own when it has them)."""
    files = sorted(p for p in results_dir.glob("*.json") if p.stem != stamp)
    found: dict[str, Any] = {"issuance_ms": None, "call_next_ms": None, "source": None}
    for path in reversed(files):
        try:
            scenarios = json.loads(path.read_text()).get("scenarios", {})
        except (OSError, ValueError):
            continue
        issuance_ms, call_next_ms = request_cpu_ms(scenarios)
        if issuance_ms or call_next_ms:
            return {"issuance_ms": issuance_ms, "call_next_ms": call_next_ms, "source": path.name}
    return found


def request_cpu_ms(scenarios: dict) -> tuple[float | None, float | None]:
    """(issuance at 200/s, a one-press call at the smallest queue): server CPU, ms."""
    issuance = scenarios.get("issuance") or {}
    call = scenarios.get("call_next") or {}
    sizes = call.get("sizes") or [{}]
    return (
        issuance.get("cpu_ms_per_ticket_at_200"),
        (sizes[0].get("cpu_ms") or {}).get("one_press"),
    )


if __name__ == "__main__":  # the scenario alone, without a server: python -m bench.ledger
    import sys
    import tempfile

    from .common import Context

    smoke = "--smoke" in sys.argv
    results = Path(__file__).resolve().parent / "results"
    with tempfile.TemporaryDirectory(prefix="novbe-ledger-") as tmp:
        ctx = Context(None, smoke, Path(tmp), results, "")
        print(json.dumps(run(ctx), indent=2))
