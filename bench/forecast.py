"""11. The forecast against simulated days (in process, no server; docs/forecast.md).

The "world" is the simulation (server/forecast/simulate.py) of a day of the benchmark's
center (server/forecast/synthetic.py) with its true arrivals and service times, and
with what history cannot know: surges (one service's arrivals three times their rate
for 45 minutes, at a random time) and counter closures (two counters closed for an
hour). Every 5 simulated minutes the forecaster sees the hall as the live server would
(who waits, which counters are open and whether they serve someone, by the elapsed time
only) and the demand as history would (the profile without the surge, blended with
today's pace), and runs server/forecast/forecast.py and suggest.py. Measured:

* breach warnings against the breaches that happened. A breach (forecast.py's
  window_breached, docs/forecast.md): the service's visitors arriving in a 30-minute
  window, at least 2 of them and more than 20% of them over the target. On a grid
  every 5 minutes t: warned(t) = a warning of the service open at t, breach(t) = the
  world's arrivals in [t, t + 30 min) breach; precision and recall over the grid,
  the episodes (maximal runs of breach(t)) and their lead, and each raised warning
  scored as the server scores it (warnings.score_due: breached over its window);
* the server's wait estimate at issue (server/queue/loads.py ``OpenCounters.wait`` on
  the world's state) against the real wait, and its stability: the largest change in
  a minute while nothing happened to the visitor's line;
* the simulator's fidelity: a recorded day re-simulated against what happened, in the
  world and on the real server's day of scenario 5 (bench/day.py) when its trace is
  at hand;
* the suggestions: each applied in the world when it was made, the day re-run: did
  the breach it was made for still happen?

CPU per forecast and per suggestion beside the figures.
"""

from __future__ import annotations

import bisect
import csv
import random
import statistics
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from server.forecast import pace, synthetic
from server.forecast.forecast import WARN_S, draw, evaluate, window_breached
from server.forecast.history import desk_turnaround
from server.forecast.simulate import (
    FOREVER,
    Call,
    Policy,
    Scenario,
    SimCounter,
    SimResult,
    Visitor,
    percentile,
    simulate,
)
from server.forecast.state import Demand, HallState, WaitingTicket
from server.forecast.suggest import suggest
from server.queue.loads import OpenCounters, ServiceLoad

NAME = "forecast"
TITLE = "Forecast: breach warnings, estimates, suggestions on simulated days"

VISITORS = 2200  # a day the counters about hold at its peak (the bench day's 3,000 do not)
SEEDS = (101, 102, 103, 104)
RUNS = 40  # the forecast's Monte Carlo runs (FORECAST_RUNS)
SMOKE_SEEDS, SMOKE_RUNS, SMOKE_HOURS = (101,), 4, 1
STEP_S = 300  # a forecast every 5 simulated minutes
HORIZON_S = 3600
THRESHOLD, CLEAR = 0.6, 0.4  # raise at, clear under (hysteresis; warnings.py)
LEAD_S = WARN_S  # an episode counts as warned when raised up to this long before it
BUSY_VISITORS = 3000  # the estimate also on scenario 5's busier day (no surges)
SURGES, SURGE_MIN, SURGE_FACTOR = 2, 45, 3.0
CLOSED_COUNTERS, CLOSED_MIN = 2, 60
HISTORY = 20  # the estimate's sample: last service times per service (loads.py)
TOLERANCE_SHARE, TOLERANCE_S = 0.25, 60.0  # "within 25%": or 1 minute for short waits
PRIORITY, NORMAL = 1, 2  # ticket lanes (server.models.LANE_*)
OPEN_S, CLOSE_S = synthetic.OPEN_MIN * 60.0, synthetic.CLOSE_MIN * 60.0
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class World:
    """One simulated day and what happened in it."""

    seed: int
    day: list[synthetic.Arrival]
    surges: list[tuple[str, float]]  # (service, start in simulated minutes)
    closures: list[tuple[int, float, float]]  # (counter, from_s, to_s)
    until_s: float  # the last forecast is before this
    scenario: Scenario = field(init=False)
    result: SimResult = field(init=False)

    def __post_init__(self) -> None:
        self.scenario = world_scenario(self.day, self.closures)
        self.result = simulate(self.scenario)


def make_world(seed: int, smoke: bool, *, visitors: int = VISITORS, upsets: bool = True) -> World:
    """A day of ``visitors``, with its surges and closure unless ``upsets`` is false."""
    rng = random.Random(seed)
    day = synthetic.visitors(visitors, seed)
    last = synthetic.CLOSE_MIN - 90
    until = CLOSE_S
    if smoke:  # a short morning: surge and closure early, visitors until its end
        last = synthetic.OPEN_MIN + SMOKE_HOURS * 60 - SURGE_MIN
        until = OPEN_S + SMOKE_HOURS * 3600
        day = [v for v in day if v.arrival_min * 60 < until]
    codes = list(synthetic.SERVICES)
    weights = [s.weight for s in synthetic.SERVICES.values()]
    surges: list[tuple[str, float]] = []
    for i in range(SURGES if upsets else 0):
        code = rng.choices(codes, weights)[0]
        start = rng.uniform(synthetic.OPEN_MIN + 20, last)
        day = synthetic.surge(
            day,
            visitors,
            code,
            start,
            minutes=SURGE_MIN,
            factor=SURGE_FACTOR,
            seed=seed * 100 + i,
        )
        surges.append((code, round(start, 1)))
    start = rng.uniform(OPEN_S + 1200, (last + SURGE_MIN - CLOSED_MIN) * 60)
    labels = rng.sample(range(1, len(synthetic.counters()) + 1), CLOSED_COUNTERS)
    closures = [(c, start, start + CLOSED_MIN * 60) for c in labels] if upsets else []
    return World(seed, day, surges, closures, until)


