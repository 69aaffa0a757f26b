"""What a center's records say: its service times, the arrivals it expects, and its days
as simulation scenarios (a recorded day as it was, a typical weekday as it tends to be).

Reads are bounded: service times read 14 days of done tickets through ix_tickets_done
(service, ended_at); arrival profiles read a handful of business days of one center
through ix_tickets_day (center, business_day, ...); a recorded day reads one business
day and its counters' events. Times are seconds since the center's local midnight of
the business day (state.py), as the wall clock reads them (:func:`day_clock`): 10:00 is
36,000 s on a day the clocks change too, so arrival profiles line up across days.

Invariants: a recorded day's visitors are its tickets that joined the queue (a remote
join never checked in and a ticket cancelled before its call are left out); one never
called waited until it ended (expired) or the day's close, not until midnight; a
counter with no closing event is open until the day's close or its last visit's end;
today's recorded day ends now (who still waits has waited until now).

At 840 lines this module holds three jobs that share its clock, hours and catalog
helpers: the demand (service times, profiles, pace), the recorded day's replay
(:func:`recorded` to :func:`_open_intervals`) and the typical day. The replay is the
next to move out (replay.py, importing the shared helpers from here); left whole in
issue 17 for lack of time to move it with a full test run behind it.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..appointments.calendar import local_windows, parse_hhmm
from ..models import (
    ABSENT,
    Center,
    Counter,
    CounterEvent,
    CounterService,
    Service,
    Ticket,
    TicketEvent,
    utcnow,
)
from ..queue.numbering import business_day
from . import pace
from .simulate import (
    FRONT,
    Call,
    Policy,
    Scenario,
    SimCounter,
    SimResult,
    SimService,
    Visitor,
)
from .simulate import (
    POLICIES as SIM_POLICIES,
)
from .state import BIN_S, BINS_PER_DAY, Demand, ServiceTime

SERVICE_TIME_DAYS = 14
MIN_SAMPLES = 3  # fewer recent visits than this: the service's configured default
FALLBACK_CV = 0.5
MAX_SERVICE_S = 4 * 3600  # a visit "served" longer than this is a desk left open
SAME_WEEKDAYS = 4
RECENT_DAYS = 7
DAY_S = 24 * 3600
POLICIES = frozenset(SIM_POLICIES)


def local_midnight(center: Center, day: date) -> datetime:
    """The instant of the center's local midnight starting ``day`` (aware, UTC)."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(center.timezone)).astimezone(UTC)


def day_clock(center: Center, day: date) -> Callable[[datetime | None], float | None]:
    """Seconds since ``day``'s local midnight as the wall clock reads them (not the time
    elapsed: on a day the clocks go forward, 10:00 is 36,000 s, not 32,400 s)."""
    zone = ZoneInfo(center.timezone)
    base = datetime.combine(day, time(0))

    def seconds(at: datetime | None) -> float | None:
        if at is None:
            return None
        if at.tzinfo is None:  # SQLite aggregates skip the column type
            at = at.replace(tzinfo=UTC)
        return (at.astimezone(zone).replace(tzinfo=None) - base).total_seconds()

    return seconds


def _services(session: Session, center_id: int) -> list[Service]:
    return list(
        session.scalars(
            select(Service).where(Service.center_id == center_id).order_by(Service.position)
        )
    )


def sim_services(services: Iterable[Service]) -> dict[int, SimService]:
    return {s.id: SimService(s.id, s.code, s.target_wait_min * 60.0) for s in services}


CACHE_SIZE = 512
_cache: dict[tuple, tuple[object, object]] = {}


def _cached(session: Session, key: tuple, fingerprint: object, compute: Callable[[], object]):
    """``compute()``, kept while ``fingerprint`` (a count over an index range, read
    each time) stays the same: the live forecast asks every minute for what past days
    say, which changes only when those days' records do."""
    key = (str(session.get_bind().url), *key)
    hit = _cache.get(key)
    if hit is not None and hit[0] == fingerprint:
        return hit[1]
    value = compute()
    if len(_cache) >= CACHE_SIZE:
        _cache.pop(next(iter(_cache), None), None)  # the oldest (threads: may be gone)
    _cache[key] = (fingerprint, value)
    return value


