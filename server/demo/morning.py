"""The demo center's morning: visitors issued, called, served and rated before the demo
starts, so the dashboard, the reports and the display have a day to show, while the
queue a newcomer walks into is clear where the README's walkthrough goes.

The walkthrough (README.md, quick start): take a ticket for New pension at the kiosk,
log in as ``counter1`` and call next. Counter 1 serves New pension, Pension
recalculation and Disability status (:data:`WALKTHROUGH_COUNTER`, server/demo/center.yaml).

Invariants:

* It runs once a business day: nothing is added when today already has tickets.
* Everything happens through the queue engine (``issue_ticket``, ``call_next``, now
  and then ``call_ticket`` out of order with a reason, ``start``, ``complete``,
  ``recall`` and ``no_show``, ``rate_ticket``) at past times, in time order, so every
  figure on the dashboard comes from real events (and the fairness ledger holds them).
* When it is done, no ticket waits for, and nobody is being served at, the walkthrough
  counter's services, and that counter is free: the first ticket a newcomer takes for
  one of them is the first that counter calls. The same holds for the counter of the
  surge's service (:data:`SURGE_SERVICE`, counter 4), so that ``novbe demo-surge``
  meets the same hall at whatever hour the demo is set up.
* Counter 7 (:data:`RESERVE_COUNTER`, a reserve desk for the surge's service) is worked
  on none of the demo's days: it stays closed, for a manager to open when the forecast
  suggests it.
* Visitors still wait for other services and other counters are busy, so the display
  and the dashboard show a live queue.
* The same day gives the same morning (the random numbers are seeded with the date).
* Bookings (:data:`BOOKED_SERVICES`, none served at the walkthrough counter): some of
  the morning's slots were booked; most of those visitors checked in at the kiosk a
  few minutes early and were called in the documented order, some never came (no-show,
  as the upkeep marks them); later slots today are booked and waiting for their
  visitors, and one visitor has checked in for a slot that is about to start.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..appointments.booking import book
from ..appointments.checkin import check_in
from ..appointments.slots import grid
from ..appointments.upkeep import mark_no_show_bookings
from ..auth import device_actor, staff_actor
from ..models import Center, Counter, CounterService, Device, Service, StaffUser, Ticket, utcnow
from ..queue import (
    Actor,
    business_day,
    call_next,
    call_ticket,
    complete,
    current_ticket,
    issue_ticket,
    no_show,
    recall,
    start,
)
from ..ratings import rate_ticket

WALKTHROUGH_COUNTER = "1"
RESERVE_COUNTER = "7"  # nobody works it on the demo's days: closed, to be opened
HISTORY = timedelta(hours=2)  # how far back the morning starts (not before opening)
VISITORS_PER_HOUR = 20  # a busy but healthy morning: the forecast has no breach to warn of
# The free counters' visitors (the walkthrough's and the surge's) stop coming this long
# before now, so that those counters and the others serving the same services have
# time to clear them.
WALKTHROUGH_SERVICES_QUIET = timedelta(minutes=45)
MIN_WAITING = 4  # at least this many visitors wait for other services at the end
NO_SHOW_SHARE = 0.06
RATED_SHARE = 0.4
SCORES = (5, 4, 3, 2, 1)
SCORE_WEIGHTS = (55, 28, 9, 4, 4)
LANGUAGES = ("az", "ru", "en")
LANGUAGE_WEIGHTS = (7, 2, 1)
PRIORITY_SHARE = 0.12
# Calls out of order (with a reason) at the desks other than the free ones.
OUT_OF_ORDER_SHARE = 0.2  # of their calls with two or more waiting
OUT_OF_ORDER_REASONS_SEEN = ("accessibility", "appointment", "returning_visitor", "same_family")
OUT_OF_ORDER_WEIGHTS = (4, 3, 2, 1)
# The service `novbe demo-surge` crowds (server/cli/surge.py). On an ordinary day it is
# asked for a quarter as often as the others, and never booked, so that its usual demand
# is low and steady whatever the hour and day the demo is set up: the surge is then a
# breach the forecast sees coming and one change prevents, at any hour
# (tests/test_demo_surge_forecast.py). Commoner, it drew 0 to 1.5 visitors a quarter
# hour in the history, and at about half the hours no single change was enough.
SURGE_SERVICE = "child-benefit"
SURGE_SERVICE_WEIGHT = 0.25
# Bookings: services booked (center.yaml makes them bookable; the walkthrough counter
# serves none), the share of slots booked before now and after, and of the morning's
# booked visitors those who never came (ASAN's day: 29%; a demo shows a few).
BOOKED_SERVICES = ("job-seeker", "consultation")
BOOKED_BEFORE_SHARE = 0.3
BOOKED_LATER_SHARE = 0.2
BOOKING_NO_SHOW_SHARE = 0.25


@dataclass
class Desk:
    """A counter in the simulation: who works it and when they are next free."""

    counter: Counter
    actor: Actor
    free_at: datetime
    last_event: datetime  # when it last called, started or finished a visit
    done: bool = False


def seed_morning(
    session: Session, center: Center, devices: list[Device], now: datetime | None = None
) -> None:
    """Play the center's morning up to ``now`` (see the module's invariants)."""
    now = now or utcnow()
    today = business_day(center, now)
    issued_today = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.center_id == center.id, Ticket.business_day == today)
    )
    kiosk = next((d for d in devices if d.kind == "kiosk"), None)
    if issued_today or kiosk is None:
        return
    rng = random.Random(today.toordinal())
    opened = datetime.combine(today, center.opens_at, ZoneInfo(center.timezone))
    begin = max(now - HISTORY, opened.astimezone(now.tzinfo))
    free = _counters_left_free(center)
    quiet = {service_id for counter in free for service_id in counter.service_ids}
    services = [s for s in center.services if s.active]
    arrivals = _arrivals(rng, services, quiet, begin, now)
    desks = _desks(session, center, rng, begin)

    kiosk_actor = device_actor(kiosk)
    upcoming = sorted(
        [(at, service, None) for at, service in arrivals]
        + _bookings(session, center, rng, begin, now),
        key=lambda item: item[0],
    )
    while True:
        open_desks = [desk for desk in desks if not desk.done]
        if not open_desks:
            break
        desk = min(open_desks, key=lambda d: d.free_at)
        while upcoming and upcoming[0][0] <= desk.free_at:
            _arrive(session, center, rng, kiosk_actor, *upcoming.pop(0))
        if desk.free_at >= now - timedelta(minutes=2):
            desk.done = True
            continue
        _serve_next(session, desk, rng, now, keep_serving=desk.counter not in free)
    for item in upcoming:  # arrived after the last call
        _arrive(session, center, rng, kiosk_actor, *item)
    mark_no_show_bookings(session, now)  # as the upkeep would have, each minute
    for desk in desks:
        if desk.counter in free:
            _clear_queue(session, desk, quiet, now)
    _keep_a_queue(session, center, services, quiet, rng, kiosk_actor, now)
    _keep_a_desk_busy(session, [d for d in desks if d.counter not in free], now)


def _counters_left_free(center: Center) -> list[Counter]:
    """The walkthrough's counter and those serving the surge's service: free when the
    morning ends, with nobody waiting for their services."""
    surge = next((s.id for s in center.services if s.code == SURGE_SERVICE), None)
    return [
        c
        for c in center.counters
        if c.label == WALKTHROUGH_COUNTER or (surge is not None and surge in c.service_ids)
    ]


def _arrivals(
    rng: random.Random,
    services: list[Service],
    quiet: set[int],
    begin: datetime,
    now: datetime,
) -> list[tuple[datetime, Service]]:
    """Visitors over the morning, in time order; none for the free counters' services
    (``quiet``) in the last :data:`WALKTHROUGH_SERVICES_QUIET`."""
    arrivals = []
    at = begin
    mean_gap_s = 3600 / VISITORS_PER_HOUR
    while True:
        at += timedelta(seconds=rng.expovariate(1 / mean_gap_s))
        if at >= now - timedelta(minutes=1):
            return arrivals
        choices = services
        if at >= now - WALKTHROUGH_SERVICES_QUIET:
            choices = [s for s in services if s.id not in quiet]
        arrivals.append((at, rng.choices(choices, service_weights(choices))[0]))


def service_weights(services: list[Service], base: list[float] | None = None) -> list[float]:
    """How often each service is asked for (``base``, else evenly), the surge's service
    at :data:`SURGE_SERVICE_WEIGHT` of that."""
    base = base or [1.0] * len(services)
    return [
        w * (SURGE_SERVICE_WEIGHT if s.code == SURGE_SERVICE else 1.0)
        for s, w in zip(services, base, strict=True)
    ]


def _desks(session: Session, center: Center, rng: random.Random, begin: datetime) -> list[Desk]:
    """Each counter with its staff member (``counter<label>``), opening in the first
    minutes of the morning."""
    desks = []
    for counter in center.counters:
        if counter.label == RESERVE_COUNTER:
            continue
        user = session.scalar(
            select(StaffUser).where(StaffUser.username == f"counter{counter.label}")
        )
        if user is None:
            continue
        opens = begin + timedelta(minutes=rng.uniform(2, 10))
        desks.append(Desk(counter, staff_actor(user), opens, begin))
    return desks


def _issue(
    session: Session,
    center: Center,
    service: Service,
    rng: random.Random,
    actor: Actor,
    at: datetime,
) -> None:
    priority = rng.choice(center.priority_classes) if rng.random() < PRIORITY_SHARE else None
    language = rng.choices(LANGUAGES, weights=LANGUAGE_WEIGHTS)[0]
    issue_ticket(session, center.code, service.code, language, priority, actor, now=at)


def _arrive(
    session: Session,
    center: Center,
    rng: random.Random,
    actor: Actor,
    at: datetime,
    service: Service,
    code: str | None,
) -> None:
    """A walk-in takes a ticket, or a booked visitor checks in with their code."""
    if code is None:
        _issue(session, center, service, rng, actor, at)
    else:
        check_in(session, center.code, code, actor, now=at)


def _bookings(
    session: Session, center: Center, rng: random.Random, begin: datetime, now: datetime
) -> list[tuple[datetime, Service, str]]:
    """Book some of today's slots of :data:`BOOKED_SERVICES` (made a day or two ahead);
    returns the check-ins to come: a few minutes before each slot of the morning whose
    visitor came, and one now for the next slot whose check-in is open."""
    today = business_day(center, now)
    arrivals: list[tuple[datetime, Service, str]] = []
    for service in center.services:
        if service.code not in BOOKED_SERVICES or not service.bookable:
            continue
        checked_in_now = False
        for slot in grid(center, service, today):
            opens = slot - timedelta(minutes=service.checkin_early_min)
            past = slot < now
            if slot < begin or rng.random() >= (
                BOOKED_BEFORE_SHARE if past else BOOKED_LATER_SHARE
            ):
                continue
            made = begin - timedelta(hours=rng.uniform(3, 40))
            language = rng.choices(LANGUAGES, weights=LANGUAGE_WEIGHTS)[0]
            appointment = book(session, center.code, service.code, slot, language, now=made)
            if past:
                if rng.random() < BOOKING_NO_SHOW_SHARE:
                    continue  # never came: no-show once its grace is over
                early = timedelta(minutes=rng.uniform(1, min(service.checkin_early_min, 20)))
                at = max(slot - early, opens, begin)
                if at < now - timedelta(minutes=1):
                    arrivals.append((at, service, appointment.code))
            elif not checked_in_now and opens <= now - timedelta(minutes=1):
                # here already, for a slot about to start; checked in a minute ago, so
                # its window must have opened by then (not just now)
                checked_in_now = True
                arrivals.append((now - timedelta(minutes=1), service, appointment.code))
    return arrivals


def _serve_next(
    session: Session, desk: Desk, rng: random.Random, now: datetime, *, keep_serving: bool
) -> None:
    """The desk calls its next visitor and serves them (or marks them no-show), and is
    free again after. A visit that would run past now is still going on at a desk with
    ``keep_serving``; a free counter (the walkthrough's) finishes it just before now."""
    ticket = None
    if keep_serving:
        ticket = _call_out_of_order(session, desk, rng)
    if ticket is None:
        ticket = call_next(session, desk.counter.id, desk.actor, now=desk.free_at)
    if ticket is None:
        desk.free_at += timedelta(minutes=rng.uniform(1, 3))
        return
    called = desk.free_at
    recalls = ticket.service.center.recalls_before_no_show
    if rng.random() < NO_SHOW_SHARE and called + timedelta(minutes=recalls + 1) < now:
        at = called
        for _ in range(recalls):
            at += timedelta(minutes=1)
            recall(session, ticket.id, desk.actor, now=at)
        desk.last_event = at + timedelta(minutes=1)
        no_show(session, ticket.id, desk.actor, now=desk.last_event)
        desk.free_at = desk.last_event + timedelta(seconds=30)
        return
    started = called + timedelta(seconds=rng.uniform(20, 60))
    start(session, ticket.id, desk.actor, now=started)
    minutes = ticket.service.default_service_min * rng.uniform(0.6, 1.5)
    ended = started + timedelta(minutes=minutes)
    if ended >= now:
        if keep_serving:
            desk.done = True  # still with this visitor when the demo starts
            desk.last_event = started
            return
        ended = max(started + timedelta(seconds=30), now - timedelta(seconds=30))
    complete(session, ticket.id, desk.actor, now=ended)
    desk.last_event = ended
    if rng.random() < RATED_SHARE and ended + timedelta(minutes=2) < now:
        score = rng.choices(SCORES, weights=SCORE_WEIGHTS)[0]
        rate_ticket(session, ticket.tracking_token, score, now=ended + timedelta(minutes=2))
    desk.free_at = ended + timedelta(seconds=rng.uniform(30, 120))


def _call_out_of_order(session: Session, desk: Desk, rng: random.Random) -> Ticket | None:
    """Now and then a desk calls the last visitor waiting for one of its services ahead
    of the others, with a reason (the dashboard's out-of-order calls, the public page's
    fairness); None when nobody is waiting behind someone else."""
    waiting = session.scalars(
        select(Ticket)
        .join(CounterService, CounterService.service_id == Ticket.service_id)
        .where(
            CounterService.counter_id == desk.counter.id,
            Ticket.status == "waiting",
            Ticket.target_counter_id.is_(None),
            Ticket.issued_at <= desk.free_at,
        )
        .order_by(Ticket.issued_at.desc())
        .limit(2)
    ).all()
    if len(waiting) < 2 or rng.random() >= OUT_OF_ORDER_SHARE:
        return None
    reason = rng.choices(OUT_OF_ORDER_REASONS_SEEN, weights=OUT_OF_ORDER_WEIGHTS)[0]
    return call_ticket(
        session, desk.counter.id, waiting[0].id, reason, desk.actor, now=desk.free_at
    )


def _clear_queue(session: Session, desk: Desk, quiet: set[int], now: datetime) -> None:
    """Whoever still waits for a free counter's services (a busy morning) is
    served there in the moments before now, so a newcomer's ticket is next."""
    left = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(
            Ticket.center_id == desk.counter.center_id,
            Ticket.status == "waiting",
            Ticket.service_id.in_(quiet),
        )
    )
    if not left:
        return
    at = max(desk.last_event, now - timedelta(minutes=5))
    step = (now - at) / (2 * left + 2)
    while (ticket := call_next(session, desk.counter.id, desk.actor, now=at + step)) is not None:
        start(session, ticket.id, desk.actor, now=at + step)
        complete(session, ticket.id, desk.actor, now=at + 2 * step)
        at += 2 * step


