"""What a center's counters can do now: each service's recent service time, which open
counters serve which services, and the catalog they serve from. The estimates
(estimates.py) and the live queue figures are built from these.

Both change only when a visitor is served or a counter or the catalog changes, while
every ticket shown needs them, so a server process keeps them in a :class:`LoadCache`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import bindparam, case, func, select, union_all
from sqlalchemy.orm import Session

from ..models import Counter, CounterService, Service, Ticket, utcnow
from .changes import Change

RECENT_SAMPLE = 20
RECENT_WINDOW = timedelta(days=14)
RECENT_CHUNK = 16  # services per query of their recent times


@dataclass(frozen=True)
class ServiceLoad:
    average_service_s: float
    open_counters: int
    serving_counters: int  # open or not
    center_id: int = 0  # whose service: the cache forgets by center

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
        of each service ``s`` in front of them (docs/queue.md, "Estimated wait").

        The own service's work ahead (its visitors, and half of an average for the ones
        at the counters, half-way through) goes to whichever open counters of the
        service take it; each such counter ``c`` is also kept busy by ``w_c``, its share
        of the other services' visitors ahead (each spread evenly over its open
        counters). The wait is the least over the subsets M of those counters of
        (own work + the sum of w_c over M) / |M|: a counter busy enough with others does
        not help, rather than dragging every counter's share into the estimate. So
        opening a counter never lengthens a wait (it adds a choice and lowers the
        others' shares), and with counters all serving the same services it is the work
        ahead over the counters, as before."""
        mine = self.by_service.get(service_id)
        if not mine:
            return None
        own = loads[service_id].average_service_s
        work = (ahead.get(service_id, 0) + 0.5) * own
        busy = dict.fromkeys(mine, 0.0)  # w_c
        for other, count in ahead.items():
            theirs = self.by_service.get(other)
            if count and other != service_id and theirs:
                shared = theirs & mine
                if shared:
                    each = count * loads[other].average_service_s / len(theirs)
                    for counter in shared:
                        busy[counter] += each
        return round(least_average(work, busy.values()))


def least_average(work: float, busy: Iterable[float]) -> float:
    """min over the non-empty subsets M of ``busy`` of (work + sum(M)) / |M|. The best
    M of each size holds the smallest values, and adding the next smallest lowers the
    average exactly while it is below it (and never again once it is not): greedy."""
    total, taken = work, 0
    for w in sorted(busy):
        if taken and w >= total / taken:
            break
        total += w
        taken += 1
    return total / taken


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


class CatalogService(NamedTuple):
    id: int
    code: str
    name: dict
    prefix: str
    active: bool
    target_wait_min: int


@dataclass(frozen=True)
class CenterCatalog:
    """A center's services in the order its screens list them, and which services each
    of its counters serves (open or not)."""

    services: tuple[CatalogService, ...]
    served: Mapping[int, frozenset[int]]  # counter id -> service ids


def center_catalog(session: Session, center_id: int) -> CenterCatalog:
    """The center's :class:`CenterCatalog`, from the :class:`LoadCache` when it has it:
    it changes with the catalog or a counter, while the live figures read it on every
    pass."""
    cache: LoadCache | None = session.info.get(LOAD_CACHE)
    known = cache.get_catalog(center_id) if cache is not None else None
    if known is not None:
        return known
    services = tuple(
        CatalogService(*row)
        for row in session.execute(_catalog_services_statement(), {"center": center_id})
    )
    served: dict[int, set[int]] = {}
    for counter_id, service_id in session.execute(_links_statement(), {"center": center_id}):
        served.setdefault(counter_id, set()).add(service_id)
    result = CenterCatalog(services, {c: frozenset(s) for c, s in served.items()})
    if cache is not None:
        cache.put_catalog(center_id, result)
    return result


@lru_cache(maxsize=1)
def _catalog_services_statement():
    # Center.services' order.
    return (
        select(
            Service.id,
            Service.code,
            Service.name,
            Service.prefix,
            Service.active,
            Service.target_wait_min,
        )
        .where(Service.center_id == bindparam("center"))
        .order_by(Service.position, Service.id)
    )


@lru_cache(maxsize=1)
def _links_statement():
    return (
        select(CounterService.counter_id, CounterService.service_id)
        .join(Counter, Counter.id == CounterService.counter_id)
        .where(Counter.center_id == bindparam("center"))
    )


# session.info key of the LoadCache shared by one Database's sessions (see LoadCache).
LOAD_CACHE = "novbe_load_cache"


