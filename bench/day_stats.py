"""Figures of the simulated day, all in simulated minutes: waits and service levels per
service, and how close the wait estimated at issue came to the wait that followed."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from .common import percentile
from .day_plan import PREFIXES, SERVICES
from .day_sim import Clock, Record

# An estimate is "within 25%" when |estimate - real| <= 25% of the real wait, or <= 1
# simulated minute: for waits under 4 minutes 25% is less than the estimate's own
# resolution (whole real seconds, 1.7 simulated minutes at 100x).
TOLERANCE_SHARE = 0.25
TOLERANCE_MIN = 1.0


@dataclass(frozen=True)
class Ticket:
    service: str
    priority: bool
    issued: float  # simulated minutes since midnight
    estimate: float | None  # simulated minutes, as shown at issue
    position: int | None
    called: float | None
    outcome: str | None

    @property
    def wait(self) -> float | None:
        return None if self.called is None else self.called - self.issued


def simulated(records: list[Record], clock: Clock) -> list[Ticket]:
    """The issued tickets, on the simulated clock."""
    out = []
    for r in records:
        if r.issued_at is None:
            continue
        out.append(
            Ticket(
                service=r.visitor.service,
                priority=r.visitor.priority is not None,
                issued=clock.sim(r.issued_at),
                estimate=None if r.estimate_s is None else r.estimate_s * clock.factor / 60,
                position=r.position,
                called=None if r.called_at is None else clock.sim(r.called_at),
                outcome=r.outcome,
            )
        )
    return out


def waits(tickets: list[Ticket]) -> dict:
    """Average and 90th-percentile wait of the called tickets; the service level is the
    share of all issued tickets called within their service's target."""
    called = [t.wait for t in tickets if t.wait is not None]
    met = sum(1 for t in tickets if t.wait is not None and t.wait <= SERVICES[t.service].target_min)
    return {
        "visitors": len(tickets),
        "called": len(called),
        "avg_wait_min": _r(statistics.fmean(called)) if called else None,
        "p90_wait_min": _r(percentile(called, 90)),
        "max_wait_min": _r(max(called, default=None)),
        "service_level": round(met / len(tickets), 3) if tickets else None,
    }


def per_service(tickets: list[Ticket]) -> list[dict]:
    rows = []
    for code, spec in SERVICES.items():
        mine = [t for t in tickets if t.service == code]
        rows.append(
            {
                "service": code,
                "prefix": PREFIXES[code],
                "name": spec.name,
                "target_min": spec.target_min,
                "mean_service_min": spec.mean_min,
                **waits(mine),
                "estimate": accuracy(mine),
            }
        )
    return rows


def accuracy(tickets: list[Ticket]) -> dict:
    """Estimate shown at issue against the real wait, over tickets with both."""
    pairs = [(t.estimate, t.wait) for t in tickets if t.estimate is not None and t.wait is not None]
    if not pairs:
        return {"n": 0, "mae_min": None, "mae_share": None, "bias_min": None, "within": None}
    errors = [est - real for est, real in pairs]
    mae = statistics.fmean(abs(e) for e in errors)
    mean_real = statistics.fmean(real for _, real in pairs)
    within = sum(
        1 for est, real in pairs if abs(est - real) <= max(TOLERANCE_SHARE * real, TOLERANCE_MIN)
    )
    return {
        "n": len(pairs),
        "mae_min": _r(mae),
        "mae_share": round(mae / mean_real, 3) if mean_real > 0 else None,
        "bias_min": _r(statistics.fmean(errors)),
        "mean_estimate_min": _r(statistics.fmean(est for est, _ in pairs)),
        "mean_real_min": _r(mean_real),
        "within": round(within / len(pairs), 3),
        "no_estimate": sum(1 for t in tickets if t.estimate is None),
    }


def queue_length(
    tickets: list[Ticket], start: float, end: float, service: str | None = None
) -> list[tuple[float, float]]:
    """Visitors waiting (issued, not yet called) at each simulated minute."""
    mine = [t for t in tickets if service is None or t.service == service]
    changes: dict[int, int] = {}
    for t in mine:
        changes[int(t.issued)] = changes.get(int(t.issued), 0) + 1
        if t.called is not None:
            changes[int(t.called)] = changes.get(int(t.called), 0) - 1
    points, level = [], 0
    for minute in range(int(start), int(end) + 1):
        level += changes.get(minute, 0)
        points.append((float(minute), float(level)))
    return points


def by_issue_time(tickets: list[Ticket], start: float, end: float, width: float) -> list[dict]:
    """Per slot of issue time: arrivals, mean and p90 real wait, mean estimate."""
    slots = []
    t0 = start
    while t0 < end:
        mine = [t for t in tickets if t0 <= t.issued < t0 + width]
        real = [t.wait for t in mine if t.wait is not None]
        est = [t.estimate for t in mine if t.estimate is not None and t.wait is not None]
        slots.append(
            {
                "from": t0,
                "arrivals": len(mine),
                "avg_wait": statistics.fmean(real) if real else None,
                "p90_wait": percentile(real, 90),
                "avg_estimate": statistics.fmean(est) if est else None,
            }
        )
        t0 += width
    return slots


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