def _keep_a_desk_busy(session: Session, desks: list[Desk], now: datetime) -> None:
    """Someone is being served at one of ``desks`` (not the free ones), so the display
    and the dashboard show a hall at work, when the morning left them all between
    visitors: the desk idle longest calls its next visitor (the kept queue's)."""
    if any(current_ticket(session, d.counter.id) is not None for d in desks):
        return
    called, started = now - timedelta(seconds=40), now - timedelta(seconds=20)
    for desk in sorted(desks, key=lambda d: d.last_event):
        if desk.last_event >= called:
            continue  # its events stay in time order
        ticket = call_next(session, desk.counter.id, desk.actor, now=called)
        if ticket is not None:
            start(session, ticket.id, desk.actor, now=started)
            return


def _keep_a_queue(
    session: Session,
    center: Center,
    services: list[Service],
    quiet: set[int],
    rng: random.Random,
    actor: Actor,
    now: datetime,
) -> None:
    """At least :data:`MIN_WAITING` visitors waiting for services the free counters do
    not serve, so the display and the dashboard show a queue."""
    others = [s for s in services if s.id not in quiet]
    waiting = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.center_id == center.id, Ticket.status == "waiting")
    )
    for i in range(MIN_WAITING - waiting):
        at = now - timedelta(minutes=MIN_WAITING - i)
        _issue(session, center, rng.choice(others), rng, actor, at)