def world_scenario(
    day: list[synthetic.Arrival],
    closures: list[tuple[int, float, float]],
    change: tuple[float, int, tuple[int, ...], bool] | None = None,
    busy_until: float = 0.0,
) -> Scenario:
    """The day in the hall with its closures and, maybe, a change from an instant on:
    (at_s, counter, its services after, opens): the counter is replaced by one with the
    new services from then, free once it finishes the visitor it has (``busy_until``)."""
    scenario = synthetic.scenario(day)
    closed = {c: (a, b) for c, a, b in closures}
    counters = []
    for c in scenario.counters:
        if c.id in closed:
            a, b = closed[c.id]
            c = replace(c, open=[(OPEN_S, a), (b, FOREVER)])
        if change is not None and change[1] == c.id:
            at, _, services, opens = change
            before = [(a, min(b, at)) for a, b in c.open if a < at]
            after = [(at, FOREVER)] if opens else [(max(a, at), b) for a, b in c.open if b > at]
            counters.append(replace(c, open=before))
            counters.append(
                SimCounter(1000 + c.id, c.label, services, after, busy_until=max(busy_until, at))
            )
            continue
        counters.append(c)
    scenario.counters = counters
    return scenario


class Timeline:
    """What the live server would know of the world at an instant."""

    def __init__(self, world: World) -> None:
        self.world = world
        sc, res = world.scenario, world.result
        self.services = sc.services
        self.visitors = sorted(sc.visitors, key=lambda v: (v.arrival_s, v.key))
        self.arrivals = [v.arrival_s for v in self.visitors]
        self.called = {k: c.called_s for k, c in res.calls.items()}
        self.by_key = {v.key: v for v in sc.visitors}
        self.took = {
            v.key: sc.no_show_s if v.no_show else v.service_s for v in sc.visitors if not v.probe
        }
        self.calls_at: dict[int, list[tuple[float, int]]] = {}  # counter -> (called, key)
        for k, call in res.calls.items():
            self.calls_at.setdefault(call.counter_id, []).append((call.called_s, k))
        for calls in self.calls_at.values():
            calls.sort()
        self.times = synthetic.service_times()
        self.profile = synthetic.expected_arrivals(VISITORS)

    def waiting(self, t: float) -> list[Visitor]:
        upto = bisect.bisect_right(self.arrivals, t)
        return [v for v in self.visitors[:upto] if self.called.get(v.key, FOREVER) > t]

    def current(self, counter_id: int, t: float) -> tuple[float, int] | None:
        """The visitor a counter serves at ``t`` (called, key), if any."""
        calls = self.calls_at.get(counter_id, [])
        i = bisect.bisect_right(calls, (t, float("inf"))) - 1
        if i < 0:
            return None
        called, key = calls[i]
        return (called, key) if called + self.took[key] > t else None

    def busy_end(self, counter_id: int, t: float) -> float:
        now = self.current(counter_id, t)
        return now[0] + self.took[now[1]] if now else t

    def state(self, t: float) -> HallState:
        counters = []
        for c in self.world.scenario.counters:
            busy = t
            if now := self.current(c.id, t):  # serving: by the elapsed time, as snapshot.py
                mean = self.times[self.by_key[now[1]].service_id].mean_s
                busy = t + max(mean - (t - now[0]), 0.1 * mean)
            counters.append(
                SimCounter(c.id, c.label, c.services, [(t, FOREVER)] if c.is_open(t) else [], busy)
            )
        waiting = [
            WaitingTicket(
                v.key,
                v.service_id,
                v.arrival_s,
                v.arrival_s + self.services[v.service_id].target_s,
                v.priority,
            )
            for v in self.waiting(t)
        ]
        return HallState(t, self.services, counters, waiting, Policy("ratio", 2), CLOSE_S)

    def demand(self, t: float) -> Demand:
        """The profile (no surge in it) blended with today's pace, as history.py does it
        (server/forecast/pace.py)."""
        arrived: dict[int, list[float]] = {}
        for v in self.visitors[: bisect.bisect_right(self.arrivals, t)]:
            arrived.setdefault(v.service_id, []).append(v.arrival_s)
        arrivals = {
            sid: pace.paced(bins, sorted(arrived.get(sid, ())), t)
            for sid, bins in self.profile.items()
        }
        return Demand(arrivals, self.times)


# Breaches ---------------------------------------------------------------------------


