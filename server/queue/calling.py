"""Calling visitors to a counter: call next by policy, or one ticket out of order.

Call-next reads only the head of each queue it may take from: for every service
the counter serves and every lane (front, priority, normal), the first waiting
ticket by due time, through the partial index ``ix_tickets_queue``; plus the head
of the tickets sent to this counter by name. That is a fixed number of index
lookups, whatever the length of the queues. The policy then ranks those heads in
Python and the best one is claimed:

* SQLite: the whole transaction holds the write lock (BEGIN IMMEDIATE), so the
  heads cannot change under us.
* PostgreSQL: each head is read with ``FOR UPDATE SKIP LOCKED``, so the heads
  come back already locked, and a ticket another counter is claiming at this
  instant is passed over for the next one in that queue. Every call makes
  progress in one round trip; there is no retry loop to exhaust under load.

See docs/queue.md for the ordering rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import and_, bindparam, case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session, joinedload

from ..errors import Conflict, InvalidInput
from ..models import (
    ABSENT,
    ABSENT_WAITING,
    LANE_FRONT,
    LANE_NORMAL,
    LANE_PRIORITY,
    WAITING,
    Counter,
    CounterService,
    Ticket,
    utcnow,
)
from .actor import Actor
from .audit import record
from .changes import Change, ChangeKind, announce
from .counters import lock_counter, open_for_calling
from .lookup import get_ticket
from .transitions import begin_service, current_ticket, end_service

# Reason codes accepted for calling a ticket out of order; they go into the audit log.
OUT_OF_ORDER_REASONS = (
    "appointment",
    "returning_visitor",
    "accessibility",
    "same_family",
    "supervisor_request",
    "system_error",
    "other",
)


@dataclass(frozen=True)
class Head:
    """The first waiting ticket of one queue, as seen by call-next."""

    id: int
    lane: int
    due_at: datetime
    service_id: int
    targeted: bool


def call_next(
    session: Session,
    counter_id: int,
    actor: Actor,
    *,
    start: bool = False,
    now: datetime | None = None,
) -> Ticket | None:
    """Call the next visitor to ``counter_id``; ``None`` when nobody waits for it.

    ``start``: the visitor is expected at once (one press at the desk), so the call is
    followed by its start in the same transaction: two audit events, ``call`` then
    ``start``, the very two transitions a separate start would make, and displays
    still announce the call. A visitor who then does not come cannot be marked no-show
    (that needs the two-step call); see docs/queue.md."""
    now = now or utcnow()
    counter = _prepare_counter(session, counter_id, actor, now)
    service_ids = _service_ids(session, counter)
    heads = _queue_heads(session, counter, service_ids, now)
    if not heads:
        return None
    best = rank_heads(heads, counter, now, service_ids)[0]
    _pass_over_absent(session, counter, service_ids, best, now)
    # SQLite: this transaction holds the write lock. PostgreSQL: the heads are locked.
    # With its service, which the response shows: one statement, not two.
    ticket = session.get(Ticket, best.id, options=(joinedload(Ticket.service),))
    _mark_called(session, ticket, counter, actor, now, action="call")
    if start:
        begin_service(session, ticket, actor, now)
    return ticket


@dataclass(frozen=True)
class NextCallable:
    """Why call-next found nobody: when the next waiting ticket becomes callable
    (``at``: an appointment's slot, ``None`` when none is due to), and how many wait
    for their check-in (remote or outside, ``callable_at`` ABSENT) with no time at all."""

    at: datetime | None
    not_checked_in: int


def next_callable(session: Session, counter_id: int, now: datetime) -> NextCallable:
    """What call-next would wait for at ``counter_id``: the waiting tickets of its
    services (and those sent to it by name) that are not callable yet. Read only when a
    call found nobody, so one aggregate over the waiting tickets is cheap enough."""
    service_ids = list(session.scalars(_service_ids_statement(), {"counter": counter_id}))
    at, absent = session.execute(
        _next_callable_statement(), {"counter": counter_id, "services": service_ids, "now": now}
    ).one()
    return NextCallable(at, absent or 0)


@lru_cache(maxsize=1)
def _next_callable_statement():
    callable_at = Ticket.callable_at
    later = and_(callable_at > bindparam("now", type_=callable_at.type), callable_at != ABSENT)
    return select(
        func.min(case((later, callable_at))),
        func.sum(case((callable_at == ABSENT, 1), else_=0)),
    ).where(
        WAITING,
        or_(
            and_(
                Ticket.target_counter_id.is_(None),
                Ticket.service_id.in_(bindparam("services", expanding=True)),
            ),
            Ticket.target_counter_id == bindparam("counter"),
        ),
    )


def call_ticket(
    session: Session,
    counter_id: int,
    ticket_id: int,
    reason: str,
    actor: Actor,
    *,
    now: datetime | None = None,
) -> Ticket:
    """Call one waiting ticket out of order, with a reason code for the audit log."""
    now = now or utcnow()
    if reason not in OUT_OF_ORDER_REASONS:
        raise InvalidInput(
            f"reason must be one of {', '.join(OUT_OF_ORDER_REASONS)}, not {reason!r}",
            field="reason",
        )
    counter = _prepare_counter(session, counter_id, actor, now)
    ticket = get_ticket(session, ticket_id, lock=True)
    if ticket.center_id != counter.center_id:
        raise Conflict(
            f"ticket {ticket.display_number} belongs to another center", code="wrong_center"
        )
    if ticket.status != "waiting":
        raise Conflict(
            f"cannot call ticket {ticket.display_number}: it is {ticket.status}, not waiting",
            code="invalid_transition",
            status=ticket.status,
        )
    _mark_called(session, ticket, counter, actor, now, action="call_out_of_order", reason=reason)
    return ticket


def _prepare_counter(session: Session, counter_id: int, actor: Actor, now: datetime) -> Counter:
    """Lock the counter, open it if needed, and finish the visitor it was serving."""
    counter = lock_counter(session, counter_id)
    current = current_ticket(session, counter.id, lock=True)
    if current is not None:
        if current.status == "called":
            raise Conflict(
                f"counter {counter.label} has called {current.display_number} and it has not "
                "been started: start it, recall it or mark it no-show first",
                code="counter_busy",
                ticket=current.display_number,
            )
        end_service(session, current, actor, now)
    open_for_calling(session, counter, actor, now)
    return counter


def _service_ids(session: Session, counter: Counter) -> list[int]:
    """The counter's services, by its preference: the ids alone, not the link rows."""
    return list(session.scalars(_service_ids_statement(), {"counter": counter.id}))


@lru_cache(maxsize=1)
def _service_ids_statement():
    return (
        select(CounterService.service_id)
        .where(CounterService.counter_id == bindparam("counter"))
        .order_by(CounterService.rank)
    )


def _queue_heads(
    session: Session, counter: Counter, service_ids: list[int], now: datetime
) -> list[Head]:
    params = {f"service_{i}": service_id for i, service_id in enumerate(service_ids)}
    lock = session.get_bind().dialect.name == "postgresql"
    rows = session.execute(
        _heads_statement(len(service_ids), lock), {"counter": counter.id, "now": now, **params}
    )
    return [Head(*row) for row in rows]


@lru_cache(maxsize=64)
def _heads_statement(service_count: int, lock: bool):
    """One UNION ALL of "first ticket by due time" per (service, lane), plus the head of
    the tickets sent to this counter. Built once per number of services: building
    SQLAlchemy expressions costs more than running them. With ``lock`` each head is
    the first one no other transaction holds, and it stays locked until commit.

    A ticket not callable yet (an appointment before its slot, a remote or outside
    ticket before check-in: ``callable_at`` in the future) is stepped over but keeps
    its place; ``callable_at`` is in the index, so the step costs no table read."""

    callable_now = or_(
        Ticket.callable_at.is_(None),
        Ticket.callable_at <= bindparam("now", type_=Ticket.callable_at.type),
    )

    def head(query):
        query = query.limit(1)
        return query.with_for_update(skip_locked=True) if lock else query

    cols = (Ticket.id, Ticket.lane, Ticket.due_at, Ticket.service_id)
    heads = [
        head(
            select(*cols, literal(False))
            .where(
                WAITING,
                Ticket.target_counter_id.is_(None),
                Ticket.service_id == bindparam(f"service_{i}"),
                Ticket.lane == lane,
                callable_now,
            )
            .order_by(Ticket.due_at, Ticket.id)
        ).subquery()
        for i in range(service_count)
        for lane in (LANE_FRONT, LANE_PRIORITY, LANE_NORMAL)
    ]
    heads.append(
        head(
            select(*cols, literal(True))
            .where(WAITING, Ticket.target_counter_id == bindparam("counter"), callable_now)
            .order_by(Ticket.lane, Ticket.due_at, Ticket.id)
        ).subquery()
    )
    return union_all(*(select(head) for head in heads))


def _pass_over_absent(
    session: Session, counter: Counter, service_ids: list[int], best: Head, now: datetime
) -> None:
    """Mark passed over (``passed_at`` = now) the absent tickets (remote or outside, not
    checked in) of the counter's services that this call steps over: those the policy
    would have called before ``best`` had their visitor been here. Their place is held
    from now for the center's ``absent_hold_min`` (appointments/upkeep.py releases it).

    Only tickets due by ``best``'s due time or by now are looked at, through the small
    partial index ix_tickets_absent: an absent ticket the counter's order of preference
    alone would have put first is passed once it is overdue (a later call), never early.
    An out-of-order call (``call_ticket``) passes nobody: the line did not reach them."""
    rows = session.execute(
        _absent_statement(),
        {"services": service_ids, "due": max(best.due_at, now)},
    ).all()
    if not rows:
        return
    absent = [Head(id, lane, due_at, service_id, False) for id, lane, due_at, service_id in rows]
    for head in rank_heads([best, *absent], counter, now, service_ids):
        if head is best:
            break
        ticket = session.get(Ticket, head.id)
        ticket.passed_at = now
        # The phone page says until when the place is held (ticket.updated).
        announce(
            session,
            Change(ChangeKind.TICKET, "pass", ticket.id, (), ticket.center_id, ticket.service_id),
        )


@lru_cache(maxsize=1)
def _absent_statement():
    """Absent tickets not passed yet, of the given services, due by ``due``; the
    predicate is ix_tickets_absent's, so the scan stays inside that small index."""
    return (
        select(Ticket.id, Ticket.lane, Ticket.due_at, Ticket.service_id)
        .where(
            ABSENT_WAITING,
            Ticket.service_id.in_(bindparam("services", expanding=True)),
            Ticket.due_at <= bindparam("due", type_=Ticket.due_at.type),
        )
        .order_by(Ticket.due_at, Ticket.id)
        .limit(ABSENT_SCAN)
    )


# At most this many absent tickets are passed by one call (the rest by the next ones).
ABSENT_SCAN = 50


def rank_heads(
    heads: list[Head], counter: Counter, now: datetime, service_ids: list[int] | None = None
) -> list[Head]:
    """Order queue heads by the center's call policy (best first).

    Within a lane: overdue tickets first, most overdue first, whichever service;
    then the counter's preferred services (by rank, ``service_ids`` when the caller has
    read them), earliest due first.
    """
    preferred = counter.service_ids if service_ids is None else service_ids
    rank_of = {service_id: rank for rank, service_id in enumerate(preferred)}

    def key(head: Head):
        if head.due_at <= now:
            return (0, 0, head.due_at, head.id)
        return (1, rank_of.get(head.service_id, len(rank_of)), head.due_at, head.id)

    targeted = sorted((h for h in heads if h.targeted), key=lambda h: (h.lane, key(h)))
    front = sorted((h for h in heads if not h.targeted and h.lane == LANE_FRONT), key=key)
    priority = sorted((h for h in heads if not h.targeted and h.lane == LANE_PRIORITY), key=key)
    normal = sorted((h for h in heads if not h.targeted and h.lane == LANE_NORMAL), key=key)
    if _priority_goes_first(counter, priority, normal):
        return targeted + front + priority + normal
    return targeted + front + normal + priority


def _priority_goes_first(counter: Counter, priority: list[Head], normal: list[Head]) -> bool:
    if not priority or not normal:  # the center's policy is read only when it matters
        return True
    center = counter.center
    if center.call_policy == "strict":
        return True
    # "ratio": one priority visitor for every N others, unless the priority
    # visitor is already due earlier than the next normal one (aging).
    return (
        counter.calls_since_priority >= center.priority_ratio
        or priority[0].due_at <= normal[0].due_at
    )


def _mark_called(
    session: Session,
    ticket: Ticket,
    counter: Counter,
    actor: Actor,
    now: datetime,
    *,
    action: str,
    reason: str | None = None,
) -> None:
    from_status = ticket.status
    ticket.status = "called"
    ticket.counter_id = counter.id
    ticket.target_counter_id = None
    ticket.staff_id = actor.staff_id
    ticket.called_at = ticket.called_at or now
    ticket.last_called_at = now
    ticket.recall_count = 0
    if ticket.priority:
        counter.calls_since_priority = 0
    else:
        counter.calls_since_priority += 1
    record(session, ticket, action, from_status, actor, now, reason=reason)
