"""1. Issuance: open-loop POST /centers/<code>/tickets with Idempotency-Keys from
several kiosks; latency at 50/200/500 per second and the highest rate sustained.

Beside every rate, the server's CPU per ticket (utime+stime of the worker from /proc
over the step, divided by the tickets): it holds across runs where rates do not. And
the trivial route's (GET /healthz) CPU per request in the same run, since the targets
are stated as ratios to it."""

from __future__ import annotations

import os
from pathlib import Path

import requests
from sqlalchemy import select

from server.models import Center
from tests import factories

from .common import Job, open_loop

NAME = "issuance"
TITLE = "Issuance: POST tickets (open loop)"
KIOSKS = 4
FIXED_RATES = (50, 200, 500)
SEARCH_RATES = (750, 1000, 1500, 2000)
BISECT_STEPS = 4
TRIVIAL_REQUESTS = 1000  # GET /healthz, one after another, for its CPU per request


def run(ctx) -> dict:
    server = ctx.server
    devices = [{"kind": "kiosk", "name": f"kiosk-{i + 1}"} for i in range(KIOSKS)]
    center = server.new_center(devices=[*devices, {"kind": "display", "name": "hall"}])
    with server.db.write() as s:
        c = s.scalar(select(Center).where(Center.code == center.code))
        tokens = [factories.device_token(s, c, d["name"]) for d in devices]
    url = f"{server.url}/api/v1/centers/{center.code}/tickets"
    bodies = [
        {"service": service, "language": language, "priority": priority}
        for service in ("pension-new", "pension-recalc", "job-seeker")
        for language in ("az", "ru", "en")
        for priority in (None, None, None, "elderly")
    ]
    duration = 1.0 if ctx.smoke else 10.0
    rates = (10, 20) if ctx.smoke else FIXED_RATES
    search = () if ctx.smoke else SEARCH_RATES

    pid = ctx.worker_pid()

    def at(rate: float) -> dict:
        threads = 4 if ctx.smoke else 32
        before = _cpu_s(pid) if pid else 0.0
        step = open_loop(Job(url, tokens, bodies, rate, duration, KIOSKS, threads))
        spent = _cpu_s(pid) - before if pid else None
        step["cpu_ms_per_ticket"] = _per(spent, step["ok"])
        return step

    if not ctx.smoke:  # warm up: connections, caches, the first pages of the tables
        open_loop(Job(url, tokens, bodies, 50, 2.0, KIOSKS, 8))
    fixed = [at(rate) for rate in rates]
    steps = list(fixed)
    held = [s["offered_per_s"] for s in fixed if _sustained(s)]
    failed = [s["offered_per_s"] for s in fixed if not _sustained(s)]
    if search and not failed:
        for rate in search:
            step = at(rate)
            steps.append(step)
            if not _sustained(step):
                break
    elif search:  # bisect between the highest rate held and the lowest that failed
        low, high = max(held, default=0), min(failed)
        for _ in range(BISECT_STEPS):
            rate = round((low + high) / 2)
            if high - low < 10:
                break
            step = at(rate)
            steps.append(step)
            low, high = (rate, high) if _sustained(step) else (low, rate)
    held = [s["offered_per_s"] for s in steps if _sustained(s)]
    trivial = _trivial_cpu_ms(server.url, pid, 100 if ctx.smoke else TRIVIAL_REQUESTS)
    at_200 = next((s for s in fixed if s["offered_per_s"] == 200), None)
    per_ticket = at_200["cpu_ms_per_ticket"] if at_200 else None
    return {
        "kiosks": KIOSKS,
        "trivial_cpu_ms_per_request": trivial,
        "cpu_ms_per_ticket_at_200": per_ticket,
        # A ticket's CPU at 200/s over the trivial route's, measured in the same run.
        "cpu_ratio_to_trivial": round(per_ticket / trivial, 2) if per_ticket and trivial else None,
        "duration_s": duration,
        "rates": fixed,
        "search": steps[len(fixed) :],
        "max_sustained_per_s": max(held) if held else None,
    }


def _cpu_s(pid: int) -> float:
    """utime + stime of the worker, in seconds (bench/processes.py reads the same)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _per(seconds: float | None, count: int) -> float | None:
    return round(seconds * 1000 / count, 3) if seconds is not None and count else None


def _trivial_cpu_ms(base_url: str, pid: int | None, n: int) -> float | None:
    """The worker's CPU per GET /healthz (the least a request costs: gunicorn, Flask and
    the middlewares), one keep-alive connection."""
    if not pid:
        return None
    session = requests.Session()
    session.get(f"{base_url}/healthz").raise_for_status()  # connected, warm
    before = _cpu_s(pid)
    for _ in range(n):
        session.get(f"{base_url}/healthz")
    return _per(_cpu_s(pid) - before, n)


def _sustained(step: dict) -> bool:
    """No errors, kept up with the offered rate, and no backlog building up (a p99 of
    a second means requests were queueing behind the schedule)."""
    return (
        step["errors"] == 0
        and step["achieved_per_s"] >= 0.95 * step["offered_per_s"]
        and (step["p99_ms"] or 0) < 1000
    )
