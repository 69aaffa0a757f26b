"""What if the counters had been staffed otherwise, or the center called by another
policy? A recorded day (or a typical weekday) simulated as it was and with the changes.

* A recorded day: ``recorded`` = the real waits; ``baseline`` = the day simulated as it
  was (how far the simulation is from the real day shows how much to trust it);
  ``changed`` = simulated with the changes, on the same arrivals and service times.
* A typical weekday: arrivals drawn from the weekday's profile, several runs with fixed
  seeds (the same draws for baseline and changed), the median of each figure.

``policy_check`` puts the center's call policy next to first-come-first-served on the
same recorded day.

Invariants: every figure of a column comes from one simulation (or, typical, the
median over the runs, the same seeds for baseline and changed); all reads happen in
``prepare_*`` (which raise on bad input), the simulating after, over plain data; a
typical day takes at most ~1.5 s of runs beyond the first three (``BUDGET_S``).
"""

from __future__ import annotations

import statistics
import time as clock
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import InvalidInput, NotFound
from ..models import Center, Ticket, utcnow
from ..queue.numbering import business_day
from . import history, replay, typical
from .simulate import POLICIES, Policy, Scenario, SimCounter, SimResult, percentile, simulate

TYPICAL_RUNS = 9  # ~0.5 s for a day of 2,000 visitors and 20 counters
MIN_TYPICAL_RUNS = 3
BUDGET_S = 1.5  # no further typical runs once this is spent (a day of 10,000 visitors)
KEYS = (
    "visitors",
    "unserved",
    "p50_wait_s",
    "p90_wait_s",
    "within_target",
    "priority_p90_wait_s",
)


def what_if(
    session: Session,
    center: Center,
    *,
    day: date | None = None,
    weekday: int | None = None,
    counters: Sequence[dict] | None = None,
    call_policy: str | None = None,
    priority_ratio: int | None = None,
) -> dict:
    """The figures of a day (``day``: recorded; ``weekday``: typical, 0 = Monday) as it
    was and with the changes: ``counters`` [{"label", "services": [codes], "open"}]
    (each key but label optional), ``call_policy``, ``priority_ratio``."""
    return prepare_what_if(
        session,
        center,
        day=day,
        weekday=weekday,
        counters=counters,
        call_policy=call_policy,
        priority_ratio=priority_ratio,
    )()


def prepare_what_if(
    session: Session,
    center: Center,
    *,
    day: date | None = None,
    weekday: int | None = None,
    counters: Sequence[dict] | None = None,
    call_policy: str | None = None,
    priority_ratio: int | None = None,
) -> Callable[[], dict]:
    """:func:`what_if` in two steps: this checks the input and reads what it needs
    (errors raise here); the function it returns simulates over plain data, so the
    caller can end its database session first (a typical day takes a second or so of
    CPU, no connection should wait on it)."""
    started = clock.perf_counter()
    if (day is None) == (weekday is None):
        raise InvalidInput("give either day or weekday", field="day")
    if weekday is not None and (
        isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6
    ):
        raise InvalidInput("weekday must be 0 (Monday) to 6 (Sunday)", field="weekday")
    if call_policy is not None and call_policy not in POLICIES:
        raise InvalidInput("call_policy must be one of ratio, strict, fcfs", field="call_policy")
    if priority_ratio is not None and (
        isinstance(priority_ratio, bool)
        or not isinstance(priority_ratio, int)
        or not 1 <= priority_ratio <= 100
    ):
        raise InvalidInput(
            "priority_ratio must be an integer from 1 to 100", field="priority_ratio"
        )
    codes = {s.code: s.id for s in center.services}
    labels = {c.label: c.id for c in center.counters}
    changes = _check_changes(counters or [], codes, labels)

    if day is not None:
        check_day(session, center, day)
        scenario, real = replay.recorded(session, center, day)
        hours = history.serving_hours(center, day.weekday())

        def recorded_day() -> dict:
            baseline = _figures(scenario, simulate(scenario))
            changed_scenario = _changed(scenario, changes, hours, call_policy, priority_ratio)
            changed = _figures(changed_scenario, simulate(changed_scenario))
            return {
                "source": "recorded",
                "day": day.isoformat(),
                "visitors": sum(1 for v in scenario.visitors if not v.probe),
                "runs": 1,
                "recorded": _figures(scenario, real),
                "baseline": baseline,
                "changed": changed,
                "elapsed_ms": int((clock.perf_counter() - started) * 1000),
            }

        return recorded_day

    hours = history.serving_hours(center, weekday)
    inputs = typical.typical_inputs(session, center, weekday)

    def typical_day() -> dict:
        runs_before, runs_after, visitors = [], [], []
        for seed in range(TYPICAL_RUNS):
            if seed >= MIN_TYPICAL_RUNS and clock.perf_counter() - started > BUDGET_S:
                break  # enough: the medians of fewer runs, rather than a stalled request
            scenario = typical.typical_scenario(inputs, seed)
            visitors.append(len(scenario.visitors))
            runs_before.append(_figures(scenario, simulate(scenario)))
            after = _changed(scenario, changes, hours, call_policy, priority_ratio)
            runs_after.append(_figures(after, simulate(after)))
        return {
            "source": "typical",
            "weekday": weekday,
            "visitors": int(statistics.median(visitors)),
            "runs": len(runs_before),
            "recorded": None,
            "baseline": _median_figures(runs_before),
            "changed": _median_figures(runs_after),
            "elapsed_ms": int((clock.perf_counter() - started) * 1000),
        }

    return typical_day