class Outcomes:
    """The world's real waits per service by arrival, to judge any window of arrivals
    as the server's scoring does (warnings.window_outcome): a visitor called waited
    until then; one who left uncalled before the target is not counted, after it (or
    never called by the day's end) counts with the time it waited."""

    def __init__(self, sc: Scenario, res: SimResult) -> None:
        self.targets = {sid: s.target_s for sid, s in sc.services.items()}
        self.arrivals: dict[int, list[float]] = {}
        self.waits: dict[int, list[float | None]] = {}
        for v in sorted(sc.visitors, key=lambda v: (v.arrival_s, v.key)):
            if v.probe:
                continue
            [wait] = res.waits([v])
            left = v.key not in res.calls and v.leaves_s is not None
            if left and wait <= self.targets[v.service_id]:
                wait = None  # left before the target: not counted
            self.arrivals.setdefault(v.service_id, []).append(v.arrival_s)
            self.waits.setdefault(v.service_id, []).append(wait)

    def window(self, sid: int, start: float, end: float) -> list[float]:
        """The waits of the window's visitors (forecast.window_visitor): those arriving
        in [start, end), and those waiting at its start not yet past the target."""
        arrivals, waits = self.arrivals.get(sid, []), self.waits.get(sid, [])
        first = bisect.bisect_left(arrivals, start - self.targets[sid])
        lo, hi = bisect.bisect_left(arrivals, start), bisect.bisect_left(arrivals, end)
        waiting = [
            w
            for a, w in zip(arrivals[first:lo], waits[first:lo], strict=True)
            if w is not None and a + w > start  # not called before the window began
        ]
        return waiting + [w for w in waits[lo:hi] if w is not None]

    def breached(self, sid: int, start: float, end: float) -> bool:
        return window_breached(self.window(sid, start, end), self.targets[sid])


def grid(world: World) -> list[float]:
    """The forecaster's instants: every STEP_S from opening until ``until_s``."""
    out, t = [], OPEN_S
    while t < world.until_s:
        out.append(t)
        t += STEP_S
    return out


# The forecaster's day ---------------------------------------------------------------


@dataclass
class Raised:
    service_id: int
    raised_s: float
    window: list[float]  # [start, end): the arrivals it is about (warnings.record)
    probability: float
    cleared_s: float | None = None
    suggestion: object | None = None
    suggest_cpu_ms: float = 0.0


def forecast_day(world: World, runs: int) -> dict:
    """The server's warnings through the day (a copy of warnings.record's rules: raise
    at THRESHOLD on the window probability, clear under CLEAR, the window from the
    raise to the latest pass's now + WARN_S), and which were open at each instant."""
    timeline = Timeline(world)
    warnings: list[Raised] = []
    open_: dict[int, Raised] = {}
    open_at: dict[float, set[int]] = {}  # instant -> services with a warning open then
    chances: dict[tuple[int, float], float] = {}  # (service, instant) -> window probability
    forecast_cpu, suggest_cpu = [], []
    for t in grid(world):
        state, demand = timeline.state(t), timeline.demand(t)
        c0 = time.process_time()
        draws = draw(state, demand, horizon_s=HORIZON_S, step_s=STEP_S, runs=runs, seed=int(t))
        fc = evaluate(state, draws, window_s=WARN_S)
        forecast_cpu.append((time.process_time() - c0) * 1000)
        for sid in [sid for sid in open_ if sid not in fc.services]:
            open_.pop(sid).cleared_s = t  # nobody serves, waits or is expected now
        for sid, sf in fc.services.items():
            p = chances[sid, t] = sf.window_probability
            w = open_.get(sid)
            if w is not None:
                if p < CLEAR:
                    w.cleared_s = t  # its window stays what it claimed
                    del open_[sid]
                else:
                    w.probability = p
                    w.window[1] = max(w.window[1], t + WARN_S)
                continue
            if p < THRESHOLD:
                continue
            w = Raised(sid, t, [t, t + WARN_S], p)
            c0 = time.process_time()
            w.suggestion = suggest(
                state, demand, sid, threshold=THRESHOLD, warn_s=WARN_S, runs=runs, draws=draws
            )
            w.suggest_cpu_ms = (time.process_time() - c0) * 1000
            suggest_cpu.append(w.suggest_cpu_ms)
            warnings.append(w)
            open_[sid] = w
        open_at[t] = set(open_)
    return {
        "warnings": warnings,
        "open_at": open_at,
        "chances": chances,
        "forecast_cpu_ms": forecast_cpu,
        "suggest_cpu_ms": suggest_cpu,
        "timeline": timeline,
    }


