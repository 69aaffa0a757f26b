"""A discrete-event simulation of one center's hall: visitors arrive, wait in their
services' queues, and counters call them by the center's call policy and serve them.

Plain Python over plain data (no database, no clock): the live forecast runs it many
times from the present state (forecast.py), the what-if runs it over a recorded or a
typical day (whatif.py), and the benchmarks measure it against the server's own days.

It calls the way ``server/queue/calling.py`` does (docs/queue.md), so that what it
predicts is what the counters will do:

* a counter takes visitors only of its services; within a lane, visitors already due
  (overdue) go first, most overdue first, whichever service; then the counter's
  services in its order of preference, earliest due first;
* the priority lane against the normal one: ``strict`` always priority first; ``ratio``
  one priority visitor after every ``priority_ratio`` others, or sooner when the
  priority visitor is due earlier than the next normal one (aging);
* ``fcfs`` (not a center's policy: the yardstick of the policy check) calls whoever of
  the counter's services arrived first, lanes and preferences ignored.

Invariants: a visitor is called once, by a counter that serves its service and is open
at that instant, never before it arrived or became callable; a counter serves one
visitor at a time and finishes the one it has when it closes; the same scenario gives
the same result (the randomness lives in the scenario's making, not here).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

POLICIES = ("ratio", "strict", "fcfs")
FOREVER = math.inf
# The queue lanes, called in this order where the policy allows (server/models/tickets.py
# LANE_*): sent back to the front, priority, normal.
FRONT, PRIORITY, NORMAL = 0, 1, 2


@dataclass(frozen=True)
class SimService:
    id: int
    code: str
    target_s: float  # the service level's target wait


@dataclass
class SimCounter:
    """A counter: its services in order of preference, and when it is open (half-open
    intervals ``[from, to)`` in simulation seconds; it finishes a visitor it has).
    ``calls_since_priority``: normal visitors called since its last priority one (the
    ``ratio`` policy counts on from there, as Counter.calls_since_priority does)."""

    id: int
    label: str
    services: tuple[int, ...]
    open: list[tuple[float, float]] = field(default_factory=lambda: [(0.0, FOREVER)])
    busy_until: float = 0.0  # serving a visitor at the start, until then
    calls_since_priority: int = 0

    def is_open(self, t: float) -> bool:
        return any(start <= t < end for start, end in self.open)


@dataclass(frozen=True)
class Visitor:
    """One visitor: when they join the queue and for what, how long their service will
    take at the counter (call to end, walking included), whether they come when called.
    ``due_s`` defaults to arrival plus the service's target (as issuing sets due_at);
    ``callable_s`` holds a visitor back (a booking's slot, a remote join). ``lane``:
    FRONT, PRIORITY or NORMAL (None: by ``priority``); ``target_counter``: sent to that
    counter, which calls them before anyone else (and nobody else does); ``leaves_s``:
    not called by then, they leave (an expired or cancelled ticket)."""

    key: int
    arrival_s: float
    service_id: int
    service_s: float
    priority: bool = False
    due_s: float | None = None
    callable_s: float | None = None
    no_show: bool = False
    probe: bool = False  # measures the wait at an instant: takes no counter time
    lane: int | None = None
    target_counter: int | None = None
    leaves_s: float | None = None


@dataclass(frozen=True)
class Policy:
    kind: str = "ratio"
    priority_ratio: int = 2

    def __post_init__(self) -> None:
        if self.kind not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}, not {self.kind!r}")


@dataclass
class Scenario:
    services: dict[int, SimService]
    counters: list[SimCounter]
    visitors: list[Visitor]
    policy: Policy = field(default_factory=Policy)
    start_s: float = 0.0
    # Nobody is called after this (the simulated day ends); visitors not called by then
    # count as not served: their wait is at least `end_s - arrival`.
    end_s: float = FOREVER
    no_show_s: float = 60.0  # a counter's time lost on a visitor who does not come
    # A desk's own time after a visit before it calls again (records hold call to end).
    turnaround_s: float = 0.0


@dataclass(frozen=True)
class Call:
    key: int
    service_id: int
    counter_id: int
    arrival_s: float
    called_s: float
    priority: bool

    @property
    def wait_s(self) -> float:
        return self.called_s - self.arrival_s


@dataclass
class SimResult:
    calls: dict[int, Call]  # by visitor key
    unserved: list[Visitor]  # never called: still waiting when the day ended, or left
    end_s: float

    def waits(self, visitors: Iterable[Visitor]) -> list[float]:
        """The waits of these visitors; one never called waited until they left or the
        day ended, whichever came first."""
        out = []
        for v in visitors:
            call = self.calls.get(v.key)
            if call is not None:
                out.append(call.wait_s)
            else:
                until = self.end_s if v.leaves_s is None else min(v.leaves_s, self.end_s)
                out.append(max(until - v.arrival_s, 0.0))
        return out


def lane_of(v: Visitor) -> int:
    return v.lane if v.lane is not None else (PRIORITY if v.priority else NORMAL)


class _Queues:
    """The waiting visitors by lane and service, each a heap in due order (arrivals
    come in time order, so a push is mostly an append; a held-back visitor joins when
    it becomes callable, in its due place). Visitors who left are dropped when they
    reach the head."""

    def __init__(self) -> None:
        self.lanes: tuple[dict[int, list], ...] = ({}, {}, {})
        self.left: list[Visitor] = []
        self.joined = 0

    def add(self, v: Visitor, lane: int) -> None:
        # Equal due times: first come, first called (a probe at an instant queues behind
        # whoever is already there).
        self.joined += 1
        heapq.heappush(self.lanes[lane].setdefault(v.service_id, []), (v.due_s, self.joined, v))

    def head(self, service_id: int, lane: int, now: float) -> Visitor | None:
        queue = self.lanes[lane].get(service_id)
        while queue:
            v = queue[0][2]
            if v.leaves_s is None or v.leaves_s > now:
                return v
            self.left.append(heapq.heappop(queue)[2])
        return None

    def pop(self, v: Visitor, lane: int) -> None:
        heapq.heappop(self.lanes[lane][v.service_id])

    def waiting(self) -> list[Visitor]:
        return [e[2] for lane in self.lanes for queue in lane.values() for e in queue]


def simulate(scenario: Scenario) -> SimResult:
    """Run the scenario to its end (or until nobody is left): who is called when."""
    services = scenario.services
    policy = scenario.policy
    fcfs = policy.kind == "fcfs"
    strict = policy.kind == "strict"
    ratio = policy.priority_ratio
    # Every visitor's due time fixed once (the queues order by it).
    visitors = [
        v
        if v.due_s is not None
        else replace(v, due_s=v.arrival_s + services[v.service_id].target_s)
        for v in scenario.visitors
    ]
    events: list[tuple[float, int, int, object]] = []  # (time, order, seq, payload)
    seq = 0

    def push(t: float, order: int, payload: object) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, order, seq, payload))

    # Orders at one instant: counters freed (0) and opened (1) before arrivals (2),
    # as a desk that just finished is there to call a newcomer.
    for v in visitors:
        joins = max(v.arrival_s, v.callable_s or v.arrival_s, scenario.start_s)
        push(joins, 2, v)
    counters = {c.id: c for c in scenario.counters}
    calls_since_priority = {c.id: c.calls_since_priority for c in scenario.counters}
    free_at = {c.id: max(c.busy_until, scenario.start_s) for c in scenario.counters}
    # A service's rank in each counter's order of preference (others after them all).
    ranks = {c.id: {s: i for i, s in enumerate(c.services)} for c in scenario.counters}
    idle: set[int] = set()
    for c in scenario.counters:
        push(free_at[c.id], 0, c.id)
        for start, _ in c.open:
            if start > free_at[c.id]:
                push(start, 1, c.id)

    queues = _Queues()
    lanes = queues.lanes
    targeted: dict[int, list[Visitor]] = {}  # counter -> visitors sent to it
    calls: dict[int, Call] = {}
    by_service: dict[int, list[int]] = {}  # service -> counters serving it
    for c in scenario.counters:
        for s in c.services:
            by_service.setdefault(s, []).append(c.id)

    def best(counter: SimCounter, lane: int, rank: dict[int, int], now: float):
        """The lane's best head for this counter, as rank_heads orders a lane: overdue
        first (most overdue first), then by preference, earliest due first."""
        chosen, chosen_key = None, None
        queue_of = lanes[lane]
        for s in counter.services:
            if s not in queue_of:
                continue
            h = queues.head(s, lane, now)
            if h is None:
                continue
            due = h.due_s
            k = (0, 0, due, h.key) if due <= now else (1, rank[s], due, h.key)
            if chosen_key is None or k < chosen_key:
                chosen, chosen_key = h, k
        return chosen

    def choose(counter: SimCounter, now: float) -> Visitor | None:
        own = targeted.get(counter.id)
        if own:
            rank = ranks[counter.id]
            others = len(rank)
            live = [v for v in own if v.leaves_s is None or v.leaves_s > now]
            for v in own:
                if v not in live:
                    queues.left.append(v)
            own[:] = live
            if live:
                return min(
                    live,
                    key=lambda h: (
                        lane_of(h),
                        *(
                            (0, 0, h.due_s, h.key)
                            if h.due_s <= now
                            else (1, rank.get(h.service_id, others), h.due_s, h.key)
                        ),
                    ),
                )
        if fcfs:
            first = None
            for s in counter.services:
                for lane in (FRONT, PRIORITY, NORMAL):
                    h = queues.head(s, lane, now)
                    if h is not None and (
                        first is None or (h.arrival_s, h.key) < (first.arrival_s, first.key)
                    ):
                        first = h
            return first
        rank = ranks[counter.id]
        front = best(counter, FRONT, rank, now) if lanes[FRONT] else None
        if front is not None:
            return front
        priority = best(counter, PRIORITY, rank, now)
        normal = best(counter, NORMAL, rank, now)
        if priority is None or normal is None:
            return priority or normal
        if strict or calls_since_priority[counter.id] >= ratio:
            return priority
        return priority if priority.due_s <= normal.due_s else normal

    def try_call(counter_id: int, now: float) -> None:
        counter = counters[counter_id]
        if now >= scenario.end_s or not counter.is_open(now):
            idle.discard(counter_id)
            return
        while True:
            v = choose(counter, now)
            if v is None:
                idle.add(counter_id)
                return
            if v.target_counter is not None:
                targeted[v.target_counter].remove(v)
            else:
                queues.pop(v, lane_of(v))
            calls[v.key] = Call(v.key, v.service_id, counter_id, v.arrival_s, now, v.priority)
            if v.probe:
                continue  # a probe takes no time: call the next at once
            idle.discard(counter_id)
            if not fcfs:
                calls_since_priority[counter_id] = (
                    0 if v.priority else calls_since_priority[counter_id] + 1
                )
            took = (scenario.no_show_s if v.no_show else v.service_s) + scenario.turnaround_s
            free_at[counter_id] = now + took
            push(now + took, 0, counter_id)
            return

    last = scenario.start_s
    while events:
        now, order, _, payload = heapq.heappop(events)
        if now >= scenario.end_s:
            break
        last = now
        if order == 2:
            v = payload
            if v.leaves_s is not None and v.leaves_s <= now:
                queues.left.append(v)  # gone before they could be called
                continue
            if v.target_counter is not None:
                targeted.setdefault(v.target_counter, []).append(v)
                if v.target_counter in idle:
                    try_call(v.target_counter, now)
                continue
            queues.add(v, lane_of(v))
            for counter_id in by_service.get(v.service_id, ()):
                if counter_id in idle:
                    try_call(counter_id, now)
                    if v.key in calls:
                        break
        else:
            counter_id = payload
            if free_at[counter_id] > now:
                continue  # an opening while it still serves: it calls when free
            try_call(counter_id, now)  # a closed one waits for its opening's event
    end = scenario.end_s if scenario.end_s < FOREVER else last
    unserved = [*queues.waiting(), *queues.left, *(v for own in targeted.values() for v in own)]
    return SimResult(calls, unserved, end)


def percentile(values: Sequence[float], share: float) -> float | None:
    """The ``share`` percentile (0..1) of ``values``, nearest rank; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    index = max(math.ceil(share * len(ordered)) - 1, 0)
    return ordered[index]


@dataclass(frozen=True)
class ServiceFigures:
    service_id: int
    visitors: int
    p50_wait_s: float | None
    p90_wait_s: float | None
    mean_wait_s: float | None
    within_target: float | None  # share called within the service's target
    priority_p90_wait_s: float | None


def figures(
    scenario: Scenario, result: SimResult, *, since: float = -FOREVER, until: float = FOREVER
) -> dict[int, ServiceFigures]:
    """Per service, the waits of the (non-probe) visitors who arrived in [since, until)."""
    by_service: dict[int, list[Visitor]] = {s: [] for s in scenario.services}
    for v in scenario.visitors:
        if not v.probe and since <= v.arrival_s < until:
            by_service.setdefault(v.service_id, []).append(v)
    out = {}
    for service_id, group in by_service.items():
        waits = result.waits(group)
        target = scenario.services[service_id].target_s
        priority = result.waits([v for v in group if v.priority])
        out[service_id] = ServiceFigures(
            service_id,
            len(group),
            percentile(waits, 0.5),
            percentile(waits, 0.9),
            sum(waits) / len(waits) if waits else None,
            sum(1 for w in waits if w <= target) / len(waits) if waits else None,
            percentile(priority, 0.9),
        )
    return out
