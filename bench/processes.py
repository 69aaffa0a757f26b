"""8. Several processes: what a second and third server process buy, and what they cost.

Unlike the other scenarios this one starts its own installations, each on a fresh
PostgreSQL schema (NOVBE_TEST_POSTGRES_URL, or the local ``test`` database) with the
same center and the same load:

* ``single``: one ``novbe serve`` process on PostgreSQL, no message queue;
* ``bus``: the same with the Redis message queue (``NOVBE_MESSAGE_QUEUE``), still one
  process: what the bus costs a commit;
* ``cluster``: three processes behind nginx (tests/cluster.py, as docs/deploy.md
  installs them), the kiosks' requests through nginx.

Issuance is measured at a fixed rate every setup holds (FIXED_ROUNDS rounds, the three
setups taking turns, so that the machine's drifting load falls on each alike), then up
to the highest rate sustained (bench/issuance.py's rule, open loop). Every step has
its **CPU per ticket**: utime+stime from /proc/<pid>/stat of every server process
(gunicorn master and worker, of each process) before and after, over the tickets the
step added to the database; nginx's, the installation's PostgreSQL backends', the Redis
server's and the load generator's beside it. Wall-clock rates swing with whatever else
runs on the machine; CPU per ticket much less.

Then delivery: ~200 calls made on process 1, each timed from the call's request to its
``ticket.called`` on displays connected to the other processes (the only one for a
single process) and to the ``ticket.updated`` with its new place on a visitor's phone
there. Calls are spaced wider than the server's pacing of positions
(REALTIME_STATS_INTERVAL, 0.5 s), so the phone's figure is the delivery, not the pacing.

One module of ~600 lines on purpose: the setups, their load and the two measurements
are one experiment, read from top to bottom; its process and CPU helpers serve it alone.
"""

from __future__ import annotations

import os
import resource
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import redis
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from server.db import Database
from server.models import Center, Ticket
from server.queue import issue_ticket
from tests import factories
from tests.cluster import REDIS_URL, LiveClient, Nginx, start_cluster
from tests.live import LiveServer, postgres_database, start_live_server

from .common import Job, open_loop, summary_ms
from .issuance import _sustained