def score(world: World, day: dict) -> dict:
    """The day's warnings against its breaches: on the grid, per episode, and per
    warning as the server scores it; the suggestions applied."""
    real = Outcomes(world.scenario, world.result)
    instants = grid(world)
    open_at: dict[float, set[int]] = day["open_at"]
    warnings: list[Raised] = day["warnings"]
    services = sorted(world.scenario.services)
    breach = {(sid, t) for sid in services for t in instants if real.breached(sid, t, t + WARN_S)}
    warned = {(sid, t) for t in instants for sid in open_at[t]}
    # Episodes: a maximal run of breach(t) on the grid, by service.
    found: list[tuple[int, float]] = []
    for sid in services:
        previous = None
        for t in instants:
            if (sid, t) in breach and (previous is None or (sid, previous) not in breach):
                found.append((sid, t))
            previous = t

    def lead(sid: int, first: float) -> float | None:
        """The longest lead of a warning of the service open at the episode's first
        instant or raised up to LEAD_S before it; None when none was."""
        leads = [
            first - w.raised_s
            for w in warnings
            if w.service_id == sid
            and w.raised_s <= first
            and (first - w.raised_s <= LEAD_S or w.cleared_s is None or w.cleared_s > first)
        ]
        return max(leads, default=None)

    leads = [x for sid, first in found if (x := lead(sid, first)) is not None]
    covered = sum(1 for sid, first in found if sid in open_at[first])
    # As the server scores them: each raised warning, breached over its window.
    right = [w for w in warnings if real.breached(w.service_id, *w.window)]
    arrived = [w for w in warnings if real.window(w.service_id, *w.window)]
    applied = []
    timeline: Timeline = day["timeline"]
    for w in right:
        s = w.suggestion
        if s is None:
            continue
        change = (w.raised_s, s.counter_id, s.services_after, not s.was_open)
        scenario = world_scenario(
            world.day, world.closures, change, timeline.busy_end(s.counter_id, w.raised_s)
        )
        outcomes = Outcomes(scenario, simulate(scenario))
        applied.append(
            {"action": s.action, "prevented": not outcomes.breached(w.service_id, *w.window)}
        )
    return {
        "grid": len(instants) * len(services),
        "breach": len(breach),
        "warned_points": len(warned),
        "hit_points": len(breach & warned),
        "episodes": len(found),
        "warned": len(leads),
        "covered": covered,
        "warnings": len(warnings),
        "scored": len(warnings),
        "right": len(right),
        "leads_s": leads,
        "scored_with_arrivals": len(arrived),
        "with_suggestion": sum(1 for w in warnings if w.suggestion is not None),
        "right_with_suggestion": len(applied),
        "prevented": sum(1 for a in applied if a["prevented"]),
        "actions": sorted({a["action"] for a in applied}),
    }


# Estimates --------------------------------------------------------------------------


class Loads:
    """Each service's average of its last 20 service times (start to end, as the
    server measures: the walk to the counter is not in it), yesterday's 20 first."""

    def __init__(self, world: World, timeline: Timeline) -> None:
        rng = random.Random(world.seed + 1)
        walk = synthetic.WALK_MIN * 60
        self.history = {
            synthetic.SERVICE_IDS[code]: [
                synthetic.service_time(rng, spec) * 60 for _ in range(HISTORY)
            ]
            for code, spec in synthetic.SERVICES.items()
        }
        self.done: dict[int, list[tuple[float, float]]] = {}
        for key, call in world.result.calls.items():
            v = timeline.by_key[key]
            if not v.no_show:
                end = call.called_s + v.service_s
                self.done.setdefault(v.service_id, []).append((end, v.service_s - walk))
        for done in self.done.values():
            done.sort()

    def average(self, sid: int, t: float) -> float:
        done = self.done.get(sid, [])
        n = bisect.bisect_right(done, (t, float("inf")))
        recent = [d for _, d in done[max(n - HISTORY, 0) : n]]
        sample = (self.history[sid] + recent)[-HISTORY:]
        return sum(sample) / len(sample)


