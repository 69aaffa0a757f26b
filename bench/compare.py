"""``python -m bench.compare REV [--rounds N]``: a ticket's and a desk press's server CPU
on this tree against revision REV (a git worktree made for the run), on a real
``novbe serve`` (SQLite, production settings, tests/live.py), the two trees taking
turns so the machine's drift hits both alike.

What a change costs a whole request, as the server spends it (gunicorn, gevent, HTTP,
the live channel's figures): issue 14 used it for "the ledger may not slow issuance or
call-next by more than 10%" (docs/benchmarks.md).

* issuance: ``ISSUED`` tickets at one center of 40 services (bench/day_plan.py), from 1
  keep-alive client (each ticket its own transaction) and from 8 (group commit);
* call-next: ``PRESSES`` one-press calls (``{"start": true}``, which first completes
  the counter's visitor) from its 20 counters at once, each a keep-alive client.

Each measurement is a fresh server; CPU is the gunicorn worker's utime+stime from /proc
over the measured requests (bench/processes.py). A round moves by ±10% with the
machine's other work: the table gives each figure's median and range over the rounds.
The probe (``--probe``) runs inside the tree it measures and uses only what both trees
have.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ISSUED = {1: 800, 8: 2000}
PRESSES, DESKS = 600, 20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare")
    parser.add_argument("revision", nargs="?", help="the git revision to compare with")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--probe", choices=["issue-1", "issue-8", "press"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        print(json.dumps(_probe(args.probe)))
        return 0
    if not args.revision:
        parser.error("give the revision to compare with")
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "other"
        subprocess.run(
            [
                "git",
                "-C",
                str(ROOT),
                "worktree",
                "add",
                "--detach",
                "-q",
                str(other),
                args.revision,
            ],
            check=True,
        )
        vendor = ROOT / "server" / "static" / "vendor"  # browser assets: not in git
        if vendor.exists():
            subprocess.run(["cp", "-r", str(vendor), str(other / "server" / "static")], check=True)
        try:
            results = _rounds({"this tree": ROOT, args.revision: other}, args.rounds)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)])
    _print(results, args.revision)
    return 0


def _rounds(trees: dict[str, Path], rounds: int) -> dict:
    results: dict = {name: {} for name in trees}
    for _ in range(rounds):
        for probe in ("issue-1", "issue-8", "press"):
            for name, tree in trees.items():
                out = subprocess.run(
                    [sys.executable, str(Path(__file__).resolve()), "--probe", probe],
                    cwd=tree,
                    env=dict(os.environ, PYTHONPATH=str(tree)),
                    capture_output=True,
                    text=True,
                    timeout=600,
                    check=True,
                )
                step = json.loads(out.stdout.strip().splitlines()[-1])
                results[name].setdefault(probe, []).append(step["cpu_ms"])
    return results


def _print(results: dict, revision: str) -> None:
    names = {
        "issue-1": "issuance, 1 client",
        "issue-8": "issuance, 8 clients",
        "press": "call-next press, 20 desks",
    }
    print(f"| Server CPU per operation, median (range) | {revision} | this tree | change |")
    print("|---|---:|---:|---:|")
    for probe, label in names.items():
        before, after = results[revision][probe], results["this tree"][probe]
        b, a = statistics.median(before), statistics.median(after)
        print(
            f"| {label} | {b:.2f} ms ({min(before):.2f}–{max(before):.2f}) | "
            f"{a:.2f} ms ({min(after):.2f}–{max(after):.2f}) | {100 * (a - b) / b:+.1f}% |"
        )
    print(json.dumps(results))


# --- the probe: runs with cwd and PYTHONPATH = the tree it measures


def _probe(kind: str) -> dict:
    sys.path.insert(0, os.getcwd())
    import requests

    from bench import day_plan
    from bench.common import worker_pid
    from bench.processes import cpu_seconds
    from tests.live import start_live_server

    with tempfile.TemporaryDirectory() as tmp:
        server = start_live_server(Path(tmp))
        try:
            spec = day_plan.center_spec("Asia/Baku", 1)
            spec["hours"] = {"open": "00:00", "close": "23:59"}
            services = [s["code"] for c in spec["categories"] for s in c["services"]]
            center = server.new_center(**spec)
            for label in center.counters:
                server.set_counter_state(center, label, "open")
            kiosk = {"Authorization": f"Bearer {center.kiosk_token}"}
            staff = {"Authorization": f"Bearer {center.staff_token}"}
            tickets_url = f"{server.url}/api/v1/centers/{center.code}/tickets"

            def issue(n: int, offset: int) -> None:
                session = requests.Session()
                for i in range(n):
                    body = {"service": services[(offset + i) % len(services)], "language": "az"}
                    r = session.post(tickets_url, json=body, headers=kiosk, timeout=30)
                    assert r.status_code == 201, r.text

            def press(counter: int, n: int) -> None:
                session = requests.Session()
                url = f"{server.url}/api/v1/counters/{counter}/call-next"
                for _ in range(n):
                    r = session.post(url, json={"start": True}, headers=staff, timeout=30)
                    assert r.status_code in (200, 204), r.text

            def at_once(target, args_list) -> None:
                threads = [threading.Thread(target=target, args=a) for a in args_list]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()

            if kind == "press":
                issue(PRESSES * 3, 0)
                at_once(press, [(c, 5) for c in center.counters.values()])  # warm up
                work = lambda: at_once(  # noqa: E731
                    press, [(c, PRESSES // DESKS) for c in center.counters.values()]
                )
                count = PRESSES
            else:
                clients = int(kind.split("-")[1])
                issue(100, 0)  # warm up
                count = ISSUED[clients]
                work = lambda: at_once(  # noqa: E731
                    issue, [(count // clients, k * 7) for k in range(clients)]
                )
            worker = worker_pid(server.process.pid)
            cpu0, started = cpu_seconds([worker]), time.monotonic()
            work()
            cpu, elapsed = cpu_seconds([worker]) - cpu0, time.monotonic() - started
        finally:
            server.stop()
    return {"cpu_ms": round(cpu * 1000 / count, 3), "per_s": round(count / elapsed, 1)}


if __name__ == "__main__":
    sys.exit(main())
