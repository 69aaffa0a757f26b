"""The demo center's past: whole days played before today's morning, so the forecast
has a history to learn the center's day from (arrivals by weekday and time of day,
service times) and a manager has yesterday to try a what-if on.

Invariants:

* Days played: yesterday and the same weekday one and two weeks ago
  (:data:`PAST_DAYS`), each only when it has no tickets yet (a re-run adds nothing).
* Each day runs over the hours the demo opens today (server/demo/setup.py sets them
  around the time it runs), so the history covers the hours a manager sees now.
* Everything happens through the queue engine, as in the morning (morning.py): issue,
  call, start, complete, now and then a no-show; arrivals follow a day's shape (a
  morning peak, a lunch dip) and stop half an hour before closing, and the desks serve
  until nobody waits: no ticket of a past day is left waiting.
* Bookings: a share of each day's slots of the booked services (morning.py's
  :data:`BOOKED_SERVICES`) were booked the day before; their visitors checked in at the
  kiosk early, on time or late (within the grace), and some never came: the upkeep
  marks those no-show with the day's time, so the appointments report has past days.
  Each check-in takes the place of a walk-in for its service: the day's demand is the
  same as without bookings.
* At the end of the day every counter closes (its state timer starts then, not on the
  oldest day played).
* The same day gives the same history (seeded with the date).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..appointments.booking import book
from ..appointments.slots import grid
from ..appointments.upkeep import mark_no_show_bookings
from ..auth import device_actor
from ..models import Center, Device, Ticket
from ..queue import business_day, current_ticket, set_counter_state
from .morning import (
    BOOKED_SERVICES,
    LANGUAGE_WEIGHTS,
    LANGUAGES,
    _arrive,
    _desks,
    _serve_next,
    service_weights,
)

PAST_DAYS = (14, 7, 1)  # days before today, played oldest first (as they happened)
VISITORS_PER_HOUR = 18
# Relative arrival rate over the opening hours, first hour first (stretched over the
# day's hours): a morning peak, a lunch dip, a smaller afternoon peak.
DAY_SHAPE = (0.8, 1.3, 1.45, 1.1, 0.6, 0.95, 1.2, 1.05, 0.55)
LAST_ARRIVAL_BEFORE_CLOSE = timedelta(minutes=30)
# Bookings of a past day: the share of slots booked (the day before), and of their
# visitors those who never came and those who came late (within the grace).
BOOKED_SHARE = 0.3
BOOKING_NO_SHOW_SHARE = 0.2
BOOKING_LATE_SHARE = 0.2
BOOKING_ON_TIME_SHARE = 0.15


def seed_history(
    session: Session,
    center: Center,
    devices: list[Device],
    now: datetime,
    past_days: tuple[int, ...] = PAST_DAYS,
) -> list[date]:
    """Play the ``past_days`` (days before today) that have no tickets; returns the
    days played."""
    kiosk = next((d for d in devices if d.kind == "kiosk"), None)
    if kiosk is None:
        return []
    today = business_day(center, now)
    played = []
    for back in past_days:
        day = today - timedelta(days=back)
        has_tickets = session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.center_id == center.id, Ticket.business_day == day)
        )
        if not has_tickets:
            _play_day(session, center, device_actor(kiosk), day)
            played.append(day)
    return played


def _play_day(session: Session, center: Center, kiosk, day: date) -> None:
    rng = random.Random(day.toordinal() * 7 + 1)
    zone = ZoneInfo(center.timezone)
    opens = datetime.combine(day, center.opens_at, zone)
    closes = datetime.combine(day, center.closes_at, zone)
    last_arrival = closes - LAST_ARRIVAL_BEFORE_CLOSE
    services = [s for s in center.services if s.active]
    if last_arrival <= opens or not services:
        return
    desks = _desks(session, center, rng, opens)
    if not desks:
        return
    walk_ins = [
        (at, service, None) for at, service in _arrivals(rng, services, opens, last_arrival)
    ]
    booked = _bookings(session, center, rng, day, opens)
    arrivals = sorted(_instead_of_walk_ins(walk_ins, booked) + booked, key=lambda item: item[0])
    finish = closes + timedelta(hours=2)  # the desks serve whoever is left, then go home
    while True:
        open_desks = [desk for desk in desks if not desk.done]
        if not open_desks:
            break
        desk = min(open_desks, key=lambda d: d.free_at)
        while arrivals and arrivals[0][0] <= desk.free_at:
            _arrive(session, center, rng, kiosk, *arrivals.pop(0))
        if desk.free_at >= finish or (not arrivals and not _anyone_waiting(session, center)):
            desk.done = True
            continue
        _serve_next(session, desk, rng, finish, keep_serving=False)
    mark_no_show_bookings(session, finish)  # as the upkeep would have, that evening
    for desk in desks:  # the desks go home: no counter stays open overnight
        if desk.counter.state != "closed" and current_ticket(session, desk.counter.id) is None:
            at = max(desk.last_event, closes) + timedelta(minutes=rng.uniform(1, 5))
            set_counter_state(session, desk.counter.id, "closed", desk.actor, now=at)


def _instead_of_walk_ins(walk_ins: list, booked: list) -> list:
    """A booked visitor is one of the day's visitors, not one more: each check-in takes
    the place of the walk-in for its service nearest in time, so the day's demand (what
    the forecast learns, the surge it is shown against) is the same with bookings."""
    left = list(walk_ins)
    for at, service, _ in booked:
        same = [i for i, item in enumerate(left) if item[1] is service]
        if same:
            left.pop(min(same, key=lambda i: abs((left[i][0] - at).total_seconds())))
    return left


def _bookings(
    session: Session, center: Center, rng: random.Random, day: date, opens: datetime
) -> list[tuple[datetime, object, str]]:
    """Book a share of the day's slots of the booked services, the day before; returns
    the check-ins of those who came: early, on time or late within the grace (not before
    the center opens)."""
    arrivals = []
    for service in center.services:
        if service.code not in BOOKED_SERVICES or not (service.bookable and service.active):
            continue
        for slot in grid(center, service, day):
            if rng.random() >= BOOKED_SHARE:
                continue
            made = slot - timedelta(hours=rng.uniform(16, 30))
            language = rng.choices(LANGUAGES, weights=LANGUAGE_WEIGHTS)[0]
            appointment = book(session, center.code, service.code, slot, language, now=made)
            came = rng.random()
            if came < BOOKING_NO_SHOW_SHARE:
                continue  # never came: no-show once its grace is over
            if came < BOOKING_NO_SHOW_SHARE + BOOKING_LATE_SHARE and service.late_grace_min:
                at = slot + timedelta(minutes=rng.uniform(0.5, service.late_grace_min - 0.5))
            elif came < BOOKING_NO_SHOW_SHARE + BOOKING_LATE_SHARE + BOOKING_ON_TIME_SHARE:
                at = slot - timedelta(seconds=rng.uniform(0, 50))
            else:
                early = min(service.checkin_early_min, 20)
                at = slot - timedelta(minutes=rng.uniform(1, max(early, 1)))
            at = max(at, slot - timedelta(minutes=service.checkin_early_min), opens)
            arrivals.append((at, service, appointment.code))
    return arrivals


def _anyone_waiting(session: Session, center: Center) -> bool:
    return bool(
        session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.center_id == center.id, Ticket.status == "waiting")
        )
    )


def _arrivals(rng: random.Random, services, opens: datetime, until: datetime) -> list:
    """Arrival instants of a non-homogeneous Poisson process with :data:`DAY_SHAPE`
    stretched over [opens, until), each with a service (the first services of the
    catalog a little more often, as some services are simply asked for more; the
    surge's service less, morning.py's :data:`SURGE_SERVICE_WEIGHT`)."""
    span = (until - opens).total_seconds()
    peak = max(DAY_SHAPE) * VISITORS_PER_HOUR / 3600
    weights = service_weights(services, [1.0 + 1.5 / (1 + i) for i in range(len(services))])
    out = []
    t = 0.0
    while True:
        t += rng.expovariate(peak)  # thinning: candidates at the peak rate
        if t >= span:
            return out
        shape = DAY_SHAPE[min(int(t / span * len(DAY_SHAPE)), len(DAY_SHAPE) - 1)]
        if rng.random() * max(DAY_SHAPE) < shape:
            out.append((opens + timedelta(seconds=t), rng.choices(services, weights)[0]))