def estimates(world: World, timeline: Timeline) -> dict:
    """The server's estimate (estimates.py: the visitors ahead in the pool by lane, due
    time and id; ``OpenCounters.wait``) at each arrival against the real wait, and its
    changes minute by minute while the visitor waits."""
    loads = Loads(world, timeline)
    counters = world.scenario.counters
    serving = {
        sid: sum(1 for c in counters if sid in c.services) for sid in world.scenario.services
    }

    def hall(t: float) -> tuple[OpenCounters, dict[int, ServiceLoad]]:
        by_service: dict[int, set[int]] = {}
        for c in counters:
            if c.is_open(t):
                for s in c.services:
                    by_service.setdefault(s, set()).add(c.id)
        oc = OpenCounters({s: frozenset(c) for s, c in by_service.items()})
        sl = {
            sid: ServiceLoad(loads.average(sid, t), len(by_service.get(sid, ())), serving[sid])
            for sid in world.scenario.services
        }
        return oc, sl

    def order(v: Visitor) -> tuple:
        due = v.arrival_s + world.scenario.services[v.service_id].target_s
        return (PRIORITY if v.priority else NORMAL, due, v.key)

    def estimate_all(t: float, who: list[Visitor]) -> dict[int, float]:
        """The estimate of each visitor in ``who`` (waiting at ``t``)."""
        oc, sl = hall(t)
        ahead: dict[int, int] = {}
        out = {}
        for v in sorted(who, key=order):
            sid = v.service_id
            if oc.serve(sid):
                pool = oc.pool(sid)
                out[v.key] = oc.wait(sid, {s: ahead.get(s, 0) for s in pool}, sl)
            else:
                out[v.key] = sl[sid].wait_for(ahead.get(sid, 0) + 1) or 0
            ahead[sid] = ahead.get(sid, 0) + 1
        return out

    pairs = []
    c0 = time.process_time()
    for v in timeline.visitors:
        if v.arrival_s >= world.until_s or v.key not in timeline.called:
            continue
        who = [w for w in timeline.waiting(v.arrival_s) if w.key != v.key]
        est = estimate_all(v.arrival_s, [*who, v])[v.key]  # called at once: still issued
        pairs.append((est, timeline.called[v.key] - v.arrival_s))
    cpu_ms = (time.process_time() - c0) * 1000 / max(len(pairs), 1)

    # Minute by minute: the largest change of a waiting visitor's estimate in a minute
    # in which nobody of its pool was called and no counter opened or closed.
    calls = sorted((c.called_s, c.service_id) for c in world.result.calls.values())
    changes = sorted(
        {x for c in counters for a, b in c.open for x in (a, b) if OPEN_S < x < FOREVER}
    )
    quiet_moves, still_moves, previous = [], [], {}
    t = OPEN_S + 60
    end = min(world.until_s + 3 * 3600, world.result.end_s)
    while t <= end:
        now = estimate_all(t, timeline.waiting(t))
        lo, hi = (
            bisect.bisect_right(calls, (t - 60, FOREVER)),
            bisect.bisect_right(calls, (t, FOREVER)),
        )
        called = {sid for _, sid in calls[lo:hi]}
        counter_change = bisect.bisect_right(changes, t) != bisect.bisect_right(changes, t - 60)
        if not counter_change:
            oc, _ = hall(t)
            lo = bisect.bisect_right(timeline.arrivals, t - 60)
            joined = timeline.visitors[lo : bisect.bisect_right(timeline.arrivals, t)]
            for key, est in now.items():
                v = timeline.by_key[key]
                pool = set(oc.pool(v.service_id))
                if key in previous and not called & pool:
                    quiet_moves.append(abs(est - previous[key]))
                    # Nobody joined ahead either: what moved it is the averages alone.
                    if not any(j.service_id in pool and order(j) < order(v) for j in joined):
                        still_moves.append(abs(est - previous[key]))
        previous = now
        t += 60
    # A counter opening (a closure's end) must never lengthen anyone's estimate.
    rises = []
    for x in sorted({a for c in counters for a, _ in c.open if OPEN_S < a < end}):
        who = timeline.waiting(x)
        before, after = estimate_all(x - 1e-3, who), estimate_all(x, who)
        rises += [after[k] - before[k] for k in after]
    errors = [e - r for e, r in pairs]
    mean_real = statistics.fmean(r for _, r in pairs) if pairs else 0
    mae = statistics.fmean(abs(e) for e in errors) if errors else None
    within = sum(1 for e, r in pairs if abs(e - r) <= max(TOLERANCE_SHARE * r, TOLERANCE_S))
    return {
        "n": len(pairs),
        "mae_s": mae,
        "mean_wait_s": mean_real,
        "bias_s": statistics.fmean(errors) if errors else None,
        "within": within,
        "opening_estimates": len(rises),
        "opening_max_rise_s": max(rises, default=None),
        "quiet_minutes": len(quiet_moves),
        "still_max_s": max(still_moves, default=0),
        "quiet_max_s": max(quiet_moves, default=0),
        "quiet_p99_s": percentile(quiet_moves, 0.99) or 0,
        "quiet_moved": sum(1 for m in quiet_moves if m > 0),
        "cpu_ms": cpu_ms,
    }


# Simulator fidelity -----------------------------------------------------------------


def recorded(world: World) -> Scenario:
    """The world's day as the server records it (replay.recorded_day): arrivals, call
    to end as the service time, no-shows flagged, counters' open intervals; the time
    a no-show cost the clerk is the median of the recorded ones (call to no-show).
    The world being the simulation, this can only differ by the ties of its events."""
    scenario = world_scenario(world.day, world.closures)
    scenario.no_show_s = world.scenario.no_show_s  # every recorded no-show took this long
    return scenario


def p90(scenario: Scenario, result: SimResult, until: float = FOREVER) -> float | None:
    return percentile(
        result.waits([v for v in scenario.visitors if not v.probe and v.arrival_s < until]), 0.9
    )


