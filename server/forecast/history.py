"""What a center's records say: its service times, the arrivals it expects, and its days
as simulation scenarios (a recorded day as it was, a typical weekday as it tends to be).

Reads are bounded: service times read 14 days of done tickets through ix_tickets_done
(service, ended_at); arrival profiles read a handful of business days of one center
through ix_tickets_day (center, business_day, ...); a recorded day reads one business
day and its counters' events. Times are seconds since the center's local midnight of
the business day (state.py).
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..appointments.calendar import parse_hhmm
from ..models import Center, Counter, CounterEvent, CounterService, Service, Ticket, utcnow
from ..queue.numbering import business_day
from .simulate import FOREVER, Call, Policy, Scenario, SimCounter, SimResult, SimService, Visitor
from .state import BIN_S, BINS_PER_DAY, Demand, ServiceTime

SERVICE_TIME_DAYS = 14
MIN_SAMPLES = 3  # fewer recent visits than this: the service's configured default
FALLBACK_CV = 0.5
MAX_SERVICE_S = 4 * 3600  # a visit "served" longer than this is a desk left open
SAME_WEEKDAYS = 4
RECENT_DAYS = 7
PACE_K = 10.0
PACE_CLAMP = (0.5, 3.0)
DAY_S = 24 * 3600
POLICIES = {"ratio", "strict", "fcfs"}


def _midnight(center: Center, day: date) -> datetime:
    """The instant of the center's local midnight starting ``day`` (aware, UTC)."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(center.timezone)).astimezone(UTC)


def _seconds(midnight: datetime, at: datetime | None) -> float | None:
    return None if at is None else (at - midnight).total_seconds()


def _services(session: Session, center_id: int) -> list[Service]:
    return list(
        session.scalars(
            select(Service).where(Service.center_id == center_id).order_by(Service.position)
        )
    )


def sim_services(services: Iterable[Service]) -> dict[int, SimService]:
    return {s.id: SimService(s.id, s.code, s.target_wait_min * 60.0) for s in services}


def service_times(session: Session, center_id: int, now: datetime) -> dict[int, ServiceTime]:
    """Per service, its time at the counter (call to end) over the last 14 days' done
    tickets; a service with too few of them gets its configured default, cv 0.5."""
    services = _services(session, center_id)
    durations: dict[int, list[float]] = {s.id: [] for s in services}
    if services:
        rows = session.execute(
            select(Ticket.service_id, Ticket.called_at, Ticket.ended_at).where(
                Ticket.service_id.in_(list(durations)),
                Ticket.status == "done",
                Ticket.ended_at >= now - timedelta(days=SERVICE_TIME_DAYS),
                Ticket.ended_at <= now,
            )
        )
        for service_id, called, ended in rows:
            if called is not None and ended is not None:
                took = (ended - called).total_seconds()
                if 0 <= took <= MAX_SERVICE_S:
                    durations[service_id].append(took)
    out = {}
    for s in services:
        samples = durations[s.id]
        if len(samples) < MIN_SAMPLES:
            out[s.id] = ServiceTime(s.default_service_min * 60.0, FALLBACK_CV, len(samples))
            continue
        mean = statistics.fmean(samples)
        cv = statistics.pstdev(samples) / mean if mean > 0 else FALLBACK_CV
        out[s.id] = ServiceTime(max(mean, 1.0), min(max(cv, 0.1), 2.0), len(samples))
    return out


