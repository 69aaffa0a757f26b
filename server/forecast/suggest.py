"""What a manager could do about a breach the forecast expects, checked before it is
suggested (docs/forecast.md).

Pure, like forecast.py. For the service at risk (B), the candidate actions, from the
least disruptive:

* ``raise_service``: an open counter that serves B puts it first in its order;
* ``add_service``: an open counter with slack (none of its services near a breach) also
  takes B, last in its order;
* ``move_service``: an open counter with slack gives up a service A with slack and takes
  B in its place;
* ``open_counter``: a closed or paused counter that serves B opens (the caller may
  restrict which, say to counters whose staff is present).

Each is checked by re-running the same futures (forecast.draw: common random numbers)
with the one counter changed, up to the end of the warning's period. When the breach
lasts past :data:`REACTION_S`, B is judged on the visitors arriving from then on: those
arriving sooner find the queue the surge left, which no one change clears at once (a
suggestion that had to save them too was never found when it mattered most, right
after a crowd came in); a breach of the next minutes only is judged on those. Kept are
those that bring B's breach probability under the threshold, and clearly lower than
without them, without taking another service over it (by more than the noise:
:func:`moves_breach`); the best has the lowest probability for B, then the least harm
to the others (the sum of their probabilities' rises), then the least disruption (the
order above); the probabilities compared to a tenth (closer than that
is the Monte Carlo's noise). Each also reports the service's window breach probability
(forecast.window_breached: what warnings are raised on) before and after; one that
brings it under the threshold ranks first after B's probe probability. A suggestion is
only asked for a service whose window probability is over the threshold
(warnings.assess).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace

from .forecast import WARN_S, Draws, draw, evaluate
from .simulate import FOREVER, SimCounter
from .state import Demand, HallState

ACTIONS = ("raise_service", "add_service", "move_service", "open_counter")
SLACK = 0.2  # a service "with slack": its breach probability stays under this
NOISE = 0.1  # probabilities closer than this (4 runs in 40) rank as equal
MAX_CANDIDATES = 12  # each costs a forecast; the likeliest are tried first
REACTION_S = 600  # a change tells on visitors arriving this long after it (see above)


@dataclass(frozen=True)
class Suggestion:
    action: str
    counter_id: int
    counter_label: str
    service_id: int
    from_service_id: int | None
    services_before: tuple[int, ...]  # the counter's services, in order, as checked
    services_after: tuple[int, ...]
    was_open: bool
    probability_before: float
    probability_after: float
    wait_before_s: float
    wait_after_s: float
    others: tuple[tuple[int, float], ...]  # (service, probability after) it raises
    window_probability_before: float = 0.0  # the window's breach probability (forecast.py)
    window_probability_after: float = 0.0


def suggest(
    state: HallState,
    demand: Demand,
    service_id: int,
    *,
    threshold: float = 0.6,
    warn_s: float = WARN_S,
    horizon_s: float = 3600,
    step_s: float = 300,
    runs: int = 40,
    seed: int = 0,
    draws: Draws | None = None,
    allowed_counters: Collection[int] | None = None,
    present: Collection[int] | None = None,
    between: Callable[[], None] | None = None,
) -> Suggestion | None:
    """The best checked action against ``service_id``'s breach for arrivals up to
    ``warn_s`` from now, or None when none works. ``draws``: the forecast's own (else
    drawn here with the same arguments); ``between`` is called between simulated runs
    (to let other work in under gevent)."""
    if draws is None:
        draws = draw(state, demand, horizon_s=horizon_s, step_s=step_s, runs=runs, seed=seed)
    until = state.now_s + warn_s
    since = min(state.now_s + REACTION_S, until)
    base = evaluate(state, draws, until_s=until, between=between, window_s=warn_s)
    if service_id not in base.services:
        return None
    before = {sid: f.probability(until) for sid, f in base.services.items()}
    target_before = base.services[service_id]
    if target_before.probability(until, since) < threshold:
        since = state.now_s  # a breach of the next minutes only: judged on those
    own_before = target_before.probability(until, since)
    tried = []
    for action, counter, services, from_service in _candidates(
        state, service_id, before, allowed_counters, present
    ):
        changed = _with_counter(state, counter, services, action == "open_counter")
        after = evaluate(changed, draws, until_s=until, between=between, window_s=warn_s)
        probability = after.services[service_id].probability(until, since)
        if probability >= threshold or probability > own_before - NOISE:
            continue
        others = {
            sid: f.probability(until) for sid, f in after.services.items() if sid != service_id
        }
        if any(moves_breach(before.get(sid, 0.0), p, threshold) for sid, p in others.items()):
            continue  # it would only move the breach elsewhere
        hurt = {sid: p for sid, p in others.items() if p > before.get(sid, 0.0)}
        harm = sum(p - before.get(sid, 0.0) for sid, p in hurt.items())
        # Differences within NOISE are the dice's, not the actions': equal then.
        disruption = ACTIONS.index(action)
        if action == "open_counter" and present is not None and counter.id not in present:
            disruption += 1  # nobody there to open it: the last resort
        window_after = after.services[service_id].window_probability
        # Whether it brings the window (what the warning is about) under the threshold
        # ranks next: an action that would let the warning clear comes first.
        rank = (
            round(probability / NOISE),
            window_after >= threshold,
            round(harm / NOISE),
            disruption,
        )
        tried.append(
            (
                rank,
                Suggestion(
                    action,
                    counter.id,
                    counter.label,
                    service_id,
                    from_service,
                    counter.services,
                    services,
                    action != "open_counter",
                    own_before,
                    probability,
                    _wait(target_before, until, since),
                    _wait(after.services[service_id], until, since),
                    tuple(sorted(hurt.items())),
                    target_before.window_probability,
                    window_after,
                ),
            )
        )
    if not tried:
        return None
    return min(tried, key=lambda pair: pair[0])[1]


def moves_breach(before: float, after: float, threshold: float) -> bool:
    """Whether a change takes another service's breach probability from under the
    threshold to over it, by at least the dice's NOISE: one at 0.55 that a change takes
    to 0.6 (one run in 20) is as likely to be at risk without it. Vetoing on that made
    the search's answer a coin flip; it was one reason the demo's surge found no change
    at many hours (tests/test_demo_surge_forecast.py)."""
    return after >= threshold > before and after - before >= NOISE - 1e-9


def _wait(forecast, until: float, since: float) -> float:
    """The predicted wait at the riskiest moment."""
    point = forecast.worst(until, since)
    return point.wait_p50_s if point else 0.0


def _candidates(state, service_id, before, allowed, present):
    """(action, counter, its services after, the service it gives up), likeliest first,
    at most MAX_CANDIDATES."""
    now = state.now_s
    open_ = [c for c in state.counters if c.is_open(now)]
    open_ids = {c.id for c in open_}

    def slack(counter: SimCounter) -> float:
        return max((before.get(s, 0.0) for s in counter.services), default=0.0)

    out = []
    for c in open_:
        if service_id in c.services and c.services[0] != service_id:
            rest = tuple(s for s in c.services if s != service_id)
            out.append(("raise_service", c, (service_id, *rest), None))
    free = sorted((c for c in open_ if service_id not in c.services), key=slack)
    for c in free:
        if slack(c) < SLACK:
            out.append(("add_service", c, (*c.services, service_id), None))
    for c in free:
        # The counter's service with the most slack, if it has one.
        spare = sorted((s for s in c.services if before.get(s, 0.0) < SLACK), key=before.get)
        if spare:
            a = spare[0]
            out.append(
                ("move_service", c, tuple(service_id if s == a else s for s in c.services), a)
            )
    for c in state.counters:
        if c.id in open_ids or service_id not in c.services:
            continue
        if allowed is not None and c.id not in allowed:
            continue
        out.append(("open_counter", c, c.services, None))
    # Fewest first by kind, but never crowd out opening a counter (often the one remedy).
    opens = [x for x in out if x[0] == "open_counter"]
    if present is not None:  # those someone works at first
        opens.sort(key=lambda x: x[1].id not in present)
    opens = opens[: MAX_CANDIDATES // 3]
    rest = [x for x in out if x[0] != "open_counter"][: MAX_CANDIDATES - len(opens)]
    return rest + opens


def _with_counter(
    state: HallState, counter: SimCounter, services: tuple[int, ...], opening: bool
) -> HallState:
    now = state.now_s
    changed = replace(
        counter,
        services=services,
        open=[(now, FOREVER)] if opening else counter.open,
        busy_until=max(counter.busy_until, now) if not opening else now,
    )
    return replace(state, counters=[changed if c.id == counter.id else c for c in state.counters])
