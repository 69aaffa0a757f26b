"""10. The national day: a whole network's busiest hour on one machine, and its headroom.

The network of bench/national_plan.py (66 centers, 200,000 visitors a day) is written
straight into a fresh PostgreSQL schema through the server's own importer, with the
peak's backlog of waiting visitors (issued through server.queue, as kiosks would);
then CLUSTER_PROCESSES ``novbe serve`` processes start on it with the Redis message
queue behind nginx (tests/cluster.py). Every screen connects as in real life (2
displays and the public page per center, a workstation per counter, a phone for half
of the waiting visitors), straight to the server processes in turn (bench/
national_listen.py, several gevent processes); the API traffic goes through nginx.

The peak is then measured at rising compression factors, STEP_S real seconds each, the
clock ``factor`` times faster (bench/national_desks.py: kiosks issuing at each center's
own peak-hour rate, desks calling, starting, completing, recalling, marking no-shows,
transferring), until a step fails. A step holds when issue and call-next p99 ≤ 100 ms,
``ticket.called`` delivery p99 ≤ 250 ms to displays and to phones, nothing missed (a
display gets every call and recall of its center, a phone those of its ticket, paired
in order), no request failed and no screen dropped. The **headroom** is the largest
factor that held; the network's real peak (tickets/s at 1x) gives it its meaning.
The last held factor is then run again with half the screens' load-generator
processes stopped: if the load generator were the bottleneck, that would change the
figures.

Each step reports the CPU it cost from /proc (bench/processes.py's helpers): the
server processes', per ticket (the mean of tickets issued, called and ended in the
step: equal in steady state, so each stage of a ticket's life is counted once however
short the window); PostgreSQL's backends', Redis's, nginx's and the load generator's
beside it. Memory: each server process's RSS before and after its screens connected.
Database growth: the schema's size per ticket × 200,000.

Then the same on the embedded single process (SQLite, the run's own server; fewer
centers, as one process cannot hold the network's connections) to show where it stops.
A full run writes its charts into docs/benchmarks/ (docs/benchmarks.md's section is
bench/run.py's); a smoke run (3 centers, one short step) beside its result file.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select, text

from server.auth import create_staff, issue_staff_token
from server.db import Database
from server.importer import import_center
from server.migrate import upgrade
from server.models import Center, Ticket
from server.queue import issue_ticket
from tests import factories
from tests.cluster import start_cluster
from tests.live import LiveServer, postgres_database

from . import national_charts
from . import national_plan as plan_mod
from .common import percentile, rss_mb, summary_ms, worker_pid
from .processes import (
    POSTGRES_URL,
    backends_cpu,
    check_services,
    cpu_seconds,
    database_info,
    process_tree,
)

NAME = "national"
TITLE = "National day: 66 centers, ~10,000 live screens, PostgreSQL + Redis + nginx"
ROOT = Path(__file__).resolve().parent.parent
DOCS_DIR = ROOT / "docs" / "benchmarks"
FACTORS = (0.5, 1, 2, 5, 10, 20, 40)
STEP_S = 30.0  # real seconds per step: the whole run stays under 15 minutes
GRACE_S = 10.0  # after a step, at most, for its last events to arrive
LISTENERS = 4  # screen processes: ~2,500 sockets each
ACTORS = 2  # kiosk-and-desk processes
CLUSTER_PROCESSES = 3  # 3 x 30 PostgreSQL connections at most (server/db.py's pool)
SQLITE_CENTERS = 12
ISSUE_P99_MS = CALL_P99_MS = 100.0
DELIVERY_P99_MS = 250.0
SMOKE = {"centers": 3, "sqlite_centers": 2, "factors": (10,), "step_s": 6.0, "processes": 2}
SAMPLE_S = 1.0
SOURCES = 250  # loopback addresses 127.0.0.2 ... 127.0.0.251


# --- the network in the database ---------------------------------------------------------


@dataclass
class LiveCenter:
    code: str
    kiosk_token: str
    staff_token: str
    displays: list[str]
    counters: list[tuple[str, int]]
    services: list[list]  # [code, mean_min, cv, weight]
    rate_per_min: float  # arrivals per simulated minute in the peak hour
    phones: list[tuple[str, str]] = field(default_factory=list)  # (number, tracking token)


def seed_centers(db: Database, plans: list[plan_mod.CenterPlan], hour: int) -> list[LiveCenter]:
    """Import every center through the server's importer; its staff and device tokens."""
    out = []
    for plan in plans:
        with db.write() as s:
            import_center(s, plan_mod.center_spec(plan))
            center = s.scalar(select(Center).where(Center.code == plan.code))
            staff = create_staff(s, f"{plan.code}-staff", factories.PASSWORD, "staff", plan.code)
            live = LiveCenter(
                code=plan.code,
                kiosk_token=factories.device_token(s, center, "kiosk-1"),
                staff_token=issue_staff_token(s, staff, hours=6)[0],
                displays=[factories.device_token(s, center, f"hall-{i + 1}") for i in range(2)],
                counters=[(c.label, c.id) for c in center.counters],
                services=[
                    [x.code, x.spec.mean_min, x.spec.cv, x.spec.weight] for x in plan.services
                ],
                rate_per_min=plan.hourly_rate(hour),
            )
        out.append(live)
    return out


