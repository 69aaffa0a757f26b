"""What a center's counters can do now: each service's recent service time, and which
open counters serve which services. The estimates (estimates.py) are built from these.

Both change only when a visitor is served or a counter or the catalog changes, while
every ticket shown needs them, so a server process keeps them in a :class:`LoadCache`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select, union_all
from sqlalchemy.orm import Session

from ..models import Counter, CounterService, Service, Ticket, utcnow
from .changes import Change

RECENT_SAMPLE = 20
RECENT_WINDOW = timedelta(days=14)


@dataclass(frozen=True)
class ServiceLoad:
    average_service_s: float
    open_counters: int
    serving_counters: int  # open or not

    def wait_for(self, position: int) -> int | None:
        """The wait at ``position`` of this service's own queue, as if its counters
        served nothing else (the first version of the estimate; still the one for a
        ticket sent to a named counter, or when no counter of the service is open)."""
        if self.serving_counters == 0:
            return None  # no counter serves it: nobody can say
        counters = max(self.open_counters, 1)
        return round(max(position - 0.5, 0) * self.average_service_s / counters)


@dataclass(frozen=True)
class OpenCounters:
    """Which open counters of one center serve which services."""

    by_service: Mapping[int, frozenset[int]]

    def serve(self, service_id: int) -> bool:
        return bool(self.by_service.get(service_id))

    def pool(self, service_id: int) -> list[int]:
        """The services whose visitors may be called before one of ``service_id``: those
        sharing an open counter with it, itself included."""
        mine = self.by_service.get(service_id, frozenset())
        return [other for other, counters in self.by_service.items() if counters & mine]

    def wait(
        self, service_id: int, ahead: Mapping[int, int], loads: Mapping[int, ServiceLoad]
    ) -> int | None:
        """Seconds until a visitor of ``service_id`` is called, with ``ahead[s]`` visitors
        of each service ``s`` in front of them: the work ahead on this service's open
        counters, over those counters. A visitor of another service counts by its
        service's average time, times the share of its open counters that also serve
        ``service_id`` (visitors spread evenly over their counters). The half of an
        average stands for the visitors at the counters, half-way through."""
        mine = self.by_service.get(service_id)
        if not mine:
            return None
        work = 0.0
        for other, count in ahead.items():
            theirs = self.by_service.get(other)
            if count and theirs and theirs & mine:
                share = len(theirs & mine) / len(theirs)
                work += count * loads[other].average_service_s * share
        work += 0.5 * loads[service_id].average_service_s
        return round(work / len(mine))


def open_counters(session: Session, center_id: int) -> OpenCounters:
    cache: LoadCache | None = session.info.get(LOAD_CACHE)
    known = cache.get_counters(center_id) if cache is not None else None
    if known is not None:
        return known
    by_service: dict[int, set[int]] = {}
    for counter_id, service_id in session.execute(
        select(CounterService.counter_id, CounterService.service_id)
        .join(Counter, Counter.id == CounterService.counter_id)
        .where(Counter.center_id == center_id, Counter.state == "open")
    ):
        by_service.setdefault(service_id, set()).add(counter_id)
    result = OpenCounters({s: frozenset(c) for s, c in by_service.items()})
    if cache is not None:
        cache.put_counters(center_id, result)
    return result


# session.info key of the LoadCache shared by one Database's sessions (see LoadCache).
LOAD_CACHE = "novbe_load_cache"


class LoadCache:
    """Service loads and open counters computed recently, shared by the sessions of one
    database. :meth:`forget_on` drops them after a commit in this process that serves
    a visitor (the averages) or changes a counter or the catalog; ``max_age`` bounds
    what another process's changes can leave stale."""

    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self._loads: dict[int, tuple[float, ServiceLoad]] = {}
        self._counters: dict[int, tuple[float, OpenCounters]] = {}

    def _fresh(self, entry):
        if entry is None or time.monotonic() - entry[0] > self.max_age:
            return None
        return entry[1]

    def get(self, service_id: int) -> ServiceLoad | None:
        return self._fresh(self._loads.get(service_id))

    def put(self, loads: dict[int, ServiceLoad]) -> None:
        at = time.monotonic()
        self._loads.update((service_id, (at, load)) for service_id, load in loads.items())

    def get_counters(self, center_id: int) -> OpenCounters | None:
        return self._fresh(self._counters.get(center_id))

    def put_counters(self, center_id: int, counters: OpenCounters) -> None:
        self._counters[center_id] = (time.monotonic(), counters)

    def forget(self) -> None:
        self._loads.clear()
        self._counters.clear()

    def forget_on(self, changes: Iterable[Change]) -> None:
        """A commit listener: forget everything if any change can move loads
        (changes.py: issuing and printing cannot)."""
        if any(change.changes_loads for change in changes):
            self.forget()


