"""A recorded day as a simulation scenario and its real outcome (history.py's third
job, moved out): the day's tickets as visitors, its counters with the intervals they
were open, and the real calls as a simulation result, for the what-if and the policy
check (whatif.py).

Invariants (as history.py states them for the records): a recorded day's visitors are
its tickets that joined the queue (a remote join never checked in and a ticket
cancelled before its call are left out); one never called waited until it ended
(expired) or the day's close, not until midnight; a counter with no closing event is
open until the day's close or its last visit's end; today's recorded day ends now (who
still waits has waited until now). It reads one business day of one center and its
counters' events.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    Center,
    Ticket,
    TicketEvent,
    utcnow,
)
from ..queue.numbering import business_day
from .history import (
    DAY_S,
    absent,
    center_counters,
    center_policy,
    center_services,
    counter_events,
    day_clock,
    day_hours,
    desk_turnaround,
    open_intervals,
    opening_seconds,
    sim_services,
)
from .simulate import (
    FRONT,
    Call,
    Scenario,
    SimCounter,
    SimResult,
    Visitor,
)


def recorded(session: Session, center: Center, day: date) -> tuple[Scenario, SimResult]:
    """The day as it was: the scenario (see :func:`recorded_day`) and the real calls,
    as a simulation result (waits of the real day, by the same measure).

    A ticket never called left the queue when it ended (expired, cancelled after its
    call was due) and waited until then; one still waiting on a past day, until the
    day's close. Today's day ends now: who still waits has waited until now, in the
    real day and in the simulated one alike."""
    seconds = day_clock(center, day)
    services = center_services(session, center.id)
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
    configured = center_counters(session, center.id)
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
    events = counter_events(session, center, [c.id for c, _ in configured], day)
    for counter, service_ids in configured:
        served = served_by.get(counter.id, [])
        # Left open (no closing event): until the close, or its last visit's end.
        closes = max([close, *(e for _, e in served)])
        intervals = open_intervals(events.get(counter.id, []), served, closes)
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


def recorded_day(session: Session, center: Center, day: date) -> Scenario:
    """A recorded day as a scenario: its tickets as visitors (arrival = issued, service
    time = called to ended, no-shows as such, cancelled-before-called and never checked
    in left out, never called: leaving when they ended), the counters with their current
    services and the intervals they were open that day (CounterEvent; a counter that
    served with no event that day: from its first call to its last end; one left open:
    until the close or its last visit's end), and the center's call policy."""
    return recorded(session, center, day)[0]
