"""``python -m bench.attack [--scenario sockets|slow-bodies|all] [--count N]
[--seconds S] [--smoke] [--out FILE]``: floods ``novbe serve`` (gunicorn, one gevent
worker, SQLite, tests/live.py) with what anyone can open without a credential, while
a probe measures ``/healthz`` and a center keeps working. An attack benchmark, not a
test: loopback only, bounded in count and time, it stops by itself.

Each scenario runs on a fresh server:

* ``sockets``: N public live connections (the public page's ``{"public": center}``,
  no credential) from 25 loopback addresses (127.0.0.20 and up), held S seconds; once
  they are open, 300 more from ONE address (127.0.0.90), which the per-address cap
  refuses beyond its 200;
* ``slow-bodies``: N login POSTs sending their body one byte every 5 s, from 50
  addresses (each under the per-address cap of requests in flight), reopened as soon as
  the server ends them, held S seconds; once they are open, 100 more from ONE address
  (127.0.0.95) for 8 s, which the cap holds to 64 in flight.

During each, and for a quiet reference before it: a probe GETs ``/healthz`` every
50 ms on a new connection (as a load balancer's health check would: it must be
accepted, not only answered), a display's token reads the center's queue every 200 ms
and its kiosk issues a ticket every second (each issue pushes ``public.stats`` to every
public connection). Reported: /healthz p50/p95/max and failures, the center's calls and
their p95, the worker's CPU (share of one core, and per connection opened) and RSS with
the flood held, 5 s and 45 s after it ends.

Run it alone on the machine: the figures are only as quiet as the cores are.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

from tests.live import LiveServer, start_live_server

from .common import machine, rss_mb, session_from, summary_ms, worker_pid

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PROBE_EVERY_S = 0.05
STAFF_EVERY_S = 0.2
ISSUE_EVERY_S = 1.0
QUIET_S = 5.0
SWARMS = 5  # client processes for the sockets: one would be slower than the server
PUBLIC_SOURCES, PUBLIC_BASE = 25, 20
ONE_ADDRESS_SOCKETS, ONE_SOCKET_ADDRESS = 300, 90
SLOW_SOURCES, SLOW_BASE = 50, 20
ONE_ADDRESS_BODIES, ONE_BODY_ADDRESS = 100, 95
ONE_ADDRESS_S = 8.0  # how long the one-address check runs, before the measured window
PROBE_ADDRESS = "127.0.0.2"
CENTER_ADDRESS = "127.0.0.3"


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Watch:
    """The probe and the center's own traffic, in threads, until ``stop()``."""

    issue_every_s = ISSUE_EVERY_S  # 0: the kiosk issues nothing

    def __init__(self, server: LiveServer, center) -> None:
        self.server, self.center = server, center
        self.halt = threading.Event()
        self.health: list[float] = []
        self.health_at: list[float] = []  # when each probe started, from the window's start
        self.health_failures: list[str] = []
        self.staff: list[float] = []
        self.staff_failures: list[str] = []
        self.worker = worker_pid(server.process.pid)
        self.rss_peak = 0.0
        self.threads = [
            threading.Thread(target=self._probe),
            threading.Thread(target=self._staff),
        ]
        if self.issue_every_s > 0:
            self.threads.append(threading.Thread(target=self._kiosk))

    def __enter__(self) -> Watch:
        self.started, self.cpu_started = time.monotonic(), cpu_s(self.worker)
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.halt.set()
        for thread in self.threads:
            thread.join()
        self.elapsed = time.monotonic() - self.started
        self.cpu_used = cpu_s(self.worker) - self.cpu_started

    def _probe(self) -> None:
        url = f"{self.server.url}/healthz"
        while not self.halt.wait(PROBE_EVERY_S):
            start = time.monotonic()
            try:
                with session_from(PROBE_ADDRESS) as fresh:  # a new connection each time
                    response = fresh.get(url, timeout=10, headers={"Connection": "close"})
                if response.status_code == 200:
                    self.health.append(time.monotonic() - start)
                    self.health_at.append(start - self.started)
                else:
                    self.health_failures.append(str(response.status_code))
            except requests.RequestException as exc:
                self.health_failures.append(type(exc).__name__)
            self.rss_peak = max(self.rss_peak, rss_mb(self.worker) or 0)

    def _staff(self) -> None:
        url = f"{self.server.url}/api/v1/centers/{self.center.code}/queue"
        headers = {"Authorization": f"Bearer {self.center.display_token}"}
        with session_from(CENTER_ADDRESS) as session:
            while not self.halt.wait(STAFF_EVERY_S):
                self._timed(session, "GET", url, headers, None)

    def _kiosk(self) -> None:
        url = f"{self.server.url}/api/v1/centers/{self.center.code}/tickets"
        headers = {"Authorization": f"Bearer {self.center.kiosk_token}"}
        body = {"service": "pension-new", "language": "az"}
        with session_from(CENTER_ADDRESS) as session:
            while not self.halt.wait(self.issue_every_s):
                self._timed(session, "POST", url, headers, body)

    def _timed(self, session, method, url, headers, body) -> None:
        start = time.monotonic()
        try:
            response = session.request(method, url, headers=headers, json=body, timeout=10)
            if response.status_code < 300:
                self.staff.append(time.monotonic() - start)
            else:
                self.staff_failures.append(str(response.status_code))
        except requests.RequestException as exc:
            self.staff_failures.append(type(exc).__name__)

    def report(self) -> dict:
        return {
            "seconds": round(self.elapsed, 1),
            "healthz": {
                **summary_ms(self.health),
                "failures": _tally(self.health_failures),
                # The slowest probes and when (s into the window): what stalled, and when.
                "slowest": [
                    [round(at, 1), round(1000 * lasted)]
                    for lasted, at in sorted(
                        zip(self.health, self.health_at, strict=True), reverse=True
                    )[:5]
                ],
            },
            "center_calls": {
                **summary_ms(self.staff),
                "failures": _tally(self.staff_failures),
            },
            "worker_cpu_pct": round(100 * self.cpu_used / self.elapsed, 1),
            "worker_rss_peak_mb": round(self.rss_peak, 1),
        }


