"""1. Issuance: open-loop POST /centers/<code>/tickets with Idempotency-Keys from
several kiosks; latency at 50/200/500 per second and the highest rate sustained."""

from __future__ import annotations

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

    def at(rate: float) -> dict:
        threads = 4 if ctx.smoke else 32
        return open_loop(Job(url, tokens, bodies, rate, duration, KIOSKS, threads))

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
    return {
        "kiosks": KIOSKS,
        "duration_s": duration,
        "rates": fixed,
        "search": steps[len(fixed) :],
        "max_sustained_per_s": max(held) if held else None,
    }


def _sustained(step: dict) -> bool:
    """No errors, kept up with the offered rate, and no backlog building up (a p99 of
    a second means requests were queueing behind the schedule)."""
    return (
        step["errors"] == 0
        and step["achieved_per_s"] >= 0.95 * step["offered_per_s"]
        and (step["p99_ms"] or 0) < 1000
    )
