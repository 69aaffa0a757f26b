"""5. A simulated busy day of one center: 3,000 visitors by an hourly profile over 40
services, 20 counters with different service mixes, priority visitors and no-shows,
through the real API on a clock compressed 100 times. Per service: average and p90
wait and the service level; overall: how far the wait estimated at issue was from the
wait that followed. Charts in docs/benchmarks/ (a smoke run puts them beside its
results instead)."""

from __future__ import annotations

import csv
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from server.auth import create_staff, issue_staff_token
from server.models import LANE_NORMAL, Center, Service, Ticket, utcnow
from server.queue.issuing import new_tracking_token
from server.queue.numbering import business_day
from tests import factories

from . import day_charts, day_plan, day_stats
from .common import summary_ms
from .day_sim import Clock, Day, Desk, Record

NAME = "day"
TITLE = "Simulated busy day: 3,000 visitors, 40 services, 20 counters"
VISITORS, FACTOR = 3000, 100
# The smallest day of this seed with a no-show: the smoke run takes the recall and no-show
# path too (and priority visitors).
SMOKE_VISITORS, SMOKE_FACTOR = 72, 2000
KIOSKS = 2
KIOSK_LINES = 4  # concurrent issuing connections: a slow answer must not delay the next
DRAIN_LIMIT_MIN = 180  # desks give up 3 simulated hours after closing
HISTORY = 20  # the estimate's sample: completed tickets per service (estimates.py)
ROOT = Path(__file__).resolve().parent.parent
DOCS_DIR = ROOT / "docs" / "benchmarks"


def run(ctx) -> dict:
    visitors, factor = (SMOKE_VISITORS, SMOKE_FACTOR) if ctx.smoke else (VISITORS, FACTOR)
    plan = day_plan.visitors(visitors)
    server = ctx.server
    center = server.new_center(**day_plan.center_spec(midday_zone(), KIOSKS))
    kiosk_tokens, desks = credentials(server, center)
    seed_history(server, center.code, factor)
    for desk in desks:  # every counter opens at 09:00
        response = server.api(
            "POST", f"/counters/{desk.counter_id}/state", desk.token, json={"state": "open"}
        )
        response.raise_for_status()

    clock = Clock(factor, time.time() + 1.0)
    deadline = day_plan.CLOSE_MIN + DRAIN_LIMIT_MIN
    day = Day(server.url, center.code, kiosk_tokens, desks, plan, clock, KIOSK_LINES, deadline)
    started = time.monotonic()
    records = day.run()
    simulated_s = time.monotonic() - started

    tickets = day_stats.simulated(records, clock)
    called = [t.called for t in tickets if t.called is not None]
    note = f"{visitors:,} visitors, {len(desks)} counters, {len(day_plan.SERVICES)} services"
    out_dir, prefix = (ctx.results_dir, f"{ctx.stamp}-day") if ctx.smoke else (DOCS_DIR, "day")
    images = day_charts.draw(tickets, out_dir, prefix, note)
    trace = ctx.results_dir / f"{ctx.stamp}-day-tickets.csv"
    write_trace(records, clock, trace)
    lags = [
        r.issued_at - clock.real(r.visitor.arrival_min) for r in records if r.issued_at is not None
    ]
    return {
        "visitors": visitors,
        "factor": factor,
        "services": len(day_plan.SERVICES),
        "counters": len(desks),
        "seed": day_plan.SEED,
        "offered_load": day_plan.offered_load(plan, len(desks)),
        "simulated_s": round(simulated_s, 1),
        "day": {
            **day_stats.waits(tickets),
            "done": sum(1 for t in tickets if t.outcome == "done"),
            "no_show": sum(1 for t in tickets if t.outcome == "no_show"),
            "priority": sum(1 for t in tickets if t.priority),
            "not_issued": sum(1 for r in records if r.issued_at is None),
            "left_waiting": left_waiting(server, center),
            "last_call": clock_time(max(called, default=None)),
        },
        "estimate": day_stats.accuracy(tickets),
        "estimate_rule": (
            f"|estimate - real| <= max({day_stats.TOLERANCE_SHARE:.0%} of real, "
            f"{day_stats.TOLERANCE_MIN:g} simulated min)"
        ),
        "per_service": day_stats.per_service(tickets),
        "requests": {kind: summary_ms(v) for kind, v in sorted(day.stats.latencies.items())},
        "issue_lag": summary_ms(lags),
        "errors": day.stats.errors,
        "images": [_shown(p) for p in images],
        "trace": _shown(trace),
    }


