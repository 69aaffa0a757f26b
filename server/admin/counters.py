"""Counters as the catalog knows them: their labels and the services each serves, in
its order of preference. (Opening, pausing and closing a counter is the queue
engine's: server/queue/counters.py.) A counter is never deleted: it serves nothing
instead, and keeps its history."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Center, Counter, CounterService, Service, utcnow
from ..queue.actor import Actor
from ..queue.changes import Change, ChangeKind, announce
from . import validation as check
from .audit import record_update
from .catalog import add_to_catalog, catalog_changed


def counter_state(session: Session, counter: Counter) -> dict:
    # Services are usually in the session already (no query then).
    codes = [session.get(Service, service_id).code for service_id in counter.service_ids]
    return {"label": counter.label, "services": codes}


def get_counter_at(session: Session, center: Center, counter_id: int) -> Counter:
    counter = session.get(Counter, counter_id)
    return check.found(counter, center, f"counter {counter_id}", "counter_not_found")


def create_counter(
    session: Session, actor: Actor, center: Center, data: dict, now: datetime | None = None
) -> Counter:
    """A new counter, closed, serving ``services`` (none unless given)."""
    check.reject_unknown(data, {"label", "services"})
    label = check.label(data.get("label"))
    if session.scalar(
        select(Counter).where(Counter.center_id == center.id, Counter.label == label)
    ):
        check.fail("label", f"counter '{label}' already exists")
    services = _served(session, center, data.get("services", []))
    counter = Counter(center_id=center.id, label=label, state="closed", state_since=now or utcnow())
    counter.service_links = _links(services)
    state = partial(counter_state, session)
    return add_to_catalog(session, actor, center, "counter", label, counter, state, now)


def set_counter_services(
    session: Session,
    actor: Actor,
    center: Center,
    counter: Counter,
    data: dict,
    now: datetime | None = None,
) -> Counter:
    """Replace the services the counter serves; their order is its order of preference."""
    check.reject_unknown(data, {"services"})
    services = _served(session, center, data.get("services"))
    if counter.service_ids == [service.id for service in services]:
        return counter
    before = counter_state(session, counter)
    counter.service_links = _links(services)
    session.flush()
    after = counter_state(session, counter)
    record_update(session, actor, center.id, "counter", counter.label, before, after, now)
    announce(session, Change(ChangeKind.COUNTER, counter.state, counter.id, center=center.id))
    catalog_changed(session, center)
    return counter


def _served(session: Session, center: Center, codes: object) -> list[Service]:
    codes = check.code_list(codes, "services")
    found = {
        s.code: s
        for s in session.scalars(
            select(Service).where(Service.center_id == center.id, Service.code.in_(codes))
        )
    }
    for code in codes:
        if code not in found:
            check.fail("services", f"unknown service '{code}'")
    return [found[code] for code in codes]


def _links(services: list[Service]) -> list[CounterService]:
    return [
        CounterService(service_id=service.id, rank=rank) for rank, service in enumerate(services)
    ]