def service_times(session: Session, center_id: int, now: datetime) -> dict[int, ServiceTime]:
    """Per service, its time at the counter (call to end) over the done tickets of the
    last 14 days (UTC days) and today so far; a service with too few of them gets its
    configured default, cv 0.5. Call to end, not start to end as server/loads.py
    measures a desk's load: the counter is taken from the call (the walk included).
    The past days' part is cached (:func:`_cached`); today's is read each time."""
    services = _services(session, center_id)
    ids = [s.id for s in services]
    cut = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
    durations: dict[int, list[float]] = {i: [] for i in ids}
    if services:
        lo = cut - timedelta(days=SERVICE_TIME_DAYS)
        done = (Ticket.service_id.in_(ids), Ticket.status == "done")
        count = session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(*done, Ticket.ended_at >= lo, Ticket.ended_at < cut)
        )
        past = _cached(
            session,
            ("service_times", center_id, cut, tuple(ids)),
            count,
            lambda: _durations(session, ids, lo, cut),
        )
        for service_id, values in past.items():
            durations[service_id] += values
        for service_id, values in _durations(session, ids, cut, now, upper_inclusive=True).items():
            durations[service_id] += values
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


def _durations(
    session: Session,
    ids: list[int],
    lo: datetime,
    hi: datetime,
    *,
    upper_inclusive: bool = False,
) -> dict[int, list[float]]:
    """Call-to-end times of the services' done tickets that ended in [lo, hi)."""
    out: dict[int, list[float]] = {i: [] for i in ids}
    upper = Ticket.ended_at <= hi if upper_inclusive else Ticket.ended_at < hi
    rows = session.execute(
        select(Ticket.service_id, Ticket.called_at, Ticket.ended_at).where(
            Ticket.service_id.in_(ids), Ticket.status == "done", Ticket.ended_at >= lo, upper
        )
    )
    for service_id, called, ended in rows:
        if called is not None and ended is not None:
            took = (ended - called).total_seconds()
            if 0 <= took <= MAX_SERVICE_S:
                out[service_id].append(took)
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
    services = list(services)
    if not days:
        return {s: [0.0] * BINS_PER_DAY for s in services}, 0
    count = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.center_id == center.id, Ticket.business_day.in_(days))
    )
    profile, found, shares = _cached(
        session,
        ("profiles", center.id, center.timezone, tuple(days), tuple(services)),
        count,
        lambda: _read_profiles(session, center, days, services),
    )
    if priority is not None:
        for service_id, (p, n) in shares.items():
            share = priority.setdefault(service_id, [0, 0])
            share[0] += p
            share[1] += n
    return {s: list(bins) for s, bins in profile.items()}, found