def screens(centers: list[LiveCenter], urls: list[str]) -> list[dict]:
    """Every live client of the network, each on the next server process in turn."""
    specs = []
    for c in centers:
        specs += [{"kind": "display", "center": c.code, "auth": {"token": t}} for t in c.displays]
        specs.append({"kind": "public", "center": c.code, "auth": {"public": c.code}})
        specs += [
            {"kind": "counter", "center": c.code, "auth": {"token": c.staff_token, "counter": i}}
            for _, i in c.counters
        ]
        specs += [
            {"kind": "phone", "center": c.code, "number": n, "auth": {"ticket": t}}
            for n, t in c.phones
        ]
    for i, spec in enumerate(specs):
        spec["url"] = urls[i % len(urls)]
        # Screens and phones come from many addresses, as in real life: the server's
        # per-address caps (server/connections/, realtime/admission.py) stay as shipped.
        # (tests/swarm.py's source_address; not imported: it patches this process with
        # gevent on import)
        spec["source"] = f"127.0.0.{2 + i % SOURCES}"
    return specs


# --- the load-generator processes ----------------------------------------------------------


class Listeners:
    """The screens, spread over ``count`` processes of bench/national_listen.py."""

    def __init__(self, specs: list[dict], count: int, tmp: Path) -> None:
        self.tmp = tmp
        self.parts = [specs[i::count] for i in range(count)]
        self.processes = []
        for i, part in enumerate(self.parts):
            path = tmp / f"screens-{i}.json"
            path.write_text(json.dumps(part))
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.national_listen", str(path)],
                    cwd=ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        self.alive = list(range(count))

    def ready(self) -> tuple[int, int]:
        connected = failed = 0
        for process in self.processes:
            words = process.stdout.readline().split()
            if len(words) != 3 or words[0] != "READY":
                raise RuntimeError(f"a screens process did not get ready: {words}")
            connected += int(words[1])
            failed += int(words[2])
        return connected, failed

    def pids(self) -> list[int]:
        return [self.processes[i].pid for i in self.alive]

    def dump(self) -> list[dict]:
        """Each live process's arrivals since the last dump, its clients by index."""
        out = []
        for i in self.alive:
            path = self.tmp / f"dump-{i}.json"
            self.processes[i].stdin.write(f"DUMP {path}\n")
            self.processes[i].stdin.flush()
        for i in self.alive:
            if self.processes[i].stdout.readline().strip() != "DUMPED":
                raise RuntimeError("a screens process did not dump")
            out.append({"part": i, **json.loads((self.tmp / f"dump-{i}.json").read_text())})
        return out

    def stop(self, which: list[int] | None = None) -> None:
        for i in list(self.alive if which is None else which):
            process = self.processes[i]
            if process.poll() is None:
                try:
                    process.stdin.write("STOP\n")
                    process.stdin.flush()
                    process.wait(15)
                except (OSError, subprocess.TimeoutExpired):
                    process.kill()
                    process.wait()
            self.alive.remove(i)


