"""Shared pieces: the run context, percentiles, an open-loop load generator."""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

from tests.live import LiveServer


@dataclass
class Context:
    server: LiveServer
    smoke: bool
    tmp: Path
    results_dir: Path  # where this run's result file goes; scenarios may add files beside it
    stamp: str  # the result file's name, without .json

    def worker_pid(self) -> int | None:
        """The gunicorn worker: the child of the master process ``novbe serve`` execs."""
        return worker_pid(self.server.process.pid)


def worker_pid(master: int) -> int | None:
    children = Path(f"/proc/{master}/task/{master}/children")
    try:
        pids = [int(p) for p in children.read_text().split()]
    except OSError:
        return None
    return pids[0] if pids else None


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": _round(percentile(ms, 50)),
        "p95_ms": _round(percentile(ms, 95)),
        "p99_ms": _round(percentile(ms, 99)),
        "max_ms": _round(max(ms) if ms else None),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def machine() -> dict:
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1), "cpu": model}


MAX_LAG_S = 15.0  # a request this far behind its slot is not sent: the step has failed

# --- open-loop load: requests scheduled at a fixed rate, latency from the scheduled time


@dataclass
class Job:
    """A POST to send at ``rate`` per second for ``duration`` seconds, split over
    ``processes`` client processes (kiosks), each with ``threads`` connections."""

    url: str
    tokens: list[str]  # one per process: each process is its own kiosk
    bodies: list[dict]  # cycled through
    rate: float
    duration: float
    processes: int = 4
    threads: int = 16
    idempotency: bool = True


def open_loop(job: Job) -> dict:
    """Offered rate ``job.rate``, however fast the server answers: a request whose slot
    has come waits for a free connection, and that wait counts in its latency (no
    coordinated omission)."""
    start = time.time() + 0.5  # every process starts its schedule at the same instant
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(job.processes) as pool:
        parts = pool.starmap(_client, [(job, i, start) for i in range(job.processes)])
    latencies = [lat for part in parts for lat in part["latencies"]]
    errors = sum(part["errors"] for part in parts)
    statuses: dict[str, int] = {}
    for part in parts:
        for code, n in part["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    finished = max(part["finished"] for part in parts)
    sent = len(latencies) + errors
    return {
        "offered_per_s": job.rate,
        "sent": sent,
        "ok": len(latencies),
        "errors": errors,
        "statuses": statuses,
        "achieved_per_s": round(len(latencies) / max(finished - start, job.duration), 1),
        **summary_ms(latencies),
    }


def _client(job: Job, index: int, start: float) -> dict:
    rate = job.rate / job.processes
    total = int(rate * job.duration)
    # Interleave the processes' schedules so the whole stays evenly spaced.
    offset = index / job.rate
    slots = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    headers = {"Authorization": f"Bearer {job.tokens[index % len(job.tokens)]}"}

    def worker() -> None:
        nonlocal errors
        session = requests.Session()
        while True:
            with lock:
                k = next(slots)
            if k >= total:
                return
            due = start + offset + k / rate
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            elif -delay > MAX_LAG_S:  # hopelessly behind: count it, do not send it
                with lock:
                    statuses["not sent (backlog)"] = statuses.get("not sent (backlog)", 0) + 1
                    errors += 1
                continue
            h = dict(headers)
            if job.idempotency:
                h["Idempotency-Key"] = uuid.uuid4().hex
            body = job.bodies[(k * job.processes + index) % len(job.bodies)]
            try:
                response = session.post(job.url, json=body, headers=h, timeout=30)
                code = str(response.status_code)
                ok = response.status_code < 300
            except requests.RequestException as exc:
                code, ok = type(exc).__name__, False
            elapsed = time.time() - due
            with lock:
                statuses[code] = statuses.get(code, 0) + 1
                if ok:
                    latencies.append(elapsed)
                else:
                    errors += 1

    threads = [threading.Thread(target=worker) for _ in range(job.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "latencies": latencies,
        "errors": errors,
        "statuses": statuses,
        "finished": time.time(),
    }


class FromAddress(HTTPAdapter):
    """Connect from ``address`` (any of 127.0.0.0/8 reaches a loopback server): each
    simulated client is its own client to the server's per-address limits."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(address: str) -> requests.Session:
    """A requests session whose connections come from ``address``."""
    session = requests.Session()
    session.mount("http://", FromAddress(address))
    return session