def _read_profiles(
    session: Session, center: Center, days: list[date], services: list[int]
) -> tuple[dict[int, list[float]], int, dict[int, list[int]]]:
    counts = {s: [0.0] * BINS_PER_DAY for s in services}
    priority: dict[int, list[int]] = {}
    rows = session.execute(
        select(Ticket.business_day, Ticket.service_id, Ticket.issued_at, Ticket.priority).where(
            Ticket.center_id == center.id, Ticket.business_day.in_(days)
        )
    )
    seen: set[date] = set()
    clocks = {d: day_clock(center, d) for d in days}
    for day, service_id, issued, klass in rows:
        seen.add(day)
        share = priority.setdefault(service_id, [0, 0])
        share[0] += klass is not None
        share[1] += 1
        index = int(clocks[day](issued) // BIN_S)
        if 0 <= index < BINS_PER_DAY:
            counts.setdefault(service_id, [0.0] * BINS_PER_DAY)[index] += 1
    if not seen:
        return counts, 0, priority
    means = {s: [c / len(seen) for c in profile] for s, profile in counts.items()}
    return means, len(seen), priority


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
    weekday's profile scaled by today's pace (pace.py: the day's so far, and the last
    minutes' for the next ones); with no history, today's pace over the opening hours."""
    today = business_day(center, now)
    now_s = day_clock(center, today)(now)
    services = [s.id for s in _services(session, center.id)]
    profile = weekday_profile(session, center, today, today.weekday(), services)
    clock = day_clock(center, today)
    arrived: dict[int, list[float]] = {service_id: [] for service_id in services}
    for service_id, issued_at in session.execute(
        select(Ticket.service_id, Ticket.issued_at).where(
            Ticket.center_id == center.id, Ticket.business_day == today, Ticket.issued_at <= now
        )
    ):
        arrived.setdefault(service_id, []).append(clock(issued_at))
    windows = day_hours(center, today)
    arrivals = {}
    for service_id, times in arrived.items():
        times.sort()
        bins = profile.get(service_id, [0.0] * BINS_PER_DAY)
        if not any(bins):
            arrivals[service_id] = _pace_only(len(times), now_s, windows)
            continue
        arrivals[service_id] = pace.paced(bins, times, now_s)
    return Demand(arrivals, service_times(session, center.id, now))


def _pace_only(arrived: int, now_s: float, windows: list[tuple[float, float]]) -> list[float]:
    """No history: today's arrivals per open second so far, over the open rest of today."""
    open_so_far = sum(max(min(hi, now_s) - lo, 0.0) for lo, hi in windows)
    rate = arrived / open_so_far if open_so_far > 0 else 0.0
    bins = [0.0] * BINS_PER_DAY
    for lo, hi in windows:
        for b in range(BINS_PER_DAY):
            bins[b] += rate * BIN_S * pace.share(b, max(lo, now_s), hi)
    return bins


def opening_seconds(
    center: Center, weekday: int, *, even_closed: bool = False
) -> list[tuple[float, float]]:
    """The center's opening hours minus breaks on that weekday, in seconds of the day;
    none on a weekday it is closed (``even_closed``: its hours all the same, for a
    closed day that has records). A dated day: :func:`day_hours` (holidays too)."""
    if not even_closed and weekday in (center.closed_weekdays or []):
        return []
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


def day_hours(center: Center, day: date) -> list[tuple[float, float]]:
    """The day's opening hours minus breaks in seconds of the day (none on a closed
    day): appointments.calendar's windows, the center's one calendar."""
    base = datetime.combine(day, time(0))
    return [
        ((lo - base).total_seconds(), (hi - base).total_seconds())
        for lo, hi in local_windows(center, day)
    ]


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
    as a simulation result (waits of the real day, by the same measure).

    A ticket never called left the queue when it ended (expired, cancelled after its
    call was due) and waited until then; one still waiting on a past day, until the
    day's close. Today's day ends now: who still waits has waited until now, in the
    real day and in the simulated one alike."""
    seconds = day_clock(center, day)
    services = _services(session, center.id)
    tickets = [
        t
        for t in session.scalars(
            select(Ticket)
            .where(Ticket.center_id == center.id, Ticket.business_day == day)
            .order_by(Ticket.issued_at, Ticket.id)
        )
        # A remote join never checked in never stood in the queue.
        if not (t.called_at is None and absent(t.callable_at))
    ]
    # A closed day with records (the center worked all the same): its usual hours.
    hours = day_hours(center, day) or opening_seconds(center, day.weekday(), even_closed=True)
    close = hours[-1][1] if hours else float(DAY_S)
    today = business_day(center, utcnow()) == day
    now_s = seconds(utcnow()) if today else None
    # A visit never called nor ended (the day still running, an expired ticket) takes
    # its service's mean time of the day, else the configured default.
    took: dict[int, list[float]] = {}
    no_show_times = []
    for t in tickets:
        if t.called_at is not None and t.ended_at is not None:
            duration = (t.ended_at - t.called_at).total_seconds()
            if t.status == "done":
                took.setdefault(t.service_id, []).append(duration)
            elif t.status == "no_show":
                no_show_times.append(duration)
    default = {s.id: s.default_service_min * 60.0 for s in services}
    mean = {s: statistics.fmean(v) for s, v in took.items()}

    visitors = []
    calls = {}
    served_by: dict[int, list[tuple[float, float]]] = {}
    last_end = 0.0
    configured = _counters(session, center.id)
    moves = _moves(session, center, day)
    codes = {s.code: s.id for s in services}
    labels = {c.label: c.id for c, _ in configured}
    for t in tickets:
        if t.status == "cancelled" and t.called_at is None:
            continue  # left before their turn: neither their wait nor their time is known
        if t.id in moves:
            for visitor, call, span in _replay(
                t, moves[t.id], seconds, codes, labels, mean, default
            ):
                visitors.append(visitor)
                if call is not None:
                    calls[visitor.key] = call
                    served_by.setdefault(call.counter_id, []).append(span)
                    last_end = max(last_end, span[1])
            continue
        arrival = seconds(t.issued_at)
        called = seconds(t.called_at)
        ended = seconds(t.ended_at)
        if t.status in ("done", "no_show") and called is not None and ended is not None:
            service_s = max(ended - called, 0.0)
        else:
            service_s = mean.get(t.service_id, default.get(t.service_id, 300.0))
        last_end = max(last_end, ended or 0.0)
        leaves = None
        if called is None:
            # Never called: gone when the ticket ended, else (a past day) at the close.
            leaves = ended if ended is not None else (None if today else max(close, arrival))
        callable_s = None if absent(t.callable_at) else seconds(t.callable_at)
        visitors.append(
            Visitor(
                key=t.id,
                arrival_s=arrival,
                service_id=t.service_id,
                service_s=service_s,
                priority=t.priority is not None,
                # due_at as issued; a transfer or a resume set it anew: the default then
                due_s=seconds(t.due_at) if t.transfer_count == 0 else None,
                callable_s=callable_s,
                no_show=t.status == "no_show",
                leaves_s=leaves,
            )
        )
        if called is not None and t.counter_id is not None:
            calls[t.id] = Call(
                t.id, t.service_id, t.counter_id, arrival, called, t.priority is not None
            )
            end = ended if ended is not None else called + service_s
            served_by.setdefault(t.counter_id, []).append((called, end))
            last_end = max(last_end, end)

    # The day ends now (today), else when the last ticket ended or the doors closed.
    end_s = now_s if today else max(close, last_end)
    counters = []
    events = _counter_events(session, center, [c.id for c, _ in configured], day)
    for counter, service_ids in configured:
        served = served_by.get(counter.id, [])
        # Left open (no closing event): until the close, or its last visit's end.
        closes = max([close, *(e for _, e in served)])
        intervals = _open_intervals(events.get(counter.id, []), served, closes)
        counters.append(SimCounter(counter.id, counter.label, service_ids, intervals))
    scenario = Scenario(
        services=sim_services(services),
        counters=counters,
        visitors=visitors,
        policy=center_policy(center),
        start_s=0.0,
        end_s=end_s,
        no_show_s=statistics.median(no_show_times) if no_show_times else 60.0,
        turnaround_s=desk_turnaround(calls.values(), {v.key: v.service_s for v in visitors}),
    )
    unserved = [v for v in visitors if v.key not in calls]
    return scenario, SimResult(calls, unserved, end_s)


def desk_turnaround(calls: Iterable[Call], service_s: Mapping[int, float]) -> float:
    """A desk's own time between a visit's end and its next call while someone waited
    (the median over the day's counters; 0 without such a pair). The records hold call
    to end only: a replay without it gave the counters capacity they never had (the
    benchmark's real-server day: a median 40 s a visit, 14% of a counter's time)."""
    by_counter: dict[int, list[Call]] = {}
    for call in calls:
        by_counter.setdefault(call.counter_id, []).append(call)
    gaps = []
    for mine in by_counter.values():
        mine.sort(key=lambda c: c.called_s)
        for before, after in zip(mine, mine[1:], strict=False):
            ended = before.called_s + service_s.get(before.key, 0.0)
            if after.arrival_s <= ended <= after.called_s:  # someone waited meanwhile
                gaps.append(after.called_s - ended)
    return statistics.median(gaps) if gaps else 0.0


MOVES = ("transfer", "park")
SEGMENT_KEY = 1 << 40  # a moved ticket's later visits: key + n * this (ticket ids are smaller)


def _moves(session: Session, center: Center, day: date) -> dict[int, list[TicketEvent]]:
    """The events of the day's tickets that were transferred or parked (few): each such
    ticket was more than one visit, split where it moved."""
    moved = (
        select(TicketEvent.ticket_id)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(
            Ticket.center_id == center.id,
            Ticket.business_day == day,
            TicketEvent.action.in_(MOVES),
        )
    )
    out: dict[int, list[TicketEvent]] = {}
    for event in session.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id.in_(moved))
        .order_by(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.id)
    ):
        out.setdefault(event.ticket_id, []).append(event)
    return out


def _replay(
    t: Ticket,
    events: list[TicketEvent],
    seconds: Callable[[datetime | None], float | None],
    codes: dict[str, int],
    labels: dict[str, int],
    mean: dict[int, float],
    default: dict[int, float],
) -> list[tuple[Visitor, Call | None, tuple[float, float] | None]]:
    """A transferred or parked ticket as its visits: the first for the service it was
    issued for (from issue to the transfer or park), then one per transfer (its new
    service, the front lane or its own, or the named counter) and per resume (the front
    of the counter that parked it), each with its own call and time at the counter."""
    priority = t.priority is not None
    first_service = next(
        (codes.get(e.details.get("from_service")) for e in events if e.action == "transfer"),
        None,
    )
    segment = {
        "arrival": seconds(t.issued_at),
        "service": first_service or t.service_id,
        "lane": None,
        "due": None,
        "target": None,
        "callable": None if absent(t.callable_at) else seconds(t.callable_at),
    }
    called: float | None = None
    counter: int | None = None
    out: list[tuple[Visitor, Call | None, tuple[float, float] | None]] = []

    def close(at: float | None, no_show: bool = False) -> None:
        nonlocal called, counter
        service_id = segment["service"]
        key = t.id + len(out) * SEGMENT_KEY
        fallback = mean.get(service_id, default.get(service_id, 300.0))
        took = max(at - called, 0.0) if called is not None and at is not None else fallback
        visitor = Visitor(
            key=key,
            arrival_s=segment["arrival"],
            service_id=service_id,
            service_s=took,
            priority=priority,
            due_s=segment["due"],
            callable_s=segment["callable"],
            no_show=no_show,
            lane=segment["lane"],
            target_counter=segment["target"],
            leaves_s=at if called is None else None,
        )
        call = span = None
        if called is not None and counter is not None:
            call = Call(key, service_id, counter, segment["arrival"], called, priority)
            span = (called, called + took)
        out.append((visitor, call, span))
        called = counter = None

    for e in events:
        at = seconds(e.at)
        if e.action in ("call", "call_out_of_order"):
            if called is None:
                called, counter = at, e.counter_id
        elif e.action == "transfer":
            close(at)
            to_counter = labels.get(e.details.get("to_counter"))
            front = to_counter is not None or e.details.get("front", True)
            segment.update(
                arrival=at,
                service=codes.get(e.details.get("to_service"), segment["service"]),
                lane=FRONT if front else None,
                due=at if front else None,
                target=to_counter,
                callable=None,
            )
        elif e.action == "park":
            close(at)
            segment = {**segment, "arrival": None}  # away until resumed
        elif e.action == "resume":
            segment.update(arrival=at, lane=FRONT, due=at, target=e.counter_id, callable=None)
        elif (
            e.action in ("complete", "no_show", "expire", "cancel")
            and segment["arrival"] is not None
        ):
            close(at, no_show=e.action == "no_show")
            segment = {**segment, "arrival": None}
    if segment["arrival"] is not None:  # still waiting or at a counter
        close(None)
    return out


def absent(at: datetime | None) -> bool:
    """``callable_at`` = ABSENT: a remote or outside ticket whose visitor never checked in."""
    return at is not None and at.replace(tzinfo=UTC) >= ABSENT.replace(tzinfo=UTC)


def recorded_day(session: Session, center: Center, day: date) -> Scenario:
    """A recorded day as a scenario: its tickets as visitors (arrival = issued, service
    time = called to ended, no-shows as such, cancelled-before-called and never checked
    in left out, never called: leaving when they ended), the counters with their current
    services and the intervals they were open that day (CounterEvent; a counter that
    served with no event that day: from its first call to its last end; one left open:
    until the close or its last visit's end), and the center's call policy."""
    return recorded(session, center, day)[0]


def _counter_events(
    session: Session, center: Center, counter_ids: list[int], day: date
) -> dict[int, list[tuple[float, str, str]]]:
    out: dict[int, list[tuple[float, str, str]]] = {}
    if not counter_ids:
        return out
    seconds = day_clock(center, day)
    rows = session.execute(
        select(
            CounterEvent.counter_id, CounterEvent.at, CounterEvent.from_state, CounterEvent.to_state
        )
        .where(
            CounterEvent.counter_id.in_(counter_ids),
            CounterEvent.at >= local_midnight(center, day),
            CounterEvent.at < local_midnight(center, day + timedelta(days=1)),
        )
        .order_by(CounterEvent.at, CounterEvent.id)
    )
    for counter_id, at, from_state, to_state in rows:
        out.setdefault(counter_id, []).append((seconds(at), from_state, to_state))
    return out


def _open_intervals(
    events: list[tuple[float, str, str]],
    served: list[tuple[float, float]],
    closes: float = float(DAY_S),
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
        intervals.append((opened, max(closes, opened)))
    return intervals


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
    services = _services(session, center.id)
    priority: dict[int, list[int]] = {}
    profile = weekday_profile(session, center, today, weekday, [s.id for s in services], priority)
    configured = _counters(session, center.id)
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
        events = _counter_events(session, center, counter_ids, day)
        if not events:
            continue
        counted += 1
        close = (day_hours(center, day) or [(0.0, float(DAY_S))])[-1][1]
        for counter_id, rows in events.items():
            for lo, hi in _open_intervals(rows, [], close):
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


__all__ = [
    "TypicalInputs",
    "demand",
    "recorded",
    "recorded_day",
    "service_times",
    "typical_day",
    "typical_inputs",
    "typical_scenario",
    "usual_hours",
    "weekday_profile",
]