def policy_check(session: Session, center: Center, day: date) -> dict:
    """The center's call policy against first-come-first-served on a recorded day's
    arrivals and service times: what the policy costs the visitors it does not favour."""
    return prepare_policy_check(session, center, day)()


def prepare_policy_check(session: Session, center: Center, day: date) -> Callable[[], dict]:
    """:func:`policy_check` in two steps, as :func:`prepare_what_if`."""
    check_day(session, center, day)
    scenario = replay.recorded_day(session, center, day)
    return lambda: _policy_check(scenario, day)


def _policy_check(scenario: Scenario, day: date) -> dict:
    policy = _figures(scenario, simulate(scenario))
    fcfs_scenario = replace(scenario, policy=Policy("fcfs", scenario.policy.priority_ratio))
    fcfs = _figures(fcfs_scenario, simulate(fcfs_scenario))
    keep = ("p90_wait_s", "within_target", "priority_p90_wait_s")
    services = []
    fcfs_by_code = {s["service"]: s for s in fcfs["services"]}
    for s in policy["services"]:
        other = fcfs_by_code[s["service"]]
        services.append(
            {
                "service": s["service"],
                "visitors": s["visitors"],
                "policy": {k: s[k] for k in keep},
                "fcfs": {k: other[k] for k in keep},
            }
        )
    return {
        "day": day.isoformat(),
        "policy": {
            "call_policy": scenario.policy.kind,
            "priority_ratio": scenario.policy.priority_ratio,
        },
        "services": services,
        "overall": {
            "policy": {k: policy["overall"][k] for k in keep},
            "fcfs": {k: fcfs["overall"][k] for k in keep},
        },
    }


def check_day(session: Session, center: Center, day: date) -> None:
    """A recorded day must be past or today and have tickets (404 ``no_data``)."""
    if day > business_day(center, utcnow()):
        raise InvalidInput("day is in the future: nothing was recorded yet", field="day")
    count = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.center_id == center.id, Ticket.business_day == day)
    )
    if not count:
        raise NotFound(f"no tickets were issued on {day.isoformat()}", code="no_data")


def _check_changes(
    counters: Sequence[dict], codes: dict[str, int], labels: dict[str, int]
) -> dict[int, dict]:
    """The counter changes by counter id, checked: {"services": ids | None, "open": bool |
    None}. Errors name the field, e.g. ``counters[1].services``."""
    if not isinstance(counters, list | tuple):
        raise InvalidInput("counters must be a list", field="counters")
    out: dict[int, dict] = {}
    for i, change in enumerate(counters):
        where = f"counters[{i}]"
        if not isinstance(change, dict):
            raise InvalidInput("each counter change must be an object", field=where)
        unknown = set(change) - {"label", "services", "open"}
        if unknown:
            raise InvalidInput(
                f"unknown key {sorted(unknown)[0]!r}", field=f"{where}.{sorted(unknown)[0]}"
            )
        label = change.get("label")
        if not isinstance(label, str) or label not in labels:
            raise InvalidInput(
                f"no counter labelled {label!r} at this center", field=f"{where}.label"
            )
        if labels[label] in out:
            raise InvalidInput(f"counter {label} is changed twice", field=f"{where}.label")
        services = change.get("services")
        if services is not None:
            if not isinstance(services, list) or not all(isinstance(c, str) for c in services):
                raise InvalidInput(
                    "services must be a list of service codes", field=f"{where}.services"
                )
            missing = [c for c in services if c not in codes]
            if missing:
                raise InvalidInput(
                    f"unknown service code {missing[0]!r}", field=f"{where}.services"
                )
            if not services:
                raise InvalidInput(
                    "a counter needs a service (to close it, send open: false)",
                    field=f"{where}.services",
                )
            if len(set(services)) != len(services):
                raise InvalidInput("a service is listed twice", field=f"{where}.services")
            services = tuple(codes[c] for c in services)
        opened = change.get("open")
        if opened is not None and not isinstance(opened, bool):
            raise InvalidInput("open must be true or false", field=f"{where}.open")
        out[labels[label]] = {"services": services, "open": opened}
    return out