def server_day(results_dir: Path, stamp: str) -> dict | None:
    """Scenario 5's day on the real server (its trace, this run's or the latest one),
    re-simulated from its records: arrivals at issue, call to end as service time,
    targets 0 on the server (every ticket due at issue)."""
    mine = results_dir / f"{stamp}-day-tickets.csv"
    traces = [mine] if mine.exists() else sorted(results_dir.glob("*-day-tickets.csv"))
    if not traces:
        return None
    with traces[-1].open() as f:
        rows = [r for r in csv.DictReader(f) if r["issued_min"] and r["called_min"]]
    rows = [r for r in rows if r["ended_min"] or r["outcome"] == "no_show"]
    if len(rows) < 20:
        return None
    visitors = []
    for n, r in enumerate(rows):
        issued = float(r["issued_min"]) * 60
        visitors.append(
            Visitor(
                n,
                issued,
                synthetic.SERVICE_IDS[r["service"]],
                (float(r["ended_min"] or r["called_min"]) - float(r["called_min"])) * 60,
                priority=bool(r["priority"]),
                due_s=issued,
                no_show=r["outcome"] == "no_show",
            )
        )
    # What the records miss: a desk's time from an end to its next call while someone
    # waited (its requests), as replay.recorded_day measures it for a what-if.
    desks = {label: n for n, label in enumerate(sorted({r["counter"] for r in rows}))}
    calls = [
        Call(
            v.key,
            v.service_id,
            desks[r["counter"]],
            v.arrival_s,
            float(r["called_min"]) * 60,
            False,
        )
        for v, r in zip(visitors, rows, strict=True)
    ]
    turnaround = desk_turnaround(calls, {v.key: v.service_s for v in visitors})
    scenario = Scenario(
        synthetic.sim_services(),
        synthetic.sim_counters(),
        visitors,
        Policy("ratio", 2),
        start_s=OPEN_S,
        no_show_s=2 * synthetic.NO_SHOW_WAIT_MIN * 60,  # the desks' recall and wait
        turnaround_s=turnaround,
    )
    without = p90(scenario, simulate(replace(scenario, turnaround_s=0.0)))
    real = [(float(r["called_min"]) - float(r["issued_min"])) * 60 for r in rows]
    simulated = p90(scenario, simulate(scenario))
    real_p90 = percentile(real, 0.9)
    return {
        "trace": _shown(traces[-1]),
        "visitors": len(rows),
        "real_p90_s": real_p90,
        "simulated_p90_s": simulated,
        "error": simulated / real_p90 - 1 if real_p90 else None,
        "unrecorded_gap_s": _r(turnaround),
        "simulated_p90_without_gap_s": without,
    }


# The scenario -----------------------------------------------------------------------


def run(ctx) -> dict:
    seeds, runs = (SMOKE_SEEDS, SMOKE_RUNS) if ctx.smoke else (SEEDS, RUNS)
    days = []
    for seed in seeds:
        world = make_world(seed, ctx.smoke)
        day = forecast_day(world, runs)
        scored = score(world, day)
        est = estimates(world, day["timeline"])
        replay = recorded(world)
        days.append(
            {
                "seed": seed,
                "visitors": sum(1 for v in world.day if v.arrival_min * 60 < world.until_s),
                "surges": world.surges,
                "closures": [(c, round(a / 60, 1), round(b / 60, 1)) for c, a, b in world.closures],
                "score": scored,
                "estimate": est,
                "fidelity": {
                    "world_p90_s": p90(world.scenario, world.result, world.until_s),
                    "replay_p90_s": p90(replay, simulate(replay), world.until_s),
                },
                "forecast_cpu_ms": day["forecast_cpu_ms"],
                "suggest_cpu_ms": day["suggest_cpu_ms"],
            }
        )
    busy = make_world(seeds[0], ctx.smoke, visitors=BUSY_VISITORS, upsets=False)
    busy_estimate = estimates(busy, Timeline(busy))
    return summarize(days, runs, server_day(ctx.results_dir, ctx.stamp), busy_estimate)