def run_actors(
    api: str,
    centers: list[LiveCenter],
    factor: float,
    step_s: float,
    tmp: Path,
    count: int,
    seed_: int,
) -> list[dict]:
    start = time.time() + 1.0
    processes, outs = [], []
    for i in range(count):
        part = centers[i::count]
        spec = {
            "api": f"{api}/api/v1",
            "factor": factor,
            "start": start,
            "end": start + step_s,
            "seed": seed_ * 100 + i,
            "centers": [
                {
                    "code": c.code,
                    "kiosk_token": c.kiosk_token,
                    "staff_token": c.staff_token,
                    "rate_per_min": c.rate_per_min,
                    "services": c.services,
                    "counters": c.counters,
                }
                for c in part
            ],
        }
        path, out = tmp / f"step-{seed_}-{i}.json", tmp / f"step-{seed_}-{i}-out.json"
        path.write_text(json.dumps(spec))
        outs.append(out)
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "bench.national_desks", str(path), str(out)], cwd=ROOT
            )
        )
    for process in processes:
        if process.wait(step_s + 120) != 0:
            raise RuntimeError(f"a desks process exited with {process.returncode}")
    return [json.loads(out.read_text()) for out in outs]


# --- the installations -------------------------------------------------------------------


@dataclass
class Site:
    """What a step needs of an installation."""

    label: str
    servers: list[LiveServer]
    api: str  # where kiosks and desks send requests (nginx, or the one process)
    nginx_pid: int | None
    tag: str | None  # PostgreSQL application_name of its backends
    db: Database

    def server_pids(self) -> list[int]:
        return [pid for s in self.servers for pid in process_tree(s.process.pid)]

    def workers(self) -> list[int | None]:
        return [worker_pid(s.process.pid) for s in self.servers]

    def database_cpu(self) -> dict[int, float]:
        return {} if self.tag is None else backends_cpu(self.db, self.tag)

    def redis_pid(self) -> int | None:
        if self.tag is None:
            return None
        import redis

        from tests.cluster import REDIS_URL

        pid = redis.Redis.from_url(REDIS_URL).info("server")["process_id"]
        comm = Path(f"/proc/{pid}/comm")
        return pid if comm.exists() and "redis" in comm.read_text() else None


class Sampler:
    """Each server worker's open files (≈ its connections) every SAMPLE_S, for the
    connections chart."""

    def __init__(self, site: Site, t0: float) -> None:
        self.site, self.t0 = site, t0
        self.samples: list[tuple[float, list[int]]] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self) -> None:
        workers = self.site.workers()
        while not self.stopped.wait(SAMPLE_S):
            counts = []
            for pid in workers:
                try:
                    counts.append(len(os.listdir(f"/proc/{pid}/fd")))
                except OSError:
                    counts.append(0)
            self.samples.append((round(time.time() - self.t0, 1), counts))

    def stop(self) -> list:
        self.stopped.set()
        self.thread.join()
        return self.samples


# --- one step ---------------------------------------------------------------------------


