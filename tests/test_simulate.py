"""The hall simulation (server/forecast/simulate.py): its invariants on random days, and
its fidelity: the real engine (server/queue) driven through a day and the simulation of
the same day call the same visitors to the same counters at the same instants."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from datetime import timedelta

import pytest

from server import queue
from server.forecast.simulate import (
    FRONT,
    Policy,
    Scenario,
    SimCounter,
    SimService,
    Visitor,
    figures,
    simulate,
)
from server.models import Counter

from . import factories
from .engine_helpers import T0, quick_staff

# --- invariants -------------------------------------------------------------------


def _random_scenario(seed: int, kind: str = "ratio") -> Scenario:
    rng = random.Random(seed)
    services = {i: SimService(i, f"s{i}", rng.choice([300.0, 600.0, 900.0])) for i in (1, 2, 3)}
    counters = []
    for cid in range(1, rng.randint(2, 5)):
        served = rng.sample([1, 2, 3], rng.randint(1, 3))
        opens = rng.uniform(0, 1800)
        closes = opens + rng.uniform(1800, 7200)
        counters.append(SimCounter(cid, str(cid), tuple(served), [(opens, closes)]))
    visitors = []
    for key in range(rng.randint(20, 80)):
        arrival = rng.uniform(0, 7200)
        visitors.append(
            Visitor(
                key=key,
                arrival_s=arrival,
                service_id=rng.choice([1, 2, 3]),
                service_s=rng.uniform(30, 600),
                priority=rng.random() < 0.25,
                callable_s=arrival + 900 if rng.random() < 0.1 else None,
                no_show=rng.random() < 0.05,
                probe=rng.random() < 0.05,
            )
        )
    return Scenario(services, counters, visitors, Policy(kind, rng.randint(1, 3)), end_s=10800)


@pytest.mark.parametrize("kind", ["ratio", "strict", "fcfs"])
@pytest.mark.parametrize("seed", range(12))
def test_invariants_on_random_days(seed, kind):
    scenario = _random_scenario(seed, kind)
    result = simulate(scenario)
    counters = {c.id: c for c in scenario.counters}
    by_key = {v.key: v for v in scenario.visitors}
    assert set(result.calls).isdisjoint(v.key for v in result.unserved)
    assert set(result.calls) | {v.key for v in result.unserved} == set(by_key)
    busy: dict[int, list[tuple[float, float]]] = {}
    for key, call in result.calls.items():
        v = by_key[key]
        counter = counters[call.counter_id]
        assert v.service_id in counter.services
        assert counter.is_open(call.called_s), (key, call)
        assert call.called_s >= v.arrival_s and call.called_s >= (v.callable_s or 0)
        assert call.called_s < scenario.end_s
        if not v.probe:
            took = scenario.no_show_s if v.no_show else v.service_s
            busy.setdefault(call.counter_id, []).append((call.called_s, call.called_s + took))
    for spans in busy.values():  # one visitor at a time
        spans.sort()
        assert all(a[1] <= b[0] + 1e-9 for a, b in zip(spans, spans[1:], strict=False))
    again = simulate(scenario)  # the same scenario, the same day
    assert again.calls == result.calls


def test_a_probe_takes_no_counter_time_and_a_closing_counter_finishes_its_visitor():
    services = {1: SimService(1, "a", 600.0)}
    counter = SimCounter(1, "1", (1,), [(0.0, 100.0)])
    visitors = [
        Visitor(1, 0.0, 1, 500.0),
        Visitor(2, 10.0, 1, 50.0, probe=True),
        Visitor(3, 20.0, 1, 50.0),
    ]
    result = simulate(Scenario(services, [counter], visitors, end_s=10_000))
    assert result.calls[1].called_s == 0.0
    # at 500 the counter is closed (since 100): it finished visitor 1 and calls nobody
    assert 2 not in result.calls and 3 not in result.calls
    counter = SimCounter(1, "1", (1,), [(0.0, 1000.0)])
    result = simulate(Scenario(services, [counter], visitors, end_s=10_000))
    assert result.calls[2].called_s == 500.0 and result.calls[3].called_s == 500.0
    figs = figures(Scenario(services, [counter], visitors), result)
    assert figs[1].visitors == 2  # the probe is not a visitor


# --- fidelity: the real engine against the simulation -----------------------------


@dataclass(frozen=True)
class Arrival:
    t: float  # seconds after T0
    service: str
    service_s: float
    priority: str | None = None
    no_show: bool = False


@dataclass
class EngineDay:
    center_id: int
    arrivals: list[Arrival]
    ticket_ids: list[int]  # per arrival
    calls: list[tuple[int, str, float]]  # (arrival index, counter label, called at)
    counters: list[tuple[int, str, tuple[int, ...]]]  # id, label, service ids by rank
    services: dict[int, SimService]
    off: dict[str, list[tuple[float, float]]]  # label -> when it does not call

    def open_intervals(self, label: str) -> list[tuple[float, float]]:
        out, start = [], 0.0
        for lo, hi in sorted(self.off.get(label, [])):
            out.append((start, lo))
            start = hi
        return [*out, (start, float("inf"))] if start < float("inf") else out


def _when(t: float):
    return T0 + timedelta(seconds=t)


def run_engine(
    db,
    arrivals: list[Arrival],
    *,
    close_at: dict[str, float] | None = None,
    pauses: dict[str, list[tuple[float, float]]] | None = None,
    **center,
) -> EngineDay:
    """Drive the real engine through a day: tickets issued at their instants, each counter
    calling (call-next and start in one press) as soon as it is free, visits completed
    after their service time, a no-show recalled once and marked after 60 s. At one
    instant, desks that finish call before newcomers join (the simulation's rule);
    newcomers are offered to the idle counters in counter order. ``close_at``: a counter
    closes then (after the visitor it has); ``pauses``: it pauses (a break) for those
    intervals, and calls again (which reopens it) when they end."""
    off = {label: list(spans) for label, spans in (pauses or {}).items()}
    for label, t in (close_at or {}).items():
        off.setdefault(label, []).append((t, float("inf")))
    with db.write() as s:
        c = factories.make_center(s, recalls_before_no_show=1, **center)
        kiosk = factories.kiosk_actor(s, c)
        staff = quick_staff(s, c, f"sim-{c.code}")
        services = {
            sv.id: SimService(sv.id, sv.code, sv.target_wait_min * 60.0) for sv in c.services
        }
        code_to_id = {sv.code: sv.id for sv in c.services}
        counters = [
            (k.id, k.label, tuple(k.service_ids)) for k in sorted(c.counters, key=lambda k: k.id)
        ]
        center_id, center_code = c.id, c.code
    labels = {cid: label for cid, label, _ in counters}
    ids = {label: cid for cid, label, _ in counters}
    events: list = []
    for i, a in enumerate(arrivals):
        heapq.heappush(events, (a.t, 2, i, "arrive", i))
    seq = len(arrivals)
    for label, spans in off.items():
        for lo, hi in spans:
            seq += 1
            heapq.heappush(events, (lo, 1, seq, "off", ids[label]))
            if hi < float("inf"):
                seq += 1
                heapq.heappush(events, (hi, 1, seq, "on", ids[label]))

    def state_off(counter_id: int, t: float) -> str | None:
        """ "paused" or "closed" when the counter does not call at t, else None."""
        for lo, hi in off.get(labels[counter_id], []):
            if lo <= t < hi:
                return "closed" if hi == float("inf") else "paused"
        return None

    def go_off(s, counter_id: int, t: float) -> None:
        state = state_off(counter_id, t)
        reason = "break" if state == "paused" else None
        queue.set_counter_state(s, counter_id, state, staff, reason=reason, now=_when(t))

    busy: dict[int, int | None] = {cid: None for cid, _, _ in counters}
    ticket_ids: list[int] = [0] * len(arrivals)
    index_of: dict[int, int] = {}
    calls: list[tuple[int, str, float]] = []

    def call(counter_id: int, t: float) -> int | None:
        nonlocal seq
        if state_off(counter_id, t):
            return None
        with db.write() as s:
            ticket = queue.call_next(s, counter_id, staff, now=_when(t))
            if ticket is None:
                return None
            index = index_of[ticket.id]
            if not arrivals[index].no_show:
                queue.start(s, ticket.id, staff, now=_when(t))
        a = arrivals[index]
        busy[counter_id] = ticket.id
        calls.append((index, labels[counter_id], t))
        seq += 1
        heapq.heappush(
            events, (t + (60.0 if a.no_show else a.service_s), 0, seq, "end", counter_id)
        )
        return index

    while events:
        t, _, _, kind, payload = heapq.heappop(events)
        if kind == "end":
            counter_id = payload
            ticket_id = busy[counter_id]
            with db.write() as s:
                if arrivals[index_of[ticket_id]].no_show:
                    queue.recall(s, ticket_id, staff, now=_when(t))
                    queue.no_show(s, ticket_id, staff, now=_when(t))
                else:
                    queue.complete(s, ticket_id, staff, now=_when(t))
                if state_off(counter_id, t):
                    go_off(s, counter_id, t)
            busy[counter_id] = None
            call(counter_id, t)
            continue
        if kind in ("off", "on"):
            if busy[counter_id := payload] is None:
                if kind == "off":
                    with db.write() as s:
                        go_off(s, counter_id, t)
                else:
                    call(counter_id, t)
            continue
        a = arrivals[payload]
        with db.write() as s:
            ticket = queue.issue_ticket(
                s, center_code, a.service, "az", a.priority, kiosk, now=_when(t)
            ).ticket
            ticket_ids[payload] = ticket.id
            index_of[ticket.id] = payload
        for counter_id, _, served in counters:
            idle = busy[counter_id] is None and code_to_id[a.service] in served
            if idle and call(counter_id, t) == payload:
                break
    return EngineDay(center_id, arrivals, ticket_ids, calls, counters, services, off)


def simulate_day(day: EngineDay, policy: Policy) -> list[tuple[int, str, float]]:
    code_to_id = {sv.code: sv.id for sv in day.services.values()}
    counters = [
        SimCounter(cid, label, ids, day.open_intervals(label)) for cid, label, ids in day.counters
    ]
    visitors = [
        Visitor(
            key=i,
            arrival_s=a.t,
            service_id=code_to_id[a.service],
            service_s=a.service_s,
            priority=a.priority is not None,
            no_show=a.no_show,
        )
        for i, a in enumerate(day.arrivals)
    ]
    result = simulate(Scenario(day.services, counters, visitors, policy))
    labels = {cid: label for cid, label, _ in day.counters}
    return sorted(
        ((c.key, labels[c.counter_id], c.called_s) for c in result.calls.values()),
        key=lambda x: (x[2], x[1]),
    )


def _same(day: EngineDay, policy: Policy) -> None:
    real = sorted(day.calls, key=lambda x: (x[2], x[1]))
    assert len(real) == len(day.arrivals)  # everybody was called, in both
    assert simulate_day(day, policy) == real


def _busy_morning(priority_every: int = 4) -> list[Arrival]:
    """A queue that builds: 3 counters, visitors every 50 s, 4 services, some priority."""
    rng = random.Random(17)
    codes = ["pension-new", "pension-recalc", "job-seeker"]
    out = []
    for i in range(30):
        out.append(
            Arrival(
                t=7.0 + 50 * i,
                service=rng.choice(codes),
                service_s=float(rng.randint(60, 400)),
                priority="elderly" if i % priority_every == priority_every - 1 else None,
            )
        )
    return out


def test_fidelity_ratio_policy_with_priority_visitors(db):
    day = run_engine(db, _busy_morning(), call_policy="ratio", priority_ratio=2)
    assert any(a.priority for a in day.arrivals)
    _same(day, Policy("ratio", 2))
    # the test tells policies apart: strict (or another ratio) calls otherwise
    real = sorted(day.calls, key=lambda x: (x[2], x[1]))
    assert simulate_day(day, Policy("strict", 2)) != real
    assert simulate_day(day, Policy("ratio", 4)) != real


def test_fidelity_strict_policy(db):
    day = run_engine(db, _busy_morning(priority_every=3), call_policy="strict")
    _same(day, Policy("strict", 2))
    real = sorted(day.calls, key=lambda x: (x[2], x[1]))
    assert simulate_day(day, Policy("fcfs", 2)) != real


def test_fidelity_counters_with_different_orders_and_an_overdue_visitor(db):
    # Counter 1 prefers pension-new, but a pension-recalc visitor (target 5 min) who has
    # waited past it goes first: overdue visitors first, whichever service.
    arrivals = [
        Arrival(0.0, "pension-new", 700.0),
        Arrival(10.0, "pension-recalc", 100.0),  # due at 310 s: overdue at 700
        Arrival(20.0, "pension-new", 100.0),  # due at 920 s
        Arrival(30.0, "pension-new", 100.0),
        Arrival(40.0, "pension-recalc", 100.0),  # due at 340 s
    ]
    day = run_engine(
        db,
        arrivals,
        call_policy="ratio",
        counters=[{"label": "1", "services": ["pension-new", "pension-recalc"]}],
    )
    real = sorted(day.calls, key=lambda x: x[2])
    assert [index for index, _, _ in real] == [0, 1, 4, 2, 3]
    _same(day, Policy("ratio", 2))
    # Two counters of opposite preferences, nobody overdue: each takes its own first.
    arrivals = [
        Arrival(0.0, "pension-new", 200.0),
        Arrival(1.0, "pension-recalc", 200.0),
        Arrival(5.0, "pension-new", 100.0),
        Arrival(6.0, "pension-recalc", 100.0),
        Arrival(7.0, "pension-new", 100.0),
        Arrival(8.0, "pension-recalc", 100.0),
    ]
    day = run_engine(
        db,
        arrivals,
        code="baku-2",
        call_policy="strict",
        counters=[
            {"label": "1", "services": ["pension-new", "pension-recalc"]},
            {"label": "2", "services": ["pension-recalc", "pension-new"]},
        ],
    )
    _same(day, Policy("strict", 2))


def test_fidelity_a_counter_closing_and_a_no_show(db):
    arrivals = _busy_morning()
    arrivals[5] = Arrival(arrivals[5].t, arrivals[5].service, 0.0, no_show=True)
    day = run_engine(
        db,
        arrivals,
        close_at={"2": 600.0},
        pauses={"1": [(301.0, 905.0)]},
        call_policy="ratio",
        priority_ratio=1,
    )
    with db.read() as s:
        counter = s.get(Counter, next(cid for cid, label, _ in day.counters if label == "2"))
        assert counter.state == "closed"
    assert all(t < 600.0 for _, label, t in day.calls if label == "2")
    assert not any(301.0 <= t < 905.0 for _, label, t in day.calls if label == "1")
    assert any(t >= 600.0 for _, _, t in day.calls)
    _same(day, Policy("ratio", 1))


# --- lanes, named counters, a counter's count, visitors who leave (review h12) -----------

ONE = {1: SimService(1, "s1", 600.0)}


def _called(result) -> list[int]:
    return [c.key for c in sorted(result.calls.values(), key=lambda c: (c.called_s, c.key))]


def test_the_front_lane_goes_before_the_priority_lane_even_strict():
    visitors = [
        Visitor(1, 0.0, 1, 100.0, priority=True),
        Visitor(2, 5.0, 1, 100.0, lane=FRONT, due_s=5.0),  # sent back to the front later
        Visitor(3, 6.0, 1, 100.0),
    ]
    counters = [SimCounter(1, "1", (1,), [(10.0, 1000.0)])]
    result = simulate(Scenario(ONE, counters, visitors, Policy("strict")))
    assert _called(result) == [2, 1, 3]


def test_a_visitor_sent_to_a_named_counter_is_that_counters_first_and_nobody_elses():
    visitors = [
        Visitor(1, 0.0, 1, 100.0),
        Visitor(2, 1.0, 1, 100.0, priority=True),
        Visitor(3, 2.0, 1, 50.0, target_counter=2),  # sent to counter 2
    ]
    counters = [
        SimCounter(1, "1", (1,), [(10.0, 1000.0)]),
        SimCounter(2, "2", (1,), [(10.0, 1000.0)], busy_until=300.0),
    ]
    result = simulate(Scenario(ONE, counters, visitors, Policy("strict")))
    # counter 1 is free first but leaves visitor 3 to counter 2, which takes them first
    assert result.calls[3].counter_id == 2 and result.calls[3].called_s == 300.0
    assert [result.calls[k].counter_id for k in (2, 1)] == [1, 1]


def test_the_ratio_counts_on_from_the_counters_calls_since_priority():
    visitors = [Visitor(1, 0.0, 1, 100.0), Visitor(2, 1.0, 1, 100.0, priority=True)]

    def first(count: int) -> int:
        counters = [SimCounter(1, "1", (1,), [(10.0, 1000.0)], 0.0, count)]
        return _called(simulate(Scenario(ONE, counters, visitors, Policy("ratio", 2))))[0]

    assert first(0) == 1  # the normal visitor is due first
    assert first(2) == 2  # two normal calls already: the priority visitor's turn


def test_a_visitor_who_leaves_is_not_called_and_waited_until_they_left():
    visitors = [Visitor(1, 0.0, 1, 100.0, leaves_s=50.0), Visitor(2, 1.0, 1, 100.0)]
    scenario = Scenario(ONE, [SimCounter(1, "1", (1,), [(60.0, 1000.0)])], visitors, end_s=2000)
    result = simulate(scenario)
    assert 1 not in result.calls and result.calls[2].called_s == 60.0
    assert [v.key for v in result.unserved] == [1]
    assert result.waits(visitors) == [50.0, 59.0]


def test_late_joiners_take_their_due_place():
    """Bookings made callable later join in due order, before later walk-ins."""
    visitors = [Visitor(k, 0.0, 1, 10.0, due_s=100.0 - k, callable_s=50.0) for k in range(5)]
    visitors.append(Visitor(9, 10.0, 1, 10.0, due_s=500.0))
    counters = [SimCounter(1, "1", (1,), [(60.0, 1000.0)])]
    assert _called(simulate(Scenario(ONE, counters, visitors))) == [4, 3, 2, 1, 0, 9]


def test_equal_due_times_are_called_first_come_first_called():
    """A probe arriving at the instant two visitors did (same due time) measures the
    wait behind them, whatever its key."""
    visitors = [
        Visitor(5, 0.0, 1, 100.0),
        Visitor(6, 0.0, 1, 100.0),
        Visitor(-1, 0.0, 1, 0.0, probe=True),
    ]
    counters = [SimCounter(1, "1", (1,), [(0.0, 1000.0)], busy_until=10.0)]
    result = simulate(Scenario(ONE, counters, visitors))
    assert _called(result) == [5, 6, -1] and result.calls[-1].called_s == 210.0