def midday_zone() -> str:
    """A fixed-offset zone where it is about noon now: the server expires waiting tickets
    at closing time and renumbers at local midnight, and the run must meet neither."""
    offset = max(-12, min(14, 12 - datetime.now(UTC).hour))
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # POSIX signs: GMT-4 is +04


def credentials(server, center) -> tuple[list[str], list[Desk]]:
    """A token per kiosk, and a clerk with a token at each counter."""
    plans = dict(day_plan.counters())
    with server.db.write() as s:
        c = s.scalar(select(Center).where(Center.code == center.code))
        kiosks = [factories.device_token(s, c, f"kiosk-{i + 1}") for i in range(KIOSKS)]
        desks = []
        for label, counter_id in center.counters.items():
            user = create_staff(s, f"{c.code}-clerk-{label}", factories.PASSWORD, "staff", c.code)
            token = issue_staff_token(s, user, hours=2)[0]
            desks.append(Desk(label, counter_id, token, plans[label]))
    return kiosks, desks


def seed_history(server, code: str, factor: float) -> None:
    """Yesterday's completed tickets, 20 per service, with service times drawn from the
    service's distribution (compressed): the estimate averages the last 20, and a real
    center has a history. Without one the estimate falls back to the service's default,
    in whole real minutes: 100 simulated minutes and more at 100x."""
    rng = random.Random(day_plan.SEED + 1)
    now = utcnow()
    rows = []
    with server.db.read() as s:
        center = s.scalar(select(Center).where(Center.code == code))
        day = business_day(center, now) - timedelta(days=1)
        services = list(s.scalars(select(Service).where(Service.center_id == center.id)))
        for service in services:
            spec = day_plan.SERVICES[service.code]
            for n in range(HISTORY):
                ended = now - timedelta(days=1) + timedelta(seconds=n)
                took = timedelta(seconds=day_plan.service_time(rng, spec) * 60 / factor)
                started = ended - took
                rows.append(
                    {
                        "center_id": center.id,
                        "service_id": service.id,
                        "business_day": day,
                        "prefix": service.prefix,
                        "number": n + 1,
                        "status": "done",
                        "language": "az",
                        "tracking_token": new_tracking_token(),
                        "lane": LANE_NORMAL,
                        "waiting_since": started,
                        "due_at": started,
                        "issued_at": started,
                        "called_at": started,
                        "last_called_at": started,
                        "started_at": started,
                        "ended_at": ended,
                    }
                )
    with server.db.write() as s:
        s.execute(insert(Ticket), rows)


def left_waiting(server, center) -> int | None:
    response = server.api("GET", f"/centers/{center.code}/queue", center.staff_token)
    if response.status_code != 200:
        return None
    return sum(row["waiting"] for row in response.json()["services"])


def write_trace(records: list[Record], clock: Clock, path: Path) -> None:
    """Every visitor's ticket on the simulated clock, for a closer look at the figures."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [_trace_row(r, clock) for r in records]
    with path.open("w", newline="") as f:
        out = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else [])
        out.writeheader()
        out.writerows(rows)


def _trace_row(r: Record, clock: Clock) -> dict[str, object]:
    def sim(value: float | None) -> str:
        return "" if value is None else f"{clock.sim(value):.3f}"

    v = r.visitor
    return {
        "visitor": v.index,
        "arrival_min": f"{v.arrival_min:.3f}",
        "service": v.service,
        "priority": v.priority or "",
        "no_show": int(v.no_show),
        "service_min": f"{v.service_min:.3f}",
        "number": r.number or "",
        "issued_min": sim(r.issued_at),
        "position": r.position or "",
        "estimate_min": "" if r.estimate_s is None else f"{r.estimate_s * clock.factor / 60:.3f}",
        "called_min": sim(r.called_at),
        "counter": r.counter or "",
        "started_min": sim(r.started_at),
        "ended_min": sim(r.ended_at),
        "outcome": r.outcome or "",
    }


def clock_time(minute: float | None) -> str | None:
    return None if minute is None else f"{int(minute // 60):02d}:{int(minute % 60):02d}"


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)