def step(
    site: Site,
    centers,
    listeners: Listeners,
    factor: float,
    step_s: float,
    tmp: Path,
    actors: int,
    index: int,
    t0: float,
) -> dict:
    servers0, db0 = cpu_seconds(site.server_pids()), site.database_cpu()
    nginx0 = cpu_seconds(process_tree(site.nginx_pid)) if site.nginx_pid else None
    redis_pid = site.redis_pid()
    redis0 = cpu_seconds([redis_pid]) if redis_pid else None
    screens0 = cpu_seconds(listeners.pids())
    pids = site.server_pids()
    outs = run_actors(site.api, centers, factor, step_s, tmp, actors, index)
    ended = time.time()
    # The last events may still be on their way: collect until nothing is missing, or
    # GRACE_S has passed (a later arrival is a miss: it is seconds late).
    dumps: list[dict] = []
    while True:
        time.sleep(1.0)
        dumps += listeners.dump()
        found = delivery(outs, dumps, listeners)
        if not any(found["missed"].values()) or time.time() - ended > GRACE_S:
            break
    servers1, db1 = cpu_seconds(site.server_pids()), site.database_cpu()
    screens1 = cpu_seconds(listeners.pids())
    if site.server_pids() != pids:
        raise RuntimeError(f"{site.label}: a server process was replaced during the step")
    result = {"factor": factor, "step_s": step_s, "screens_processes": len(listeners.alive)}
    result.update(requests_summary(outs, t0))
    result.update(found)
    result["collected_s"] = round(time.time() - ended, 1)
    counts = result["counts"]
    # Tickets whose whole life the step paid for: a window of the peak sees tickets
    # issued, called and ended at the same rate in steady state; their mean counts
    # each stage once, however short the window is against a service time.
    ended_n = counts.get("completed", 0) + counts.get("no_show", 0) + counts.get("transferred", 0)
    completed = (counts.get("issued", 0) + counts.get("called", 0) + ended_n) / 3
    result["tickets"] = round(completed, 1)
    cpu = {
        "servers": servers1 - servers0,
        "database": sum(c - db0.get(pid, 0.0) for pid, c in db1.items()) if site.tag else None,
        "redis": cpu_seconds([redis_pid]) - redis0 if redis_pid else None,
        "nginx": cpu_seconds(process_tree(site.nginx_pid)) - nginx0 if site.nginx_pid else None,
        "desks": sum(o["cpu_s"] for o in outs),
        "screens": screens1 - screens0,
    }
    result["cpu_s"] = {k: None if v is None else round(v, 2) for k, v in cpu.items()}
    result["cpu_ms_per_ticket"] = {
        k: None if v is None or not completed else round(v / completed * 1000, 2)
        for k, v in cpu.items()
    }
    seconds = step_s + result["collected_s"] + 1.0
    result["cpu_share"] = {  # of one core, over the step
        k: None if v is None else round(v / seconds, 2) for k, v in cpu.items()
    }
    # Everyone's processes on the machine (other runs share its cores): wall-clock
    # latencies mean little when this is well above the core count; CPU per ticket holds.
    result["load_1min"] = round(os.getloadavg()[0], 2)
    result["ok"] = holds(result)
    return result


def requests_summary(outs: list[dict], t0: float) -> dict:
    latencies: dict[str, list] = {}
    errors: dict[str, int] = {}
    counts: dict[str, int] = {}
    for o in outs:
        for kind, pairs in o["latencies"].items():
            latencies.setdefault(kind, []).extend(pairs)
        for k, n in o["errors"].items():
            errors[k] = errors.get(k, 0) + n
        for k, n in o["counts"].items():
            counts[k] = counts.get(k, 0) + n
    by_kind = {kind: summary_ms([p[1] for p in pairs]) for kind, pairs in latencies.items()}
    issued = counts.get("issued", 0)
    seconds = max((p[0] for pairs in latencies.values() for p in pairs), default=0) - min(
        (p[0] for pairs in latencies.values() for p in pairs), default=0
    )
    return {
        "requests": by_kind,
        "errors": errors,
        "counts": counts,
        "issued_per_s": round(issued / seconds, 1) if seconds else None,
        "timeline": timeline(latencies, t0),
    }