def _tally(items: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def _python(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", *args], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )


def _ready(process: subprocess.Popen) -> int:
    line = process.stdout.readline().split()
    if len(line) != 2 or line[0] != "READY":
        raise RuntimeError(f"the load did not start: {line}")
    return int(line[1])


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()


def _after(server: LiveServer, wait_s: float) -> dict:
    worker = worker_pid(server.process.pid)
    time.sleep(5)
    after = {"worker_rss_5s_after_mb": round(rss_mb(worker) or 0, 1)}
    if wait_s > 5:
        time.sleep(wait_s - 5)
        after[f"worker_rss_{wait_s:g}s_after_mb"] = round(rss_mb(worker) or 0, 1)
    return after


def sockets(server: LiveServer, count: int, seconds: float, settle_s: float) -> dict:
    center = server.new_center()
    worker = worker_pid(server.process.pid)
    with Watch(server, center) as quiet:
        time.sleep(QUIET_S)
    rss_before = rss_mb(worker)
    auth = json.dumps({"public": center.code})
    hold = str(seconds + 120)  # the swarms hold until killed
    per_swarm = count // SWARMS
    swarms, cpu0, t0 = [], cpu_s(worker), time.monotonic()
    for k in range(SWARMS):
        sources = PUBLIC_SOURCES // SWARMS
        base = PUBLIC_BASE + k * sources
        swarms.append(
            _python(
                "tests.swarm",
                server.url,
                auth,
                str(per_swarm),
                "never.sent",
                "--timeout",
                hold,
                "--sources",
                str(sources),
                "--source-base",
                str(base),
            )  # fmt: skip
        )
    try:
        connected = sum(_ready(swarm) for swarm in swarms)
        connect = {
            "connected": connected,
            "seconds": round(time.monotonic() - t0, 1),
            "worker_cpu_ms_per_connection": round(1000 * (cpu_s(worker) - cpu0) / count, 2),
        }
        one = _python(
            "tests.swarm", server.url, auth, str(ONE_ADDRESS_SOCKETS), "never.sent",
            "--timeout", "1", "--sources", "1", "--source-base", str(ONE_SOCKET_ADDRESS),
        )  # fmt: skip
        one_connected = _ready(one)
        one_result = json.loads(one.stdout.readline())
        one.wait()
        with Watch(server, center) as flood:
            time.sleep(seconds)
    finally:
        _stop(swarms)
    return {
        "count": count,
        "addresses": PUBLIC_SOURCES,
        "quiet": quiet.report(),
        "connect": connect,
        "held": flood.report(),
        "one_address": {
            "tried": ONE_ADDRESS_SOCKETS,
            "connected": one_connected,
            "refusals": one_result["errors"],
        },
        "worker_rss_before_mb": round(rss_before or 0, 1),
        **_after(server, settle_s),
    }


def slow_bodies(server: LiveServer, count: int, seconds: float, settle_s: float) -> dict:
    center = server.new_center()
    worker = worker_pid(server.process.pid)
    with Watch(server, center) as quiet:
        time.sleep(QUIET_S)
    rss_before = rss_mb(worker)
    load = _python(
        "bench.slow_bodies", server.url, str(count), "--sources", str(SLOW_SOURCES),
        "--source-base", str(SLOW_BASE), "--seconds", str(ONE_ADDRESS_S + seconds + 10),
    )  # fmt: skip
    one = None
    try:
        opened = _ready(load)
        one = _python(
            "bench.slow_bodies", server.url, str(ONE_ADDRESS_BODIES),
            "--source-base", str(ONE_BODY_ADDRESS), "--seconds", str(ONE_ADDRESS_S),
        )  # fmt: skip
        _ready(one)
        one_outcomes = json.loads(one.stdout.readline())
        with Watch(server, center) as flood:
            time.sleep(seconds)
        outcomes = json.loads(load.stdout.readline())
    finally:
        _stop([p for p in (load, one) if p is not None])
    return {
        "count": count,
        "addresses": SLOW_SOURCES,
        "quiet": quiet.report(),
        "opened": opened,
        "held": flood.report(),
        "ended_by_server": outcomes,
        "one_address": {"tried": ONE_ADDRESS_BODIES, "ended_by_server": one_outcomes},
        "worker_rss_before_mb": round(rss_before or 0, 1),
        **_after(server, settle_s),
    }


SCENARIOS = {"sockets": sockets, "slow-bodies": slow_bodies}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.attack")
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    parser.add_argument("--count", type=int, default=2500, help="connections in the flood")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long it is held")
    parser.add_argument(
        "--issue-every", type=float, default=ISSUE_EVERY_S, help="seconds; 0: no tickets"
    )
    parser.add_argument("--smoke", action="store_true", help="100 connections, 5 s")
    parser.add_argument("--out", type=Path, help="also write the results here (JSON)")
    args = parser.parse_args(argv)
    count, seconds = (100, 5.0) if args.smoke else (args.count, args.seconds)
    settle_s = 5.0 if args.smoke else 75.0  # a maintenance round (60 s) trims the heap
    chosen = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    Watch.issue_every_s = args.issue_every

    report = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.attack " + " ".join(argv or sys.argv[1:]),
        "machine": machine(),
        "server": "novbe serve: gunicorn, 1 gevent worker, SQLite (tests/live.py)",
        "scenarios": {},
    }
    for name in chosen:
        print(f"== {name}: {count} for {seconds:g} s", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="novbe-attack-") as tmp:
            server = start_live_server(Path(tmp))
            try:
                report["scenarios"][name] = SCENARIOS[name](server, count, seconds, settle_s)
            finally:
                server.stop()
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
