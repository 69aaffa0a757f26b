"""0. The ceiling: the same server answering GET /healthz as fast as it can."""

from __future__ import annotations

import multiprocessing
import re
import shutil
import subprocess
import threading
import time

import requests

NAME = "ceiling"
TITLE = "Ceiling: GET /healthz"


def run(ctx) -> dict:
    url = f"{ctx.server.url}/healthz"
    duration = 2 if ctx.smoke else 10
    if shutil.which("wrk"):
        return _wrk(url, duration, connections=8 if ctx.smoke else 64)
    return _python(url, duration, processes=2, threads=2 if ctx.smoke else 16)


def _wrk(url: str, duration: int, connections: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)

    def lat(label: str) -> float | None:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return None
        factor = {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
        return round(float(m.group(1)) * factor, 2)

    return {
        "tool": f"wrk -t2 -c{connections} -d{duration}s",
        "requests_per_s": round(rate, 1),
        "p50_ms": lat("50"),
        "p99_ms": lat("99"),
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else None,
    }


def _python(url: str, duration: int, processes: int, threads: int) -> dict:
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(processes) as pool:
        counts = pool.starmap(_hammer, [(url, duration, threads)] * processes)
    ok = sum(c[0] for c in counts)
    return {
        "tool": f"python requests, {processes} processes x {threads} threads",
        "requests_per_s": round(ok / duration, 1),
        "errors": sum(c[1] for c in counts),
    }


def _hammer(url: str, duration: float, threads: int) -> tuple[int, int]:
    end = time.monotonic() + duration
    totals = [0, 0]
    lock = threading.Lock()

    def loop() -> None:
        session = requests.Session()
        ok = bad = 0
        while time.monotonic() < end:
            try:
                if session.get(url, timeout=10).status_code == 200:
                    ok += 1
                else:
                    bad += 1
            except requests.RequestException:
                bad += 1
        with lock:
            totals[0] += ok
            totals[1] += bad

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return totals[0], totals[1]