def _changed(
    scenario: Scenario,
    changes: dict[int, dict],
    hours: list[tuple[float, float]],
    call_policy: str | None,
    priority_ratio: int | None,
) -> Scenario:
    """The scenario with the changes: a counter's services replaced; ``open`` true: open
    through the day's opening hours (to its end, as desks serve who is inside), false:
    closed all day."""
    counters = []
    for c in scenario.counters:
        change = changes.get(c.id)
        if change is None:
            counters.append(c)
            continue
        services = c.services if change["services"] is None else change["services"]
        opened = {None: list(c.open), True: list(hours), False: []}[change["open"]]
        counters.append(SimCounter(c.id, c.label, services, opened, c.busy_until))
    policy = Policy(
        call_policy or scenario.policy.kind,
        priority_ratio if priority_ratio is not None else scenario.policy.priority_ratio,
    )
    return replace(scenario, counters=counters, policy=policy)


def _figures(scenario: Scenario, result: SimResult) -> dict:
    """FIGS: per service and overall, the visitors, how many were never called (their
    wait: until they left or the day ended), median and 90th percentile waits, the share
    called within the target, and the priority visitors' 90th percentile."""
    waits: dict[int, list[tuple[float, bool, bool]]] = {s: [] for s in scenario.services}
    for v in scenario.visitors:
        if not v.probe:
            wait = result.waits([v])[0]
            waits.setdefault(v.service_id, []).append((wait, v.priority, v.key in result.calls))
    services = []
    everyone: list[tuple[float, bool, float, bool]] = []
    for service_id, sim in scenario.services.items():
        group = [(w, p, sim.target_s, c) for w, p, c in waits.get(service_id, [])]
        if not group:
            continue
        services.append({"service": sim.code, **_stats(group)})
        everyone += group
    return {"services": services, "overall": _stats(everyone)}


def _stats(group: list[tuple[float, bool, float, bool]]) -> dict:
    waits = [w for w, _, _, _ in group]
    priority = [w for w, p, _, _ in group if p]
    within = sum(1 for w, _, target, called in group if called and w <= target)
    return {
        "visitors": len(group),
        "unserved": sum(1 for *_, called in group if not called),
        "p50_wait_s": _int(percentile(waits, 0.5)),
        "p90_wait_s": _int(percentile(waits, 0.9)),
        "within_target": round(within / len(group), 3) if group else None,
        "priority_p90_wait_s": _int(percentile(priority, 0.9)),
    }


def _int(value: float | None) -> int | None:
    return None if value is None else int(round(value))


def _median_figures(runs: list[dict]) -> dict:
    """Each figure's median over the runs (a service missing from a run is left out)."""

    def median_of(items: list[dict]) -> dict:
        out = {}
        for key in KEYS:
            values = [item[key] for item in items if item.get(key) is not None]
            if not values:
                out[key] = None
            elif key == "within_target":
                out[key] = round(statistics.median(values), 3)
            else:
                out[key] = int(round(statistics.median(values)))
        return out

    codes: list[str] = []
    for run in runs:
        codes += [s["service"] for s in run["services"] if s["service"] not in codes]
    services = []
    for code in codes:
        items = [s for run in runs for s in run["services"] if s["service"] == code]
        services.append({"service": code, **median_of(items)})
    return {"services": services, "overall": median_of([run["overall"] for run in runs])}