def _profiles(
    session: Session,
    center: Center,
    days: list[date],
    services: Iterable[int],
    priority: dict[int, list[int]] | None = None,
) -> tuple[dict[int, list[float]], int]:
    """Mean arrivals per service per quarter hour over those of ``days`` that had any
    ticket (a day without one was closed), and how many days that was. ``priority``:
    filled with [priority visitors, visitors] per service."""
    counts = {s: [0.0] * BINS_PER_DAY for s in services}
    if not days:
        return counts, 0
    rows = session.execute(
        select(Ticket.business_day, Ticket.service_id, Ticket.issued_at, Ticket.priority).where(
            Ticket.center_id == center.id, Ticket.business_day.in_(days)
        )
    )
    seen: set[date] = set()
    midnights = {d: _midnight(center, d) for d in days}
    for day, service_id, issued, klass in rows:
        seen.add(day)
        if priority is not None:
            share = priority.setdefault(service_id, [0, 0])
            share[0] += klass is not None
            share[1] += 1
        index = int(_seconds(midnights[day], issued) // BIN_S)
        if 0 <= index < BINS_PER_DAY:
            counts.setdefault(service_id, [0.0] * BINS_PER_DAY)[index] += 1
    if not seen:
        return counts, 0
    return {s: [c / len(seen) for c in profile] for s, profile in counts.items()}, len(seen)


def weekday_profile(
    session: Session,
    center: Center,
    before: date,
    weekday: int,
    services: Iterable[int],
    priority: dict[int, list[int]] | None = None,
) -> dict[int, list[float]]:
    """Expected arrivals per quarter hour on a ``weekday``: the mean of the last 4 such
    days before ``before`` (fewer if the center has less history); with none, the last
    7 days' mean; with none either, zeros."""
    services = list(services)
    back = (before.weekday() - weekday) % 7 or 7
    same = [before - timedelta(days=back + 7 * i) for i in range(SAME_WEEKDAYS)]
    profile, found = _profiles(session, center, same, services, priority)
    if found:
        return profile
    recent = [before - timedelta(days=i) for i in range(1, RECENT_DAYS + 1)]
    return _profiles(session, center, recent, services, priority)[0]


def demand(session: Session, center: Center, now: datetime) -> Demand:
    """The arrivals expected for the rest of today, per service per quarter hour: the
    weekday's profile scaled by today's pace so far, (arrived + k) / (expected + k),
    k=10, clamped to [0.5, 3]; with no history, today's pace over the opening hours."""
    today = business_day(center, now)
    midnight = _midnight(center, today)
    now_s = _seconds(midnight, now)
    services = [s.id for s in _services(session, center.id)]
    profile = weekday_profile(session, center, today, today.weekday(), services)
    arrived = dict.fromkeys(services, 0)
    for (service_id,) in session.execute(
        select(Ticket.service_id).where(
            Ticket.center_id == center.id, Ticket.business_day == today, Ticket.issued_at <= now
        )
    ):
        arrived[service_id] = arrived.get(service_id, 0) + 1
    windows = opening_seconds(center, today.weekday())
    arrivals = {}
    for service_id in set(services) | set(arrived):
        bins = profile.get(service_id, [0.0] * BINS_PER_DAY)
        so_far = sum(bins[b] * _share(b, 0, now_s) for b in range(BINS_PER_DAY))
        if so_far <= 0 and not any(bins):
            arrivals[service_id] = _pace_only(arrived.get(service_id, 0), now_s, windows)
            continue
        factor = (arrived.get(service_id, 0) + PACE_K) / (so_far + PACE_K)
        factor = min(max(factor, PACE_CLAMP[0]), PACE_CLAMP[1])
        arrivals[service_id] = [
            bins[b] * (_share(b, 0, now_s) + factor * _share(b, now_s, DAY_S))
            for b in range(BINS_PER_DAY)
        ]
    return Demand(arrivals, service_times(session, center.id, now))


def _share(b: int, lo: float, hi: float) -> float:
    """The share of quarter hour ``b`` that lies in [lo, hi)."""
    start, end = max(b * BIN_S, lo), min((b + 1) * BIN_S, hi)
    return max(end - start, 0.0) / BIN_S


def _pace_only(arrived: int, now_s: float, windows: list[tuple[float, float]]) -> list[float]:
    """No history: today's arrivals per open second so far, over the open rest of today."""
    open_so_far = sum(max(min(hi, now_s) - lo, 0.0) for lo, hi in windows)
    rate = arrived / open_so_far if open_so_far > 0 else 0.0
    bins = [0.0] * BINS_PER_DAY
    for lo, hi in windows:
        for b in range(BINS_PER_DAY):
            bins[b] += rate * BIN_S * _share(b, max(lo, now_s), hi)
    return bins


def opening_seconds(center: Center, weekday: int) -> list[tuple[float, float]]:
    """The center's opening hours minus breaks on that weekday, in seconds of the day
    (closed weekdays and days are ignored: the caller asks about the hours)."""
    opens = center.opens_at.hour * 3600 + center.opens_at.minute * 60
    closes = center.closes_at.hour * 3600 + center.closes_at.minute * 60
    if closes <= opens:
        closes = DAY_S
    windows = [(float(opens), float(closes))]
    for pause in center.breaks or []:
        start = _hhmm_s(pause["from"])
        end = _hhmm_s(pause["to"])
        cut = []
        for lo, hi in windows:
            if end <= lo or start >= hi:
                cut.append((lo, hi))
                continue
            if lo < start:
                cut.append((lo, start))
            if end < hi:
                cut.append((end, hi))
        windows = cut
    return windows


def _hhmm_s(text: str) -> float:
    t = parse_hhmm(text)
    return float(t.hour * 3600 + t.minute * 60)


def serving_hours(center: Center, weekday: int) -> list[tuple[float, float]]:
    """When counters of a simulated day are open: the opening hours, the last window
    running to midnight (doors close, the desks serve who is still inside)."""
    windows = opening_seconds(center, weekday)
    if not windows:
        return []
    return [*windows[:-1], (windows[-1][0], float(DAY_S))]


def _counters(session: Session, center_id: int) -> list[tuple[Counter, tuple[int, ...]]]:
    """The center's counters with their services in order of preference."""
    counters = list(
        session.scalars(select(Counter).where(Counter.center_id == center_id).order_by(Counter.id))
    )
    links: dict[int, list[int]] = {c.id: [] for c in counters}
    for counter_id, service_id in session.execute(
        select(CounterService.counter_id, CounterService.service_id)
        .where(CounterService.counter_id.in_(list(links) or [0]))
        .order_by(CounterService.counter_id, CounterService.rank)
    ):
        links[counter_id].append(service_id)
    return [(c, tuple(links[c.id])) for c in counters]


def center_policy(center: Center) -> Policy:
    kind = center.call_policy if center.call_policy in POLICIES else "strict"
    return Policy(kind, max(int(center.priority_ratio or 1), 1))


def recorded(session: Session, center: Center, day: date) -> tuple[Scenario, SimResult]:
    """The day as it was: the scenario (see :func:`recorded_day`) and the real calls,
    as a simulation result (waits of the real day, by the same measure)."""
    midnight = _midnight(center, day)
    services = _services(session, center.id)
    tickets = list(
        session.scalars(
            select(Ticket)
            .where(Ticket.center_id == center.id, Ticket.business_day == day)
            .order_by(Ticket.issued_at, Ticket.id)
        )
    )
    # A visit never called nor ended (the day still running, an expired ticket) takes
    # its service's mean time of the day, else the configured default.
    took: dict[int, list[float]] = {}
    no_show_times = []
    for t in tickets:
        if t.called_at is not None and t.ended_at is not None:
            seconds = (t.ended_at - t.called_at).total_seconds()
            if t.status == "done":
                took.setdefault(t.service_id, []).append(seconds)
            elif t.status == "no_show":
                no_show_times.append(seconds)
    default = {s.id: s.default_service_min * 60.0 for s in services}
    mean = {s: statistics.fmean(v) for s, v in took.items()}

    visitors = []
    calls = {}
    served_by: dict[int, list[tuple[float, float]]] = {}
    for t in tickets:
        if t.status == "cancelled" and t.called_at is None:
            continue  # left before their turn: neither their wait nor their time is known
        arrival = _seconds(midnight, t.issued_at)
        called = _seconds(midnight, t.called_at)
        ended = _seconds(midnight, t.ended_at)
        if t.status in ("done", "no_show") and called is not None and ended is not None:
            service_s = max(ended - called, 0.0)
        else:
            service_s = mean.get(t.service_id, default.get(t.service_id, 300.0))
        visitors.append(
            Visitor(
                key=t.id,
                arrival_s=arrival,
                service_id=t.service_id,
                service_s=service_s,
                priority=t.priority is not None,
                # due_at as issued; a transfer or a resume set it anew: the default then
                due_s=_seconds(midnight, t.due_at) if t.transfer_count == 0 else None,
                callable_s=_seconds(midnight, t.callable_at),
                no_show=t.status == "no_show",
            )
        )
        if called is not None and t.counter_id is not None:
            calls[t.id] = Call(
                t.id, t.service_id, t.counter_id, arrival, called, t.priority is not None
            )
            end = ended if ended is not None else called + service_s
            served_by.setdefault(t.counter_id, []).append((called, end))

    counters = []
    configured = _counters(session, center.id)
    events = _counter_events(session, [c.id for c, _ in configured], midnight)
    for counter, service_ids in configured:
        intervals = _open_intervals(events.get(counter.id, []), served_by.get(counter.id, []))
        counters.append(SimCounter(counter.id, counter.label, service_ids, intervals))
    scenario = Scenario(
        services=sim_services(services),
        counters=counters,
        visitors=visitors,
        policy=center_policy(center),
        start_s=0.0,
        end_s=float(DAY_S),
        no_show_s=statistics.median(no_show_times) if no_show_times else 60.0,
    )
    unserved = [v for v in visitors if v.key not in calls]
    # Those still waiting have waited until now (today) or the day's end (expired).
    until = min(_seconds(midnight, utcnow()), float(DAY_S))
    return scenario, SimResult(calls, unserved, max(until, 0.0))


def recorded_day(session: Session, center: Center, day: date) -> Scenario:
    """A recorded day as a scenario: its tickets as visitors (arrival = issued, service
    time = called to ended, no-shows as such, cancelled-before-called left out), the
    counters with their current services and the intervals they were open that day
    (CounterEvent; a counter that served with no event that day: from its first call to
    its last end), and the center's call policy."""
    return recorded(session, center, day)[0]


def _counter_events(
    session: Session, counter_ids: list[int], midnight: datetime
) -> dict[int, list[tuple[float, str, str]]]:
    out: dict[int, list[tuple[float, str, str]]] = {}
    if not counter_ids:
        return out
    rows = session.execute(
        select(
            CounterEvent.counter_id, CounterEvent.at, CounterEvent.from_state, CounterEvent.to_state
        )
        .where(
            CounterEvent.counter_id.in_(counter_ids),
            CounterEvent.at >= midnight,
            CounterEvent.at < midnight + timedelta(days=1, hours=1),  # DST: a 25-hour day
        )
        .order_by(CounterEvent.at, CounterEvent.id)
    )
    for counter_id, at, from_state, to_state in rows:
        seconds = _seconds(midnight, at)
        if seconds < DAY_S:
            out.setdefault(counter_id, []).append((seconds, from_state, to_state))
    return out


def _open_intervals(
    events: list[tuple[float, str, str]], served: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    if not events:
        if not served:
            return []
        return [(min(c for c, _ in served), max(e for _, e in served))]
    intervals = []
    opened = 0.0 if events[0][1] == "open" else None
    for at, _, to_state in events:
        if to_state == "open" and opened is None:
            opened = at
        elif to_state != "open" and opened is not None:
            intervals.append((opened, at))
            opened = None
    if opened is not None:
        intervals.append((opened, float(DAY_S)))
    return intervals


def typical_day(session: Session, center: Center, weekday: int, seed: int) -> Scenario:
    """A typical ``weekday``: arrivals drawn (Poisson per quarter hour, uniform within
    it, the weekday's share of priority visitors) from the weekday's profile, service
    times lognormal from :func:`service_times`, the counters as configured, open through
    the opening hours."""
    return typical_scenario(*typical_inputs(session, center, weekday), seed)


def typical_inputs(session: Session, center: Center, weekday: int) -> tuple:
    """What :func:`typical_scenario` draws from, read once for several seeds."""
    now = utcnow()
    today = business_day(center, now)
    services = _services(session, center.id)
    priority: dict[int, list[int]] = {}
    profile = weekday_profile(session, center, today, weekday, [s.id for s in services], priority)
    return (
        sim_services(services),
        [(c.id, c.label, ids) for c, ids in _counters(session, center.id)],
        profile,
        service_times(session, center.id, now),
        serving_hours(center, weekday),
        center_policy(center),
        {s: p / n for s, (p, n) in priority.items() if n},
    )


def typical_scenario(
    services: dict[int, SimService],
    counters: list[tuple[int, str, tuple[int, ...]]],
    profile: dict[int, list[float]],
    times: dict[int, ServiceTime],
    hours: list[tuple[float, float]],
    policy: Policy,
    priority_share: dict[int, float],
    seed: int,
) -> Scenario:
    """The drawing behind :func:`typical_day`, over plain data (``priority_share``: the
    share of each service's visitors in the priority lane)."""
    priority_share = priority_share or {}
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
        counters=[SimCounter(cid, label, ids, list(hours)) for cid, label, ids in counters],
        visitors=visitors,
        policy=policy,
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


__all__ = [
    "FOREVER",
    "demand",
    "recorded",
    "recorded_day",
    "service_times",
    "typical_day",
    "typical_inputs",
    "typical_scenario",
    "weekday_profile",
]