def share_load_cache(db, max_age: float) -> LoadCache | None:
    """Give ``db``'s sessions a :class:`LoadCache` (none when ``max_age`` is 0). Call it
    before anything else listens to commits: listeners run in order, and the live
    channel's figures must not see loads from before the commit."""
    if max_age <= 0:
        return None
    cache = LoadCache(max_age)
    db.session_info[LOAD_CACHE] = cache
    db.on_commit(cache.forget_on)
    return cache


def service_loads(
    session: Session, services: Iterable[Service | int], now: datetime | None = None
) -> dict[int, ServiceLoad]:
    """Average service time and counters for each service (objects or ids), in three
    queries, or from the session's :class:`LoadCache` (only for the present: ``now``
    not given)."""
    ids = list(dict.fromkeys(s if isinstance(s, int) else s.id for s in services))
    cache: LoadCache | None = session.info.get(LOAD_CACHE) if now is None else None
    if cache is None:
        return _service_loads(session, ids, now or utcnow())
    loads = {service_id: cache.get(service_id) for service_id in ids}
    missing = [service_id for service_id, load in loads.items() if load is None]
    if missing:
        fresh = _service_loads(session, missing, utcnow())
        cache.put(fresh)
        loads.update(fresh)
    return loads


def _service_loads(session: Session, ids: list[int], now: datetime) -> dict[int, ServiceLoad]:
    if not ids:
        return {}
    durations: dict[int, list[float]] = {service_id: [] for service_id in ids}
    recent = [
        select(Ticket.service_id, Ticket.started_at, Ticket.ended_at)
        .where(
            Ticket.status == "done",
            Ticket.service_id == service_id,
            Ticket.ended_at >= now - RECENT_WINDOW,
            Ticket.started_at.is_not(None),
        )
        .order_by(Ticket.ended_at.desc())
        .limit(RECENT_SAMPLE)
        .subquery()
        for service_id in ids
    ]
    for service_id, started, ended in session.execute(union_all(*(select(s) for s in recent))):
        durations[service_id].append((ended - started).total_seconds())

    counters: dict[int, tuple[int, int]] = {}
    rows = session.execute(
        select(
            CounterService.service_id,
            func.count(),
            func.sum(case((Counter.state == "open", 1), else_=0)),
        )
        .join(Counter, Counter.id == CounterService.counter_id)
        .where(CounterService.service_id.in_(ids))
        .group_by(CounterService.service_id)
    )
    for service_id, total, open_count in rows:
        counters[service_id] = (int(total), int(open_count or 0))
    defaults = dict(
        session.execute(
            select(Service.id, Service.default_service_min).where(Service.id.in_(ids))
        ).all()
    )

    loads = {}
    for service_id in ids:
        sample = durations[service_id]
        average = sum(sample) / len(sample) if sample else defaults[service_id] * 60.0
        total, open_count = counters.get(service_id, (0, 0))
        loads[service_id] = ServiceLoad(average, open_count, total)
    return loads