class LoadCache:
    """Service loads and open counters computed recently, shared by the sessions of one
    database. :meth:`forget_on` drops, after a commit in this process, the load of the
    service of a visitor served (its average), or a center's figures when one of its
    counters or its catalog changes, and nothing else: a network of 66 centers with
    100 services each would otherwise recompute thousands of loads after every
    visitor served anywhere (the live figures and the phones' places read them).
    ``max_age`` bounds what another process's changes can leave stale."""

    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self._loads: dict[int, tuple[float, ServiceLoad]] = {}
        self._services_of: dict[int, set[int]] = {}  # center -> its services in _loads
        self._counters: dict[int, tuple[float, OpenCounters]] = {}
        self._catalogs: dict[int, tuple[float, CenterCatalog]] = {}

    def _fresh(self, entry):
        if entry is None or time.monotonic() - entry[0] > self.max_age:
            return None
        return entry[1]

    def get(self, service_id: int) -> ServiceLoad | None:
        return self._fresh(self._loads.get(service_id))

    def put(self, loads: dict[int, ServiceLoad]) -> None:
        at = time.monotonic()
        for service_id, load in loads.items():
            self._loads[service_id] = (at, load)
            self._services_of.setdefault(load.center_id, set()).add(service_id)

    def get_counters(self, center_id: int) -> OpenCounters | None:
        return self._fresh(self._counters.get(center_id))

    def put_counters(self, center_id: int, counters: OpenCounters) -> None:
        self._counters[center_id] = (time.monotonic(), counters)

    def get_catalog(self, center_id: int) -> CenterCatalog | None:
        return self._fresh(self._catalogs.get(center_id))

    def put_catalog(self, center_id: int, catalog: CenterCatalog) -> None:
        self._catalogs[center_id] = (time.monotonic(), catalog)

    def forget(self, center_id: int | None = None, service_id: int = 0) -> None:
        """Forget one service's load (a visitor served moves its average alone), one
        center's figures (``service_id`` 0), or every center's (``center_id`` None)."""
        if service_id and center_id is not None:
            self._loads.pop(service_id, None)
            return
        if center_id is None:
            self._loads.clear()
            self._services_of.clear()
            self._counters.clear()
            self._catalogs.clear()
            return
        for service_id in self._services_of.pop(center_id, ()):
            self._loads.pop(service_id, None)
        self._counters.pop(center_id, None)
        self._catalogs.pop(center_id, None)

    def forget_on(self, changes: Iterable[Change]) -> None:
        """A commit listener: forget what a change can have moved (changes.py): a served
        visitor's service, a center's counters and catalog; everything for a change that
        does not say its center."""
        for change in changes:
            if change.changes_loads:
                center_id, service_id = change.moved_loads
                self.forget(center_id or None, service_id)


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
    for first in range(0, len(ids), RECENT_CHUNK):
        chunk = ids[first : first + RECENT_CHUNK]
        # Padded with 0 (no service): one statement for every chunk, compiled once.
        params = {f"s{i}": service_id for i, service_id in enumerate(chunk)}
        params |= {f"s{i}": 0 for i in range(len(chunk), RECENT_CHUNK)}
        params["since"] = now - RECENT_WINDOW
        for service_id, started, ended in session.execute(_recent_statement(), params):
            durations[service_id].append((ended - started).total_seconds())

    services: dict[int, tuple[int, int, int, int]] = {}  # id -> center, default, total, open
    for service_id, center_id, default_min, total, open_count in session.execute(
        _counters_statement(), {"ids": ids}
    ):
        services[service_id] = (center_id, default_min, int(total or 0), int(open_count or 0))

    loads = {}
    for service_id in ids:
        center_id, default_min, total, open_count = services[service_id]
        sample = durations[service_id]
        average = sum(sample) / len(sample) if sample else default_min * 60.0
        loads[service_id] = ServiceLoad(average, open_count, total, center_id)
    return loads


@lru_cache(maxsize=1)
def _recent_statement():
    """The last RECENT_SAMPLE service times of RECENT_CHUNK services (bound as s0, s1,
    ...), one index range each, in one UNION ALL. One size, built once: building the
    expression cost more than running it, and SQLAlchemy compiles each size anew
    (60-80 ms for 50-120 services), so sizes that follow the services asked for kept
    missing its cache on a network's centers."""
    since = bindparam("since", type_=Ticket.ended_at.type)
    recent = [
        select(Ticket.service_id, Ticket.started_at, Ticket.ended_at)
        .where(
            Ticket.status == "done",
            Ticket.service_id == bindparam(f"s{i}"),
            Ticket.ended_at >= since,
            Ticket.started_at.is_not(None),
        )
        .order_by(Ticket.ended_at.desc())
        .limit(RECENT_SAMPLE)
        .subquery()
        for i in range(RECENT_CHUNK)
    ]
    return union_all(*(select(s) for s in recent))


@lru_cache(maxsize=1)
def _counters_statement():
    """Per service: its center, its default time, and how many counters serve it (open
    or not) and how many of those are open. Services no counter serves count 0."""
    return (
        select(
            Service.id,
            Service.center_id,
            Service.default_service_min,
            func.count(Counter.id),
            func.sum(case((Counter.state == "open", 1), else_=0)),
        )
        .select_from(Service)
        .outerjoin(CounterService, CounterService.service_id == Service.id)
        .outerjoin(Counter, Counter.id == CounterService.counter_id)
        .where(Service.id.in_(bindparam("ids", expanding=True)))
        .group_by(Service.id, Service.center_id, Service.default_service_min)
    )