NAME = "processes"
TITLE = "Several processes: PostgreSQL, the Redis bus, 3 processes behind nginx"
POSTGRES_URL = os.environ.get(
    "NOVBE_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
SETUPS = (
    ("single", "1 process, PostgreSQL"),
    ("bus", "1 process, PostgreSQL + Redis bus"),
    ("cluster", "3 processes + nginx, PostgreSQL + Redis"),
)
CLUSTER_PROCESSES = 3
KIOSKS = 4
FIXED_RATE = 40  # tickets/s: every setup holds it on 2 cores shared with others' tests
FIXED_ROUNDS = 3  # of ROUND_S each, the setups taking turns
ROUND_S = 10.0
RAMP = 1.5  # the search multiplies the rate by this until a step fails...
MAX_RATE = 2000
BISECT_STEPS = 2  # ...then halves the gap this many times
DURATION_S = 10.0
CALLS = 200
DELIVERY_COUNTERS = 20  # the calls go round them (see delivery())
SPACING_S = 0.75  # from call to call: more than the positions' pacing (0.5 s) and a pass
PACING_S = 0.6
DELIVERY_TIMEOUT_S = 5.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- CPU from /proc --------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (gunicorn's master and worker; nginx's master and
    worker)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with suppress(OSError):  # the task ended meanwhile
                todo += [int(p) for p in (task / "children").read_text().split()]
    return found


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of ``pids`` (every thread of each), in seconds."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue  # gone: its CPU is lost to the figure (a step's pids are checked)
        fields = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLOCK_TICKS


def backends_cpu(db: Database, tag: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving an installation (its servers and
    this process's few queries), by pid, found by their application_name ``tag``:
    PostgreSQL runs on this machine."""
    with db.read() as s:
        pids = s.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :tag"),
            {"tag": tag},
        ).all()
    return {pid: cpu_seconds([pid]) for pid in pids}


def children_cpu() -> float:
    """utime + stime of this process's ended children (the load generator's)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of every core since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


# --- the installations -----------------------------------------------------------------


@dataclass
class Setup:
    key: str
    label: str
    servers: list[LiveServer]
    nginx: Nginx | None
    front: str  # where kiosks send their requests: nginx, or the one process
    tag: str  # the installation's PostgreSQL application_name

    @property
    def db(self) -> Database:
        return self.servers[0].db

    def server_pids(self) -> list[list[int]]:
        return [process_tree(s.process.pid) for s in self.servers]

    def nginx_pids(self) -> list[int]:
        return process_tree(self.nginx.process.pid) if self.nginx else []

    def redis_pids(self) -> list[int]:
        """The Redis server's process when the installation uses it and it runs here."""
        if self.key == "single":
            return []
        pid = redis.Redis.from_url(REDIS_URL).info("server")["process_id"]
        comm = Path(f"/proc/{pid}/comm")
        return [pid] if comm.exists() and "redis" in comm.read_text() else []

    def database_cpu(self) -> dict[int, float]:
        return backends_cpu(self.db, self.tag)


def check_services() -> None:
    """PostgreSQL and Redis answer, or a clear error before any server starts."""
    try:
        engine = create_engine(POSTGRES_URL, poolclass=NullPool)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:
        raise RuntimeError(
            f"PostgreSQL at {POSTGRES_URL} does not answer (set NOVBE_TEST_POSTGRES_URL): {error}"
        ) from error
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        raise RuntimeError(
            f"Redis at {REDIS_URL} does not answer (set NOVBE_TEST_REDIS_URL): {error}"
        ) from error


@contextmanager
def installation(key: str, label: str, tmp: Path) -> Iterator[Setup]:
    home = tmp / f"processes-{key}"
    with postgres_database(POSTGRES_URL) as url:
        # The servers' PostgreSQL backends are found by this name (database_cpu()).
        tag = f"novbe-bench-{os.getpid()}-{key}"
        url += f"&application_name={tag}"
        if key == "cluster":
            cluster = start_cluster(home, url, CLUSTER_PROCESSES)
            try:
                yield Setup(key, label, cluster.servers, cluster.nginx, cluster.nginx.url, tag)
            finally:
                for server in cluster.servers:  # together: each takes a second to exit
                    server.process.terminate()
                cluster.stop()
            return
        home.mkdir(parents=True)
        queue, env = None, None
        if key == "bus":  # its own channel and keys: other runs share this Redis
            queue = REDIS_URL
            env = {"NOVBE_MESSAGE_CHANNEL": f"novbe-bench-{os.getpid()}-{secrets.token_hex(3)}"}
        server = start_live_server(home, url, queue, env=env)
        try:
            yield Setup(key, label, [server], None, server.url, tag)
        finally:
            server.stop()


# --- issuance --------------------------------------------------------------------------


CPU_PARTS = ("servers", "nginx", "database", "redis", "kiosks")


class Kiosks:
    """KIOSKS kiosks of one center of ``setup``, issuing in open loop through its front."""

    def __init__(self, setup: Setup, smoke: bool) -> None:
        self.setup = setup
        self.smoke = smoke
        devices = [{"kind": "kiosk", "name": f"kiosk-{i + 1}"} for i in range(KIOSKS)]
        center = setup.servers[0].new_center(
            devices=[*devices, {"kind": "display", "name": "hall"}]
        )
        with setup.db.write() as s:
            c = s.scalar(select(Center).where(Center.code == center.code))
            self.tokens = [factories.device_token(s, c, d["name"]) for d in devices]
            self.center_id = c.id
        self.url = f"{setup.front}/api/v1/centers/{center.code}/tickets"
        self.bodies = [
            {"service": service, "language": language, "priority": priority}
            for service in ("pension-new", "pension-recalc", "job-seeker")
            for language in ("az", "ru", "en")
            for priority in (None, None, None, "elderly")
        ]

    def job(self, rate: float, duration: float, threads: int) -> Job:
        return Job(self.url, self.tokens, self.bodies, rate, duration, KIOSKS, threads)

    def warm_up(self) -> None:
        """Connections, caches, the first pages of the tables."""
        open_loop(self.job(50, 2.0, 8))

    def tickets(self) -> int:
        with self.setup.db.read() as s:
            query = select(func.count()).select_from(Ticket)
            return s.scalar(query.where(Ticket.center_id == self.center_id))

    def step(self, rate: float, duration: float | None = None) -> dict:
        """One open-loop step, with the CPU each part of the installation spent on it."""
        setup = self.setup
        if duration is None:
            duration = 1.0 if self.smoke else DURATION_S
        pids = setup.server_pids()
        nginx, redis_server = setup.nginx_pids(), setup.redis_pids()
        before = self.tickets()
        cpu0 = [cpu_seconds(p) for p in pids]
        nginx0, redis0 = cpu_seconds(nginx), cpu_seconds(redis_server)
        db0 = setup.database_cpu()
        busy0 = machine_busy()
        load = os.getloadavg()[0]
        kiosks0 = children_cpu()
        step = open_loop(self.job(rate, duration, 4 if self.smoke else 32))
        kiosks1 = children_cpu()  # open_loop's client processes have ended: counted
        time.sleep(0.6)  # the step's last coalesced live-figures pass (0.5 s) runs too
        cpu1 = [cpu_seconds(p) for p in pids]
        nginx1, redis1 = cpu_seconds(nginx), cpu_seconds(redis_server)
        db1 = setup.database_cpu()
        busy1 = machine_busy()
        step["tickets"] = self.tickets() - before
        if setup.server_pids() != pids:
            raise RuntimeError(f"{setup.label}: a server process was replaced during the step")
        step["cpu_s"] = {
            "servers": sum(b - a for a, b in zip(cpu0, cpu1, strict=True)),
            "per_process": [b - a for a, b in zip(cpu0, cpu1, strict=True)],
            "nginx": nginx1 - nginx0 if setup.nginx else None,
            # Backends that started meanwhile count whole; one that ended took its CPU
            # along (the pool closes connections beyond its size): a lower bound then.
            "database": sum(cpu - db0.get(pid, 0.0) for pid, cpu in db1.items()),
            # The whole Redis server, which other runs on this machine may share: at most.
            "redis": redis1 - redis0 if redis_server else None,
            # The simulated kiosks (requests in 4 processes), on the same cores.
            "kiosks": kiosks1 - kiosks0,
        }
        step["database_backends_ended"] = len(set(db0) - set(db1))
        # How busy the whole machine was meanwhile (all cores, everyone's processes).
        step["machine_busy"] = round((busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]), 2)
        step["load_1min"] = round(load, 2)
        return with_per_ticket(step)


def with_per_ticket(step: dict) -> dict:
    """``<part>_cpu_ms_per_ticket`` from ``cpu_s`` and ``tickets``."""
    tickets, cpu = step["tickets"], step["cpu_s"]

    def per_ticket(seconds: float | None) -> float | None:
        return round(seconds / tickets * 1000, 3) if tickets and seconds is not None else None

    step["cpu_ms_per_ticket"] = per_ticket(cpu["servers"])
    step["process_cpu_ms_per_ticket"] = [per_ticket(x) for x in cpu["per_process"]]
    for part in CPU_PARTS[1:]:
        step[f"{part}_cpu_ms_per_ticket"] = per_ticket(cpu[part])
    return step


def pooled(rounds: list[dict]) -> dict:
    """Rounds at one rate as one step: the CPU over all their tickets, the slowest
    round's p95/p99/max and the lowest rate achieved (sustained only if every round
    was), the median p50."""

    def total(part: str) -> float | None:
        values = [r["cpu_s"][part] for r in rounds]
        return None if None in values else sum(values)

    statuses: dict[str, int] = {}
    for r in rounds:
        for code, n in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    p50s = sorted(r["p50_ms"] or 0 for r in rounds)
    step = {
        "offered_per_s": rounds[0]["offered_per_s"],
        "rounds": len(rounds),
        **{k: sum(r[k] for r in rounds) for k in ("sent", "ok", "errors", "tickets", "n")},
        "statuses": statuses,
        "achieved_per_s": min(r["achieved_per_s"] for r in rounds),
        "p50_ms": p50s[len(p50s) // 2],
        **{k: max(r[k] or 0 for r in rounds) for k in ("p95_ms", "p99_ms", "max_ms")},
        "cpu_s": {
            **{part: total(part) for part in CPU_PARTS},
            "per_process": [
                sum(x) for x in zip(*(r["cpu_s"]["per_process"] for r in rounds), strict=True)
            ],
        },
        "database_backends_ended": sum(r["database_backends_ended"] for r in rounds),
        "machine_busy": round(sum(r["machine_busy"] for r in rounds) / len(rounds), 2),
        "load_1min": max(r["load_1min"] for r in rounds),
        "per_round": [
            {k: r[k] for k in ("achieved_per_s", "p50_ms", "p99_ms", "cpu_ms_per_ticket")}
            for r in rounds
        ],
    }
    return with_per_ticket(step)


def search(at: Callable[[float], dict], fixed: dict) -> list[dict]:
    """Up by RAMP from the fixed rate until a step fails, then bisect."""
    steps: list[dict] = []
    low, high = (fixed["offered_per_s"], None) if _sustained(fixed) else (0, fixed["offered_per_s"])
    while high is None:
        rate = round(low * RAMP)
        if rate > MAX_RATE:
            return steps
        step = at(rate)
        steps.append(step)
        low, high = (rate, None) if _sustained(step) else (low, rate)
    for _ in range(BISECT_STEPS):
        rate = round((low + high) / 2)
        if high - low < max(10, low * 0.1):
            break
        step = at(rate)
        steps.append(step)
        low, high = (rate, high) if _sustained(step) else (low, rate)
    return steps


def issuance(kiosks: Kiosks, fixed: dict) -> dict:
    steps = [] if kiosks.smoke else search(kiosks.step, fixed)
    held = [s for s in [fixed, *steps] if _sustained(s)]
    best = max(held, key=lambda s: s["offered_per_s"], default=None)
    return {
        "kiosks": KIOSKS,
        "fixed": fixed,
        "search": steps,
        "step_s": 1.0 if kiosks.smoke else DURATION_S,
        "max_sustained_per_s": best["offered_per_s"] if best else None,
        "max_sustained_cpu_ms_per_ticket": best["cpu_ms_per_ticket"] if best else None,
    }


# --- delivery --------------------------------------------------------------------------


def delivery(setup: Setup, smoke: bool) -> dict:
    """Calls made on process 1; their arrival on displays connected to every other
    process (or the one) and on a phone whose place each call moves up."""
    calls = 3 if smoke else CALLS
    origin = setup.servers[0]
    watched = setup.servers[1:] or setup.servers  # the other processes, or the only one
    # Every change (a call, a start) sets off a positions pass, and passes are paced: a
    # counter that had to start its visitor before each call would put the next call
    # inside the start's pacing. So the calls go round several counters, and their
    # visitors are started together, between rounds.
    labels = [str(i + 1) for i in range(min(calls, DELIVERY_COUNTERS))]
    center = origin.new_center(
        counters=[{"label": label, "services": ["pension-new"]} for label in labels]
    )
    mine = queue_up(setup, center.code, calls)  # `calls` visitors ahead of the phone's
    displays = {
        f"display@{setup.servers.index(s) + 1}": LiveClient(s.url, {"token": center.display_token})
        for s in watched
    }
    phone_at = watched[-1]
    phone = LiveClient(phone_at.url, {"ticket": mine}, "phone")
    clients = {**displays, "phone": phone}
    arrivals: dict[str, list[float]] = {name: [] for name in clients}
    answers: list[float] = []
    missed = dict.fromkeys(clients, 0)
    serving: list[dict] = []  # called, to be started before their counter calls again
    try:
        for name, client in clients.items():
            snapshot = client.wait("snapshot", timeout=10)[1]
            if name == "phone" and snapshot["ticket"]["position"] != calls + 1:
                raise RuntimeError(f"the phone starts at {snapshot['ticket']['position']}")
        time.sleep(2 * PACING_S)  # the connects' passes are over
        for k in range(calls):
            if len(serving) == len(labels):
                start_all(origin, center, serving)
                time.sleep(2 * PACING_S)  # the starts' passes (a first, then a paced one)
            marks = {name: client.mark() for name, client in clients.items()}
            sent = time.monotonic()
            called = origin.call_next(center, labels[k % len(labels)])
            answers.append(time.monotonic() - sent)
            serving.append(called)
            place = calls - k  # the phone's place once this call is made
            for name, client in clients.items():
                if name == "phone":
                    event, where = "ticket.updated", position_is(place)
                else:
                    event, where = "ticket.called", number_is(called["number"])
                try:
                    arrived, _ = client.wait(
                        event, where, after=marks[name], timeout=DELIVERY_TIMEOUT_S
                    )
                except AssertionError:  # LiveClient's timeout
                    missed[name] += 1
                    continue
                arrivals[name].append(arrived - sent)
            time.sleep(max(0.0, sent + SPACING_S - time.monotonic()))
    finally:
        for client in clients.values():
            client.close()
    on_displays = [t for name in displays for t in arrivals[name]]
    return {
        "calls": calls,
        "counters": len(labels),
        "made_on": 1,
        "displays_on": [setup.servers.index(s) + 1 for s in watched],
        "phone_on": setup.servers.index(phone_at) + 1,
        "call_next": summary_ms(answers),
        "displays": summary_ms(on_displays),
        "per_display": {name: summary_ms(arrivals[name]) for name in displays},
        "phone": summary_ms(arrivals["phone"]),
        "missed": missed,
    }


def queue_up(setup: Setup, code: str, ahead: int) -> str:
    """``ahead`` visitors and then the phone's, written straight to the database (the
    servers read it on connect); the phone's tracking token."""
    with setup.db.write() as s:
        center = s.scalar(select(Center).where(Center.code == code))
        kiosk = factories.kiosk_actor(s, center)
        tickets = [
            issue_ticket(s, code, "pension-new", "az", None, kiosk) for _ in range(ahead + 1)
        ]
        return tickets[-1].ticket.tracking_token


def start_all(origin: LiveServer, center, serving: list[dict]) -> None:
    for ticket in serving:
        response = origin.api("POST", f"/tickets/{ticket['id']}/start", center.staff_token)
        if response.status_code != 200:
            raise RuntimeError(f"start {ticket['number']}: {response.text}")
    serving.clear()


def position_is(place: int) -> Callable[[dict], bool]:
    return lambda data: data.get("position") == place


def number_is(number: str) -> Callable[[dict], bool]:
    return lambda data: data.get("number") == number


# --- the scenario ----------------------------------------------------------------------


def run(ctx) -> dict:
    check_services()
    database = database_info()  # before our servers connect
    smoke = ctx.smoke
    rate = 20 if smoke else FIXED_RATE
    rounds = 1 if smoke else FIXED_ROUNDS
    with ExitStack() as stack:
        # All up at once (an idle installation costs next to nothing: idle_cpu_ms_per_s),
        # so the fixed rate can be measured in rounds taken by turns: the machine's load
        # drifts over minutes, and the setups' CPU per ticket are compared.
        setups = [stack.enter_context(installation(k, label, ctx.tmp)) for k, label in SETUPS]
        kiosks = [Kiosks(setup, smoke) for setup in setups]
        if not smoke:
            for k in kiosks:
                k.warm_up()
        turns = [[k.step(rate, None if smoke else ROUND_S) for k in kiosks] for _ in range(rounds)]
        results = []
        for i, (setup, k) in enumerate(zip(setups, kiosks, strict=True)):
            t0 = time.monotonic()
            fixed = pooled([turn[i] for turn in turns])
            result = {
                "key": setup.key,
                "label": setup.label,
                "processes": len(setup.servers),
                "through_nginx": setup.nginx is not None,
                "issuance": issuance(k, fixed),
                "delivery": delivery(setup, smoke),
                "idle_cpu_ms_per_s": None if smoke else idle_cpu(setup, 3.0),
            }
            result["elapsed_s"] = round(time.monotonic() - t0, 1)
            print(f"   {setup.label}: {result['elapsed_s']} s", file=sys.stderr, flush=True)
            results.append(result)
    single, bus = (r["issuance"]["fixed"] for r in results[:2])
    # What the Redis publish of each commit costs the server: one process, the same
    # rate, rounds taken by turns; each round's difference shows the noise.
    by_round = [
        round(b["cpu_ms_per_ticket"] - a["cpu_ms_per_ticket"], 3)
        for a, b in zip(single["per_round"], bus["per_round"], strict=True)
        if a["cpu_ms_per_ticket"] and b["cpu_ms_per_ticket"]
    ]
    both = single["cpu_ms_per_ticket"] and bus["cpu_ms_per_ticket"]
    return {
        "database": database,
        "fixed_rate_per_s": rate,
        "fixed_rounds": rounds,
        "setups": results,
        "bus_cpu_ms_per_ticket": (
            round(bus["cpu_ms_per_ticket"] - single["cpu_ms_per_ticket"], 3) if both else None
        ),
        "bus_cpu_ms_per_ticket_by_round": by_round,
        "load_1min_after": round(os.getloadavg()[0], 2),
    }


def idle_cpu(setup: Setup, seconds: float) -> float:
    """The servers' CPU with nothing to do (heartbeats, the bus's listener), ms per s:
    part of every step's CPU, and negligible at the steps' rates."""
    pids = [pid for tree in setup.server_pids() for pid in tree]
    before = cpu_seconds(pids)
    time.sleep(seconds)
    return round((cpu_seconds(pids) - before) / seconds * 1000, 1)


def database_info() -> dict:
    """PostgreSQL's version, and its connection limit against what others hold: each
    server process may open 30 (server/db.py), and when the limit is reached requests
    fail (500) rather than wait."""
    engine = create_engine(POSTGRES_URL, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return {
                "version": str(conn.execute(text("SHOW server_version")).scalar()).split()[0],
                "max_connections": int(conn.execute(text("SHOW max_connections")).scalar()),
                "connections_of_others": conn.execute(
                    text(
                        "SELECT count(*) - 1 FROM pg_stat_activity"
                        " WHERE backend_type = 'client backend'"
                    )
                ).scalar(),
            }
    finally:
        engine.dispose()


if __name__ == "__main__":  # the scenario alone: python -m bench.processes [--smoke]
    import json
    import tempfile

    from .common import Context

    for name in ("NOVBE_MAX_REQUESTS_PER_CLIENT", "NOVBE_MAX_SOCKETS_PER_CLIENT"):
        os.environ.setdefault(name, "100000")  # as bench/run.py: every client is 127.0.0.1
    with tempfile.TemporaryDirectory(prefix="novbe-processes-") as tmp:
        context = Context(None, "--smoke" in sys.argv, Path(tmp), Path(tmp), "")  # type: ignore[arg-type]
        print(json.dumps(run(context), indent=2))