def timeline(latencies: dict[str, list], t0: float, slot_s: float = 2.0) -> dict:
    """p99 by slot of issue and call-next latency, for the latency chart."""
    out = {}
    for kind in ("issue", "call_next"):
        slots: dict[int, list[float]] = {}
        for sent, took in latencies.get(kind, []):
            slots.setdefault(int((sent - t0) // slot_s), []).append(took * 1000)
        out[kind] = [
            [round(k * slot_s, 1), round(percentile(v, 99), 1)] for k, v in sorted(slots.items())
        ]
    return out


def delivery(outs: list[dict], dumps: list[dict], listeners: Listeners) -> dict:
    """Pair each display's and phone's ``ticket.called`` arrivals with the calls made
    (in order, per ticket number): latency from the call's request; missed, those that
    never arrived."""
    calls: dict[tuple[str, str], list[float]] = {}
    for o in outs:
        for center, number, sent, _ in o["calls"]:
            calls.setdefault((center, number), []).append(sent)
    for sent in calls.values():
        sent.sort()
    by_center: dict[str, dict[str, list[float]]] = {}
    for (center, number), sent in calls.items():
        by_center.setdefault(center, {})[number] = sent
    latency = {"display": [], "phone": []}
    missed = {"display": 0, "phone": 0}
    expected_n = {"display": 0, "phone": 0}  # events that should have arrived
    connected, errors = 0, set()
    merged: dict[int, dict] = {}  # by screens process: its arrivals, its last dump's rest
    for dump in dumps:
        arrivals = merged.get(dump["part"], {}).get("arrivals", []) + dump["arrivals"]
        merged[dump["part"]] = {**dump, "arrivals": arrivals}
    for dump in merged.values():
        part = listeners.parts[dump["part"]]
        connected += dump["connected"]
        errors.update(dump["errors"])
        got: dict[int, dict[str, list[float]]] = {}
        for index, number, at in dump["arrivals"]:
            got.setdefault(index, {}).setdefault(number, []).append(at)
        for index, spec in enumerate(part):
            if spec["kind"] == "display":
                expected = by_center.get(spec["center"], {})
            elif spec["kind"] == "phone":
                sent = by_center.get(spec["center"], {}).get(spec["number"])
                expected = {spec["number"]: sent} if sent else {}
            else:
                continue
            mine = got.get(index, {})
            expected_n[spec["kind"]] += sum(len(sent) for sent in expected.values())
            for number, sent in expected.items():
                arrived = sorted(mine.get(number, []))
                for s, a in zip(sent, arrived, strict=False):
                    latency[spec["kind"]].append(a - s)
                missed[spec["kind"]] += max(0, len(sent) - len(arrived))
    return {
        "calls": sum(len(v) for v in calls.values()),
        "connected_after": connected,
        "screen_errors": sorted(errors)[:5],  # why screens dropped or were refused
        "displays": summary_ms(latency["display"]),
        "phones": summary_ms(latency["phone"]),
        "missed": missed,
        "expected": expected_n,
    }


def holds(r: dict) -> bool:
    def p99(figures: dict | None) -> float:
        return (figures or {}).get("p99_ms") or 0.0

    return (
        p99(r["requests"].get("issue")) <= ISSUE_P99_MS
        and p99(r["requests"].get("call_next")) <= CALL_P99_MS
        and p99(r["displays"]) <= DELIVERY_P99_MS
        and p99(r["phones"]) <= DELIVERY_P99_MS
        and not any(r["missed"].values())
        and not r["errors"]
        and r["requests"].get("issue", {}).get("n", 0) > 0
    )


# --- one installation, stepped up ----------------------------------------------------------


def measure(
    site: Site,
    centers: list[LiveCenter],
    tmp: Path,
    factors,
    step_s: float,
    listeners_n: int,
    actors: int,
    half: bool,
) -> dict:
    t0 = time.time()
    rss0 = [rss_mb(p) if p else None for p in site.workers()]
    urls = [s.url for s in site.servers]
    specs = screens(centers, urls)
    sampler = Sampler(site, t0)
    listeners = Listeners(specs, min(listeners_n, max(1, len(specs) // 50)), tmp)
    try:
        connect0 = time.time()
        connected, failed = listeners.ready()
        connect_s = time.time() - connect0
        rss1 = [rss_mb(p) if p else None for p in site.workers()]
        idle = idle_cpu(site, 1.0 if len(factors) == 1 else 3.0)
        per_process = [
            sum(1 for i in range(len(specs)) if i % len(urls) == k) for k in range(len(urls))
        ]
        steps = []
        for i, factor in enumerate(factors):
            print(f"   {site.label}: {factor}x", file=sys.stderr, flush=True)
            result = step(site, centers, listeners, factor, step_s, tmp, actors, i, t0)
            steps.append(result)
            print(f"   {brief(result)}", file=sys.stderr, flush=True)
            if not result["ok"]:
                break
        held = [s["factor"] for s in steps if s["ok"]]
        half_step = None
        if half and held and len(listeners.alive) > 1:
            listeners.stop(listeners.alive[: len(listeners.alive) // 2])
            half_step = step(site, centers, listeners, held[-1], step_s, tmp, actors, 99, t0)
            half_step["screens_connected"] = half_step["connected_after"]
            print(f"   half the screens: {brief(half_step)}", file=sys.stderr, flush=True)
        rss2 = [rss_mb(p) if p else None for p in site.workers()]
    finally:
        listeners.stop()
        samples = sampler.stop()
    kinds: dict[str, int] = {}
    for spec in specs:
        kinds[spec["kind"]] = kinds.get(spec["kind"], 0) + 1
    return {
        "label": site.label,
        "processes": len(site.servers),
        "centers": len(centers),
        "screens": len(specs),
        "screens_by_kind": kinds,
        "connected": connected,
        "refused": failed,
        "connect_s": round(connect_s, 1),
        # The servers' CPU with every screen connected and nothing happening: part of
        # each step's CPU (pings, heartbeats, the bus's listener).
        "idle_cpu_ms_per_s": idle,
        "memory": {
            "rss_before_mb": [_r(x) for x in rss0],
            "rss_connected_mb": [_r(x) for x in rss1],
            "rss_after_mb": [_r(x) for x in rss2],
            "connections_per_process": per_process,
            "kb_per_connection": _kb_per_connection(rss0, rss1, per_process),
        },
        "steps": steps,
        "headroom": held[-1] if held else None,
        "half_screens": half_step,
        "connections_over_time": samples,
    }


def idle_cpu(site: Site, seconds: float) -> float:
    before = cpu_seconds(site.server_pids())
    time.sleep(seconds)
    return round((cpu_seconds(site.server_pids()) - before) / seconds * 1000, 1)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def _kb_per_connection(before, after, counts) -> float | None:
    grown = [(b - a) for a, b in zip(before, after, strict=True) if a and b]
    n = sum(counts)
    return round(sum(grown) * 1024 / n, 1) if grown and n else None


def brief(r: dict) -> str:
    q = r["requests"]
    return (
        f"{r['factor']}x: issue p99 {q.get('issue', {}).get('p99_ms')} ms, call-next p99 "
        f"{q.get('call_next', {}).get('p99_ms')} ms, displays p99 {r['displays']['p99_ms']} ms, "
        f"phones p99 {r['phones']['p99_ms']} ms, missed {r['missed']}, "
        f"{sum(r['errors'].values())} errors {list(r['errors'])[:3]}, "
        f"servers {r['cpu_ms_per_ticket']['servers']} "
        f"ms CPU/ticket -> {'held' if r['ok'] else 'FAILED'}"
    )


def schema_bytes(db: Database) -> int:
    with db.read() as s:
        return int(
            s.scalar(
                text(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                )
            )
        )


def ticket_count(db: Database) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(Ticket))


def postgres_part(tmp: Path, plans, hour: int, smoke: bool) -> dict:
    factors = SMOKE["factors"] if smoke else FACTORS
    step_s = SMOKE["step_s"] if smoke else STEP_S
    processes = SMOKE["processes"] if smoke else CLUSTER_PROCESSES
    with ExitStack() as stack:
        url = stack.enter_context(postgres_database(POSTGRES_URL))
        tag = f"novbe-national-{os.getpid()}"
        url += f"&application_name={tag}"
        db = Database(url)
        stack.callback(db.dispose)
        upgrade(db.engine)
        t = time.monotonic()
        centers = seed_centers(db, plans, hour)
        empty = schema_bytes(db)
        seeded_centers_s = time.monotonic() - t
        seed_backlog(db, plans, centers, hour)
        seeded_s = time.monotonic() - t
        cluster = start_cluster(tmp / "cluster", url, processes)
        stack.callback(cluster.stop)
        site = Site(
            f"{processes} processes + nginx, PostgreSQL + Redis",
            cluster.servers,
            cluster.nginx.url,
            cluster.nginx.process.pid,
            tag,
            db,
        )
        result = measure(
            site,
            centers,
            tmp,
            factors,
            step_s,
            1 if smoke else LISTENERS,
            1 if smoke else ACTORS,
            half=not smoke,
        )
        tickets, size = ticket_count(db), schema_bytes(db)
        # Killed, not stopped: a worker closing thousands of sockets outlives gunicorn's
        # graceful timeout, and one left behind holds the schema its drop must lock.
        for server in cluster.servers:
            server.kill()
    result["seed_s"] = {"centers": round(seeded_centers_s, 1), "with_backlog": round(seeded_s, 1)}
    result["database"] = {
        "tickets": tickets,
        "bytes_without_tickets": empty,
        "bytes": size,
        "bytes_per_ticket": round((size - empty) / tickets) if tickets else None,
        "mb_per_day": round((size - empty) / tickets * plan_mod.VISITORS / 1e6)
        if tickets
        else None,
    }
    return result


def seed_backlog(db: Database, plans, centers: list[LiveCenter], hour: int) -> None:
    """The peak's waiting visitors, issued through server.queue as kiosks would; a
    phone for every other one (read back from the database, as a phone gets its token
    from the ticket's QR code)."""
    rng = random.Random(plan_mod.SEED)
    for plan, live in zip(plans, centers, strict=True):
        codes, weights = [s[0] for s in live.services], [s[3] for s in live.services]
        with db.write() as s:
            center = s.scalar(select(Center).where(Center.code == plan.code))
            kiosk = factories.kiosk_actor(s, center)
            for _ in range(plan_mod.backlog(plan, hour)):
                issue_ticket(s, plan.code, rng.choices(codes, weights)[0], "az", None, kiosk)
        with db.read() as s:
            waiting = s.scalars(
                select(Ticket)
                .where(Ticket.center_id == center.id, Ticket.status == "waiting")
                .order_by(Ticket.id)
            ).all()
            live.phones = [(t.display_number, t.tracking_token) for t in waiting[::2]]


def sqlite_part(server: LiveServer, tmp: Path, plans, hour: int, smoke: bool) -> dict:
    factors = SMOKE["factors"] if smoke else FACTORS
    step_s = SMOKE["step_s"] if smoke else STEP_S
    centers = seed_centers(server.db, plans, hour)
    seed_backlog(server.db, plans, centers, hour)
    site = Site("1 process, SQLite", [server], server.url, None, None, server.db)
    return measure(site, centers, tmp, factors, step_s, 1 if smoke else 2, 1, half=False)


def _env_overrides() -> None:
    """A reduced full run, to try the instrument: NOVBE_NATIONAL_CENTERS (the first N
    of the network), NOVBE_NATIONAL_STEP_S, NOVBE_NATIONAL_FACTORS ("1,2,5")."""
    global STEP_S, FACTORS
    if value := os.environ.get("NOVBE_NATIONAL_STEP_S"):
        STEP_S = float(value)
    if value := os.environ.get("NOVBE_NATIONAL_FACTORS"):
        FACTORS = tuple(int(x) if float(x).is_integer() else float(x) for x in value.split(","))


def run(ctx) -> dict:
    check_services()
    _env_overrides()
    smoke = ctx.smoke
    database = database_info()
    network = plan_mod.network()
    hour = plan_mod.peak_hour(network)
    # A smoke run: the smallest branches, so it stays short.
    branches = sorted(network[plan_mod.REGIONAL :], key=lambda p: len(p.counters))
    shown = branches[: SMOKE["centers"]] if smoke else network
    if not smoke and (value := os.environ.get("NOVBE_NATIONAL_CENTERS")):
        shown = network[:: -(-len(network) // int(value))]  # spread: regional and branches
    # The SQLite part: regional and branch centers both (the plan lists regional first).
    n = SMOKE["sqlite_centers"] if smoke else SQLITE_CENTERS
    small = [network[0], *network[plan_mod.REGIONAL : plan_mod.REGIONAL + n - 1]]
    with tempfile.TemporaryDirectory(prefix="novbe-national-", dir=ctx.tmp) as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "pg").mkdir()
        (tmp / "sqlite").mkdir()
        postgres = postgres_part(tmp / "pg", shown, hour, smoke)
        sqlite = sqlite_part(ctx.server, tmp / "sqlite", small, hour, smoke)
    summary = plan_mod.summary(shown)
    peak = plan_mod.peak_rate_per_s(shown)
    out_dir, prefix = (
        (ctx.results_dir, f"{ctx.stamp}-national") if smoke else (DOCS_DIR, "national")
    )
    images = national_charts.draw(postgres, sqlite, out_dir, prefix)
    return {
        "network": summary,
        # Set when the run was cut down (_env_overrides): its figures are not the network's.
        "reduced": {k: v for k, v in os.environ.items() if k.startswith("NOVBE_NATIONAL_")},
        "full_network": plan_mod.summary(network),
        "real_peak_tickets_per_s": round(peak, 2),
        "thresholds_ms": {
            "issue_p99": ISSUE_P99_MS,
            "call_next_p99": CALL_P99_MS,
            "delivery_p99": DELIVERY_P99_MS,
        },
        "database_server": database,
        "postgres": postgres,
        "sqlite": sqlite,
        "headroom": postgres["headroom"],
        "sqlite_headroom": sqlite["headroom"],
        "images": [str(p if smoke else p.relative_to(ROOT)) for p in images],
    }