def summarize(days: list[dict], runs: int, server: dict | None, busy: dict) -> dict:
    def total(key: str) -> int:
        return sum(d["score"][key] for d in days)

    leads = [x for d in days for x in d["score"]["leads_s"]]
    est = [d["estimate"] for d in days]
    n = sum(e["n"] for e in est)
    mae = sum(e["mae_s"] * e["n"] for e in est if e["n"]) / n if n else None
    mean_wait = sum(e["mean_wait_s"] * e["n"] for e in est if e["n"]) / n if n else None
    f_cpu = [x for d in days for x in d["forecast_cpu_ms"]]
    s_cpu = [x for d in days for x in d["suggest_cpu_ms"]]
    fidelity = [
        d["fidelity"]["replay_p90_s"] / d["fidelity"]["world_p90_s"] - 1
        for d in days
        if d["fidelity"]["world_p90_s"]
    ]
    return {
        "days": len(days),
        "visitors_per_day": VISITORS,
        "runs": runs,
        "warnings": {
            "raised": total("warnings"),
            "scored": total("scored"),
            "right": total("right"),
            "precision": _ratio(total("right"), total("scored")),
            "grid": total("grid"),
            "breach_points": total("breach"),
            "warned_points": total("warned_points"),
            "hit_points": total("hit_points"),
            "grid_precision": _ratio(total("hit_points"), total("warned_points")),
            "grid_recall": _ratio(total("hit_points"), total("breach")),
            "episodes": total("episodes"),
            "warned": total("warned"),
            "recall": _ratio(total("warned"), total("episodes")),
            "covered": _ratio(total("covered"), total("episodes")),
            "scored_with_arrivals": total("scored_with_arrivals"),
            "precision_with_arrivals": _ratio(total("right"), total("scored_with_arrivals")),
            "lead_min": {
                "p50": _min(percentile(leads, 0.5)),
                "min": _min(min(leads, default=None)),
                "max": _min(max(leads, default=None)),
            },
        },
        "suggestions": {
            "made": total("with_suggestion"),
            "for_right_warnings": total("right_with_suggestion"),
            "prevented": total("prevented"),
            "prevented_share": _ratio(total("prevented"), total("right_with_suggestion")),
        },
        "estimate": {
            "n": n,
            "mae_s": _r(mae),
            "mean_wait_s": _r(mean_wait),
            "mae_share": _ratio(mae, mean_wait),
            "within_25": _ratio(sum(e["within"] for e in est), n),
            "quiet_max_change_s": _r(max(e["quiet_max_s"] for e in est)),
            "quiet_p99_change_s": _r(max(e["quiet_p99_s"] for e in est)),
            "still_max_change_s": _r(max(e["still_max_s"] for e in est)),
            "quiet_minutes": sum(e["quiet_minutes"] for e in est),
            "opening_estimates": sum(e["opening_estimates"] for e in est),
            "opening_max_rise_s": max(
                (e["opening_max_rise_s"] for e in est if e["opening_max_rise_s"] is not None),
                default=None,
            ),
            "quiet_moved": sum(e["quiet_moved"] for e in est),
            "cpu_ms": _r(statistics.fmean(e["cpu_ms"] for e in est)),
        },
        "busy_day_estimate": {
            "visitors": BUSY_VISITORS,
            "n": busy["n"],
            "mae_share": _ratio(busy["mae_s"], busy["mean_wait_s"]),
            "mean_wait_s": _r(busy["mean_wait_s"]),
            "within_25": _ratio(busy["within"], busy["n"]),
            "quiet_max_change_s": _r(busy["quiet_max_s"]),
            "still_max_change_s": _r(busy["still_max_s"]),
        },
        "fidelity": {
            "world_replay_error_max": _r(max(fidelity, key=abs, default=None), 4),
            "server_day": server,
        },
        "cpu_ms": {
            "forecast_p50": _r(percentile(f_cpu, 0.5)),
            "forecast_max": _r(max(f_cpu, default=None)),
            "suggestion_p50": _r(percentile(s_cpu, 0.5)),
            "suggestion_max": _r(max(s_cpu, default=None)),
        },
        "per_day": [{k: v for k, v in d.items() if not k.endswith("cpu_ms")} for d in days],
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _min(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


# Reporting --------------------------------------------------------------------------

START, END = "<!-- forecast: start -->", "<!-- forecast: end -->"


def rows(r: dict) -> list[tuple[str, str, str]]:
    """The main table's rows (bench/run.py)."""
    w, s, e, cpu = r["warnings"], r["suggestions"], r["estimate"], r["cpu_ms"]
    server = r["fidelity"]["server_day"]
    return [
        (
            f"Forecast: breach warnings, 30-min service level ({r['days']} days with surges "
            "and closures)",
            f"every 5 min: precision {_fmt(w['grid_precision'])} ({w['hit_points']}/"
            f"{w['warned_points']}), recall {_fmt(w['grid_recall'])} ({w['hit_points']}/"
            f"{w['breach_points']}); episodes warned {_fmt(w['recall'])} ({w['warned']}/"
            f"{w['episodes']}); scored warnings right {_fmt(w['precision'])} ({w['right']}/"
            f"{w['scored']}); CPU {_fmt(cpu['forecast_p50'])} ms per forecast "
            f"({r['runs']} runs)",
            "both ≥ 0.8",
        ),
        (
            "Forecast: estimated wait at issue vs real wait (server's rule)",
            f"MAE {_fmt(e['mae_share'], pct=True)} of the real wait; largest change in a "
            f"quiet minute {_fmt(e['quiet_max_change_s'])} s",
            "MAE ≤ 15%",
        ),
        (
            "Forecast: simulated p90 of a recorded day vs what happened",
            f"world {_fmt(r['fidelity']['world_replay_error_max'], pct=True, sign=True)}"
            + (
                f"; real server's day {_fmt(server['error'], pct=True, sign=True)}"
                if server and server.get("error") is not None
                else ""
            ),
            "within 15%",
        ),
        (
            "Forecast: suggestions applied in the simulated day",
            f"{_fmt(s['prevented_share'], pct=True)} of the right warnings' breaches prevented "
            f"({s['prevented']}/{s['for_right_warnings']}); CPU {_fmt(cpu['suggestion_p50'])} ms "
            "per suggestion",
            "most",
        ),
    ]


def section(r: dict, command: str) -> str:
    """docs/benchmarks.md's forecast section."""
    w, s, e, f, cpu = (
        r["warnings"],
        r["suggestions"],
        r["estimate"],
        r["fidelity"],
        r["cpu_ms"],
    )
    lead, b = w["lead_min"], r["busy_day_estimate"]
    server = f["server_day"]
    lines = [
        "## Forecast on simulated days",
        "",
        f"`{command}` (bench/forecast.py, in process): {r['days']} simulated days of "
        f"{r['visitors_per_day']:,} visitors at the benchmark's center (40 services, 20 "
        f"counters), each with {SURGES} surges (a service's arrivals x{SURGE_FACTOR:g} for "
        f"{SURGE_MIN} minutes) and {CLOSED_COUNTERS} counters closed for {CLOSED_MIN} "
        f"minutes, at random times. A forecast every {STEP_S // 60} simulated minutes, "
        f"{r['runs']} runs each; definitions in docs/forecast.md.",
        "",
        "| Measure | Figure | Target |",
        "|---|---|---|",
        f"| Warnings every {STEP_S // 60} min: precision (the next 30 min's arrivals "
        f"breached / a warning open; of {w['grid']:,} service-instants) | "
        f"{_fmt(w['grid_precision'])} ({w['hit_points']}/{w['warned_points']}) | ≥ 0.8 |",
        f"| Warnings every {STEP_S // 60} min: recall (a warning open / the next 30 min's "
        f"arrivals breached) | {_fmt(w['grid_recall'])} ({w['hit_points']}/"
        f"{w['breach_points']}) | ≥ 0.8 |",
        f"| Breach episodes warned (open at their start, or raised up to 30 min before) | "
        f"{_fmt(w['recall'])} ({w['warned']}/{w['episodes']}) | – |",
        f"| Episodes with a warning open at their start | {_fmt(w['covered'])} | – |",
        f"| Warnings as the server scores them (breached over their window; "
        f"{w['raised']} raised) | {_fmt(w['precision'])} ({w['right']}/{w['scored']}) | – |",
        f"| The same over the windows someone arrived in | "
        f"{_fmt(w['precision_with_arrivals'])} ({w['right']}/{w['scored_with_arrivals']}) | – |",
        f"| Lead time of the warned episodes | median {_fmt(lead['p50'])} min "
        f"({_fmt(lead['min'])}–{_fmt(lead['max'])}) | – |",
        f"| Estimate at issue: MAE / mean real wait | {_fmt(e['mae_share'], pct=True)} "
        f"({_fmt(e['mae_s'])} s of {_fmt(e['mean_wait_s'])} s; n={e['n']:,}) | ≤ 15% |",
        f"| Estimate within max(25%, 1 min) | {_fmt(e['within_25'], pct=True)} | – |",
        f"| The same on the busy day ({b['visitors']:,} visitors, no surge) | MAE "
        f"{_fmt(b['mae_share'], pct=True)} of {_fmt(b['mean_wait_s'])} s; within "
        f"{_fmt(b['within_25'], pct=True)}; quiet-minute change up to "
        f"{_fmt(b['quiet_max_change_s'])} s ({_fmt(b['still_max_change_s'])} s with nobody "
        "joining ahead) | ≤ 15% |",
        f"| Estimate's largest change in a quiet minute (no call from its pool, no "
        f"counter change) | {_fmt(e['quiet_max_change_s'])} s (p99 "
        f"{_fmt(e['quiet_p99_change_s'])} s; {e['quiet_moved']:,} of "
        f"{e['quiet_minutes']:,} such minutes moved); with nobody joining ahead either "
        f"{_fmt(e['still_max_change_s'])} s | – |",
        f"| Estimates of the visitors waiting when a counter reopened: largest rise | "
        f"{_fmt(e['opening_max_rise_s'])} s ({e['opening_estimates']:,} estimates) | ≤ 0 |",
        f"| Simulator: a recorded day's p90 wait re-simulated vs the world's | "
        f"{_fmt(f['world_replay_error_max'], pct=True, sign=True)} (worst day) | within 15% |",
    ]
    if server and server.get("error") is not None:
        lines.append(
            f"| Simulator: the real server's day (scenario 5, {server['visitors']:,} visitors) "
            f"re-simulated | p90 {_fmt(server['simulated_p90_s'] / 60)} min simulated vs "
            f"{_fmt(server['real_p90_s'] / 60)} min real "
            f"({_fmt(server['error'], pct=True, sign=True)}), with the desks' own "
            f"{_fmt(server['unrecorded_gap_s'])} s (median) from an end to the next call "
            "measured from the records; without it "
            f"{_fmt(server['simulated_p90_without_gap_s'] / 60)} min | within 15% |"
        )
    lines += [
        f"| Suggestions: breaches prevented, applied when made | "
        f"{_fmt(s['prevented_share'], pct=True)} ({s['prevented']}/"
        f"{s['for_right_warnings']} right warnings with one; {s['made']} made in all) | most |",
        f"| CPU per forecast | median {_fmt(cpu['forecast_p50'])} ms, max "
        f"{_fmt(cpu['forecast_max'])} ms | – |",
        f"| CPU per suggestion | median {_fmt(cpu['suggestion_p50'])} ms, max "
        f"{_fmt(cpu['suggestion_max'])} ms | – |",
        "",
    ]
    return "\n".join(lines)


def block(doc: str) -> str:
    """The forecast section of ``doc`` with its markers, or ""."""
    if START not in doc or END not in doc:
        return ""
    return doc[doc.index(START) : doc.index(END) + len(END)] + "\n"


def with_section(doc: str, text: str, notes: str) -> str:
    """``doc`` with its forecast section replaced (or put before ``notes``)."""
    new = f"{START}\n{text}{END}\n"
    if old := block(doc):
        return doc.replace(old, new, 1)
    at = doc.index(notes) if notes in doc else len(doc)
    return doc[:at] + new + "\n" + doc[at:]


def _fmt(value: float | None, *, pct: bool = False, sign: bool = False) -> str:
    if value is None:
        return "–"
    if pct:
        return f"{value:+.0%}" if sign else f"{value:.0%}"
    if isinstance(value, float) and value < 10:
        return f"{value:.2f}"
    return f"{value:,.0f}" if isinstance(value, float) else f"{value:,}"
