"""A typical weekday as a simulation scenario (history.py's other job, moved out):
arrivals drawn from the weekday's profile, service times from the records, the
counters open in the quarter hours they usually were on that weekday. The inputs are
read once (:func:`typical_inputs`); each seed draws a day from them without the
database (:func:`typical_scenario`), so the what-if runs many days off one read.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from ..models import (
    Center,
    utcnow,
)
from ..queue.numbering import business_day
from . import pace
from .history import (
    DAY_S,
    SAME_WEEKDAYS,
    center_counters,
    center_policy,
    center_services,
    counter_events,
    day_hours,
    open_intervals,
    opening_seconds,
    service_times,
    serving_hours,
    sim_services,
    weekday_profile,
)
from .simulate import (
    Policy,
    Scenario,
    SimCounter,
    SimService,
    Visitor,
)
from .state import BIN_S, BINS_PER_DAY, ServiceTime


def typical_day(session: Session, center: Center, weekday: int, seed: int) -> Scenario:
    """A typical ``weekday``: arrivals drawn (Poisson per quarter hour, uniform within
    it, the weekday's share of priority visitors) from the weekday's profile, service
    times lognormal from :func:`service_times`, the counters as configured, each open
    in the quarter hours it usually was on that weekday (:func:`usual_hours`)."""
    return typical_scenario(typical_inputs(session, center, weekday), seed)


@dataclass(frozen=True)
class TypicalInputs:
    """What :func:`typical_scenario` draws from, read once for several seeds.
    ``counters``: (id, label, services, open intervals); ``priority_share``: the share
    of each service's visitors in the priority lane."""

    services: dict[int, SimService]
    counters: list[tuple[int, str, tuple[int, ...], list[tuple[float, float]]]]
    profile: dict[int, list[float]]
    times: dict[int, ServiceTime]
    policy: Policy
    priority_share: dict[int, float]


def typical_inputs(session: Session, center: Center, weekday: int) -> TypicalInputs:
    """What :func:`typical_scenario` draws from, read once for several seeds."""
    now = utcnow()
    today = business_day(center, now)
    services = center_services(session, center.id)
    priority: dict[int, list[int]] = {}
    profile = weekday_profile(session, center, today, weekday, [s.id for s in services], priority)
    configured = center_counters(session, center.id)
    hours = serving_hours(center, weekday)
    usual = usual_hours(session, center, today, weekday, [c.id for c, _ in configured], hours)
    return TypicalInputs(
        sim_services(services),
        [(c.id, c.label, ids, usual.get(c.id, list(hours))) for c, ids in configured],
        profile,
        service_times(session, center.id, now),
        center_policy(center),
        {s: p / n for s, (p, n) in priority.items() if n},
    )


def usual_hours(
    session: Session,
    center: Center,
    before: date,
    weekday: int,
    counter_ids: list[int],
    hours: list[tuple[float, float]],
) -> dict[int, list[tuple[float, float]]]:
    """When each counter is usually open on a ``weekday``: the quarter hours it was
    open on at least half of the last 4 such days that have counter events (a center
    rarely staffs all its desks). With no such day: {} (the caller opens them all
    through ``hours``). An interval running to the doors' close runs on to the end of
    ``hours`` (desks serve who is inside)."""
    back = (before.weekday() - weekday) % 7 or 7
    days = [before - timedelta(days=back + 7 * i) for i in range(SAME_WEEKDAYS)]
    open_bins: dict[int, list[int]] = {c: [0] * BINS_PER_DAY for c in counter_ids}
    counted = 0
    for day in days:
        events = counter_events(session, center, counter_ids, day)
        if not events:
            continue
        counted += 1
        close = (day_hours(center, day) or [(0.0, float(DAY_S))])[-1][1]
        for counter_id, rows in events.items():
            for lo, hi in open_intervals(rows, [], close):
                for b in range(int(lo // BIN_S), min(math.ceil(hi / BIN_S), BINS_PER_DAY)):
                    if pace.share(b, lo, hi) >= 0.5:
                        open_bins[counter_id][b] += 1
    if not counted:
        return {}
    doors = max((hi for _, hi in opening_seconds(center, weekday)), default=float(DAY_S))
    out: dict[int, list[tuple[float, float]]] = {}
    for counter_id, bins in open_bins.items():
        intervals: list[tuple[float, float]] = []
        for b, n in enumerate(bins):
            if 2 * n < counted:
                continue
            lo, hi = b * BIN_S, (b + 1) * BIN_S
            if intervals and intervals[-1][1] == lo:
                intervals[-1] = (intervals[-1][0], hi)
            else:
                intervals.append((float(lo), float(hi)))
        if intervals and hours and intervals[-1][1] >= doors:  # open to the close
            intervals[-1] = (intervals[-1][0], max(hours[-1][1], intervals[-1][1]))
        out[counter_id] = intervals
    return out


def typical_scenario(inputs: TypicalInputs, seed: int) -> Scenario:
    """The drawing behind :func:`typical_day`, over plain data."""
    services, profile, times = inputs.services, inputs.profile, inputs.times
    priority_share = inputs.priority_share or {}
    rng = random.Random(seed)
    visitors = []
    key = 0
    for service_id in sorted(profile):
        if service_id not in services:
            continue
        st = times.get(service_id, ServiceTime(300.0))
        sigma = math.sqrt(math.log(1 + st.cv**2))
        mu = math.log(st.mean_s) - sigma**2 / 2
        for b, expected in enumerate(profile[service_id]):
            for _ in range(_poisson(rng, expected)):
                key += 1
                visitors.append(
                    Visitor(
                        key=key,
                        arrival_s=(b + rng.random()) * BIN_S,
                        service_id=service_id,
                        service_s=rng.lognormvariate(mu, sigma),
                        priority=rng.random() < priority_share.get(service_id, 0.0),
                    )
                )
    visitors.sort(key=lambda v: (v.arrival_s, v.key))
    return Scenario(
        services=services,
        counters=[
            SimCounter(cid, label, ids, list(opened)) for cid, label, ids, opened in inputs.counters
        ],
        visitors=visitors,
        policy=inputs.policy,
        start_s=0.0,
        end_s=float(DAY_S),
    )


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:  # normal approximation: Knuth's loop grows with lambda
        return max(int(round(rng.gauss(lam, math.sqrt(lam)))), 0)
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
