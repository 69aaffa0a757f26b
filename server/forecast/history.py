"""What a center's records say: its service times, the arrivals it expects, and the
clock, hours and counters its days are simulated with (a recorded day as it was in
replay.py, a typical weekday as it tends to be in typical.py).

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

Its other two jobs share its clock, hours and catalog helpers and live beside it:
the recorded day's replay (replay.py) and the typical day (typical.py).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping
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
)
from ..queue.numbering import business_day
from . import pace
from .simulate import (
    POLICIES as SIM_POLICIES,
)
from .simulate import (
    Call,
    Policy,
    SimService,
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


def center_services(session: Session, center_id: int) -> list[Service]:
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
    services = center_services(session, center_id)
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
    services = [s.id for s in center_services(session, center.id)]
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


def center_counters(session: Session, center_id: int) -> list[tuple[Counter, tuple[int, ...]]]:
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


def absent(at: datetime | None) -> bool:
    """``callable_at`` = ABSENT: a remote or outside ticket whose visitor never checked in."""
    return at is not None and at.replace(tzinfo=UTC) >= ABSENT.replace(tzinfo=UTC)


def counter_events(
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


def open_intervals(
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


__all__ = [
    "absent",
    "demand",
    "desk_turnaround",
    "service_times",
    "weekday_profile",
]
