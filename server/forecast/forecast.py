"""The live forecast: for each service, how long someone arriving in the next hour would
wait, and how likely that wait passes the service's target (docs/forecast.md).

Pure (no database, no clock): a Monte Carlo over ``runs`` simulated futures of the hall
(simulate.py), each from the present :class:`HallState` with

* arrivals drawn per service and step (Poisson, mean from :meth:`Demand.expected`),
  uniformly within the step, until the doors close;
* service times drawn (lognormal, the service's mean and cv) for every visitor,
  waiting or new;
* a probe visitor per service every ``step_s`` from now to now + horizon: the wait of
  someone arriving then (probes take no counter time, simulate.py).

A probe's predicted wait is the median over runs; its breach probability the share of
runs where it waited longer than the target. A probe never called by the simulation's
end counts as waiting until then (longer than any target: the end is far enough).

The breach a warning is about (:func:`window_visitor` and :func:`window_breached`, the
one definition the warnings' scoring and the benchmark use too): the service level of
the next WARN_S, over the visitors arriving in it and those waiting at its start who
have not yet waited past the target. Per run, they breach when at least MIN_OVER of
them wait longer than the target and they are more than 1 - SERVICE_LEVEL of them; the
window's breach probability is the share of runs that breach. (Arrivals alone missed
the crowd that just came in: it is already waiting when the warning could be raised.
A median per 10-minute slot was a coin flip under overdue-first calling, which bunches
waits at the target; a service level is what the published standards state.)

Common random numbers: the draws depend on the seed, the run, the waiting visitors and
the demand only, never on the counters, and are made once (:func:`draw`): a suggestion
(suggest.py) re-runs the same futures with one counter changed, so the difference is
the change's, not the dice's.

New arrivals are all in the normal lane (the demand has no priority share); the waiting
ones keep their lanes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from .simulate import FOREVER, Scenario, SimCounter, Visitor, percentile, simulate
from .state import Demand, HallState, ServiceTime

WARN_S = 1800.0  # the window of arrivals a warning is about (FORECAST_WARN_MIN's default)
SERVICE_LEVEL = 0.8  # the share of a window's arrivals to be called within the target
MIN_OVER = 2  # one visitor over the target is not a breach, however few arrived

DEFAULT_SERVICE = ServiceTime(300.0, 0.5)  # a service the demand knows nothing of
_NEW_KEYS = 10**12  # new arrivals' keys (ticket ids, the waiting ones', stay below)


def window_visitor(arrival_s: float, start_s: float, end_s: float, target_s: float) -> bool:
    """Whether a visitor belongs to the window [start_s, end_s) a warning is about: one
    arriving in it, or one waiting at its start who has not yet waited past the target
    (a crowd already in the hall is what a manager can still act for; those already past
    it are a breach that has happened, not one to warn of)."""
    if arrival_s >= start_s:
        return arrival_s < end_s
    return start_s - arrival_s <= target_s


def window_breached(waits: list[float], target_s: float) -> bool:
    """The waits of a window's arrivals breach the service level: at least MIN_OVER of
    them longer than the target, and more than 1 - SERVICE_LEVEL of them."""
    over = sum(1 for w in waits if w > target_s)
    # The service level (within / all) under SERVICE_LEVEL; the epsilon keeps 8 of 10
    # at exactly 0.8 from a float's 1 - 0.8 = 0.19999...
    return over >= MIN_OVER and len(waits) - over < SERVICE_LEVEL * len(waits) - 1e-9


@dataclass(frozen=True)
class Point:
    """One probe: a visitor of the service arriving at ``at_s``."""

    at_s: float
    expected_arrivals: float  # in [at_s, at_s + step)
    wait_p50_s: float
    wait_p90_s: float
    breach_probability: float


@dataclass
class ServiceForecast:
    service_id: int
    target_s: float
    points: list[Point]
    # The share of runs whose arrivals in [now, now + window_s) breach (window_breached).
    window_probability: float = 0.0
    window_s: float = WARN_S

    def worst(self, until_s: float = FOREVER, since_s: float = -FOREVER) -> Point | None:
        """The probe with the highest breach probability from ``since_s`` up to
        ``until_s`` (earliest on ties), or None without probes."""
        points = [p for p in self.points if since_s <= p.at_s <= until_s]
        return max(points, key=lambda p: (p.breach_probability, -p.at_s)) if points else None

    def probability(self, until_s: float = FOREVER, since_s: float = -FOREVER) -> float:
        point = self.worst(until_s, since_s)
        return point.breach_probability if point else 0.0


@dataclass
class CenterForecast:
    now_s: float
    horizon_s: float
    step_s: float
    runs: int
    services: dict[int, ServiceForecast] = field(default_factory=dict)


@dataclass(frozen=True)
class Draws:
    """The random part of ``runs`` futures: per run, every visitor of the simulation
    (waiting, new and probes) with its service time. Made once, reused with any counters."""

    now_s: float
    horizon_s: float
    step_s: float
    end_s: float
    probes: dict[int, list[float]]  # service -> probe instants
    expected: dict[int, list[float]]  # service -> expected arrivals per probe's step
    runs: list[list[Visitor]]


def forecast(
    state: HallState,
    demand: Demand,
    *,
    horizon_s: float = 3600,
    step_s: float = 300,
    runs: int = 40,
    seed: int = 0,
    window_s: float = WARN_S,
) -> CenterForecast:
    """Per service that needs one (an open counter serves it, visitors wait for it or
    are expected), its probes over the next ``horizon_s`` and its window's breach
    probability."""
    return evaluate(
        state,
        draw(state, demand, horizon_s=horizon_s, step_s=step_s, runs=runs, seed=seed),
        window_s=window_s,
    )


def probed_services(state: HallState, demand: Demand, horizon_s: float) -> list[int]:
    now = state.now_s
    end = now + horizon_s if state.close_s is None else min(now + horizon_s, state.close_s)
    served = {s for c in state.counters if c.is_open(now) or _opens(c, now) for s in c.services}
    waiting = {t.service_id for t in state.waiting}
    return [
        sid
        for sid in sorted(state.services)
        if sid in served or sid in waiting or demand.expected(sid, now, max(end, now)) > 0
    ]


def _opens(counter: SimCounter, now: float) -> bool:
    return any(end > now for _, end in counter.open)


def draw(
    state: HallState,
    demand: Demand,
    *,
    horizon_s: float = 3600,
    step_s: float = 300,
    runs: int = 40,
    seed: int = 0,
) -> Draws:
    now = state.now_s
    close = state.close_s if state.close_s is not None else FOREVER
    targets = {sid: s.target_s for sid, s in state.services.items()}
    # Probes from now up to the horizon, none after closing (nobody arrives then).
    count = int(horizon_s // step_s) + 1
    instants = [now + i * step_s for i in range(count)]
    instants = [t for t in instants if t < close] or [now]
    services = probed_services(state, demand, horizon_s)
    probes = {sid: instants for sid in services}
    expected = {
        sid: [demand.expected(sid, t, min(t + step_s, close)) for t in instants] for sid in services
    }
    # Far enough that a probe not called by then has waited longer than its target (the
    # longest target twice), and arrivals after the last probe that may still be
    # called before it (another service's shorter target makes them due earlier).
    longest = max((targets[s] for s in services), default=0.0)
    end = instants[-1] + max(2 * longest, step_s)
    arrivals_end = min(end, close)
    times = {sid: demand.service_times.get(sid, DEFAULT_SERVICE) for sid in state.services}
    waiting = sorted(state.waiting, key=lambda t: t.key)
    all_runs = []
    for run in range(runs):
        visitors: list[Visitor] = []
        # One stream per purpose, so that what one draws never shifts another's numbers.
        rng = random.Random(f"{seed}:{run}:waiting")
        for t in waiting:
            visitors.append(
                Visitor(
                    t.key,
                    t.arrival_s,
                    t.service_id,
                    _service_time(rng, times.get(t.service_id, DEFAULT_SERVICE)),
                    t.priority,
                    t.due_s,
                    t.callable_s,
                )
            )
        key = _NEW_KEYS
        for sid in sorted(state.services):
            rng = random.Random(f"{seed}:{run}:{sid}")
            start = now
            while start < arrivals_end:
                stop = min(start + step_s, arrivals_end)
                n = _poisson(rng, demand.expected(sid, start, stop))
                for at in sorted(rng.uniform(start, stop) for _ in range(n)):
                    key += 1
                    visitors.append(Visitor(key, at, sid, _service_time(rng, times[sid])))
                start = stop
        for sid, ts in probes.items():
            for i, t in enumerate(ts):
                visitors.append(Visitor(-(sid * 1000 + i + 1), t, sid, 0.0, probe=True))
        all_runs.append(visitors)
    return Draws(now, horizon_s, step_s, end, probes, expected, all_runs)


def evaluate(
    state: HallState,
    draws: Draws,
    *,
    until_s: float = FOREVER,
    between: Callable[[], None] | None = None,
    window_s: float = WARN_S,
) -> CenterForecast:
    """The forecast of these futures with the state's counters (and policy); probes
    after ``until_s`` are left out (a suggestion's check needs the warning's window).
    ``between`` is called after each run (a server lets other work in). The window of
    arrivals judged is [now, now + ``window_s``)."""
    waits: dict[int, list[list[float]]] = {
        sid: [[] for t in ts if t <= until_s] for sid, ts in draws.probes.items()
    }
    end = draws.end_s
    instants = [t for ts in draws.probes.values() for t in ts]
    if instants and until_s < FOREVER:  # the same margin after the last probe kept
        kept = [t for t in instants if t <= until_s] or [min(instants)]
        end = min(end, max(kept) + end - max(instants))
    window_end = min(draws.now_s + window_s, end)
    breaches = dict.fromkeys(draws.probes, 0)  # service -> runs whose window breached
    for visitors in draws.runs:
        if between is not None:
            between()
        scenario = Scenario(
            services=state.services,
            counters=state.counters,  # simulate() does not change them
            visitors=visitors if end >= draws.end_s else [v for v in visitors if v.arrival_s < end],
            policy=state.policy,
            start_s=draws.now_s,
            end_s=end,
            turnaround_s=state.turnaround_s,
        )
        result = simulate(scenario)
        for sid, ts in draws.probes.items():
            for i, t in enumerate(ts):
                if t > until_s:
                    break
                call = result.calls.get(-(sid * 1000 + i + 1))
                waits[sid][i].append(call.wait_s if call else end - t)
        arrived: dict[int, list[float]] = {}
        for v in visitors:  # the window's visitors (window_visitor), probes never
            if v.key < 0 or v.service_id not in breaches:
                continue
            target = state.services[v.service_id].target_s
            if window_visitor(v.arrival_s, draws.now_s, window_end, target):
                call = result.calls.get(v.key)
                arrived.setdefault(v.service_id, []).append(
                    call.wait_s if call else end - v.arrival_s
                )
        for sid, ws in arrived.items():
            if window_breached(ws, state.services[sid].target_s):
                breaches[sid] += 1
    out = CenterForecast(draws.now_s, draws.horizon_s, draws.step_s, len(draws.runs))
    for sid, per_probe in waits.items():
        target = state.services[sid].target_s
        points = []
        for i, ws in enumerate(per_probe):
            points.append(
                Point(
                    draws.probes[sid][i],
                    draws.expected[sid][i],
                    percentile(ws, 0.5) or 0.0,
                    percentile(ws, 0.9) or 0.0,
                    sum(1 for w in ws if w > target) / len(ws) if ws else 0.0,
                )
            )
        share = breaches[sid] / len(draws.runs) if draws.runs else 0.0
        out.services[sid] = ServiceForecast(sid, target, points, share, window_s)
    return out


def _service_time(rng: random.Random, st: ServiceTime) -> float:
    mean = max(st.mean_s, 1.0)
    sigma2 = math.log(1 + max(st.cv, 0.0) ** 2)
    return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method for small means, a rounded normal for large ones."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(round(rng.gauss(mean, math.sqrt(mean))), 0)
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
