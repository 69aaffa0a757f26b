"""``python -m bench.attack_login [--smoke] [--seconds N] [--out FILE]``: 8 clients
hammer ``POST /api/v1/auth/token`` with wrong passwords against ``novbe serve`` (gunicorn,
one gevent worker, tests/live.py), while a probe measures ``/healthz``.

Four phases, each on a fresh server:

* ``idle``: the probe alone (the reference latency);
* ``control``: the same clients post the same body to an unrouted URL (404): what any
  flood of cheap requests costs the probe, for comparison with ``attack``;
* ``attack``: the default login limits: the username locks after 5 failures and the
  rest is refused (429) without a password check;
* ``hashing``: limits raised out of reach (NOVBE_LOGIN_LIMITS_*), so every request runs
  a real scrypt check: what is left is the cost of the check itself, and whether it
  stalls the event loop (server/password_work.py).

Reported per phase: /healthz p50/p95/max, login answers per second by status, the
worker's CPU per login request (all its threads) and the share of it spent outside the
event loop's thread, and the worker's RSS. Each attacker and the probe connect from
their own loopback address (127.0.0.10 and up, 127.0.0.2), as separate clients would.

To measure the code before a change, run this file from a checkout of that code
(``git archive HEAD | tar -x -C DIR``, copy this file into DIR/bench, then
``cd DIR && python -m bench.attack_login``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import requests

from tests.live import start_live_server

from .common import machine, rss_mb, session_from, summary_ms, worker_pid

CLIENTS = 8
WRONG = "wrong-password-123"
UNREACHABLE = "1000000/minute"
LOGIN = "/api/v1/auth/token"
PROBE_EVERY_S = 0.05
PROBE_ADDRESS = "127.0.0.2"  # attackers: 127.0.0.10 and up
CLK_TCK = os.sysconf("SC_CLK_TCK")


def thread_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of ``pid``."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def probe(url: str, stop: threading.Event, latencies: list[float], failures: list[str]) -> None:
    session = session_from(PROBE_ADDRESS)
    while not stop.is_set():
        started = time.perf_counter()
        try:
            ok = session.get(f"{url}/healthz", timeout=30).status_code == 200
        except requests.RequestException as exc:
            failures.append(type(exc).__name__)
            continue
        if ok:
            latencies.append(time.perf_counter() - started)
        else:
            failures.append("status")
        time.sleep(max(0.0, PROBE_EVERY_S - (time.perf_counter() - started)))


_count_lock = threading.Lock()


def attacker(
    url: str, address: str, username: str, stop: threading.Event, statuses: dict[str, int]
) -> None:
    session = session_from(address)
    body = {"username": username, "password": WRONG}
    while not stop.is_set():
        try:
            code = str(session.post(url, json=body, timeout=60).status_code)
        except requests.RequestException as exc:
            code = type(exc).__name__
        with _count_lock:
            statuses[code] = statuses.get(code, 0) + 1


def phase(name: str, seconds: float, clients: int, env: dict[str, str], path: str = LOGIN) -> dict:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # start_live_server passes this environment on
    try:
        with tempfile.TemporaryDirectory(prefix="novbe-attack-login-") as tmp:
            server = start_live_server(Path(tmp))
            try:
                return _measure(name, server, seconds, clients, path)
            finally:
                server.stop()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _measure(name: str, server, seconds: float, clients: int, path: str) -> dict:
    center = server.new_center()
    pid = worker_pid(server.process.pid)
    # Warm up: the first login makes the dummy hash and loads what logins import.
    server.api("POST", "/auth/token", json={"username": "warm-up", "password": WRONG})
    time.sleep(1)
    stop = threading.Event()
    latencies: list[float] = []
    failures: list[str] = []
    statuses: dict[str, int] = {}
    cpu_before = thread_cpu_s(pid)
    rss_before = rss_mb(pid)
    threads = [threading.Thread(target=probe, args=(server.url, stop, latencies, failures))]
    threads += [
        threading.Thread(
            target=attacker,
            args=(server.url + path, f"127.0.0.{10 + n}", center.staff_username, stop, statuses),
        )
        for n in range(clients)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    cpu_after = thread_cpu_s(pid)
    main = cpu_after.get(pid, 0) - cpu_before.get(pid, 0)
    total = sum(cpu - cpu_before.get(tid, 0) for tid, cpu in cpu_after.items())
    logins = sum(statuses.values())
    return {
        "phase": name,
        "seconds": round(elapsed, 1),
        "healthz": {**summary_ms(latencies), "failures": len(failures)},
        "logins": logins,
        "logins_per_s": round(logins / elapsed, 1),
        "statuses": dict(sorted(statuses.items())),
        "worker_cpu_s": round(total, 2),
        "cpu_ms_per_login": round(1000 * total / logins, 1) if logins else None,
        "cpu_share_off_loop": round(1 - main / total, 2) if total else None,
        "rss_mb": {"before": _round(rss_before), "after": _round(rss_mb(pid))},
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.attack_login")
    parser.add_argument("--smoke", action="store_true", help="3 s phases, 2 clients")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, help="also write the results here (JSON)")
    args = parser.parse_args(argv)
    seconds, clients = (3.0, 2) if args.smoke else (args.seconds, CLIENTS)
    limits_off = {
        "NOVBE_LOGIN_LIMITS_USERNAME": UNREACHABLE,
        "NOVBE_LOGIN_LIMITS_ADDRESS": UNREACHABLE,
    }
    report = {
        "machine": machine(),
        "clients": clients,
        "phases": [
            phase("idle", seconds, 0, {}),
            phase("control", seconds, clients, {}, "/api/v1/no-such-route"),
            phase("attack", seconds, clients, {}),
            phase("hashing", seconds, clients, limits_off),
        ],
    }
    print(
        f"{'phase':<9} {'healthz p50/p95/max ms':>24} {'logins/s':>9} "
        f"{'CPU ms/login':>13} {'off loop':>9}  statuses"
    )
    for p in report["phases"]:
        h = p["healthz"]
        print(
            f"{p['phase']:<9} {h['p50_ms']!s:>8}/{h['p95_ms']!s}/{h['max_ms']!s:<7} "
            f"{p['logins_per_s']:>9} {p['cpu_ms_per_login']!s:>13} "
            f"{p['cpu_share_off_loop']!s:>9}  {p['statuses']}"
        )
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
