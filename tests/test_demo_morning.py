"""The demo center's morning (server/demo/morning.py, server/demo/setup.py), set up at
several hours of the day: a day's history for the dashboard, a queue at other counters,
and nobody ahead of a newcomer at counter 1, the README's walkthrough counter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server.demo.morning import MIN_WAITING, WALKTHROUGH_COUNTER
from server.demo.setup import set_up_demo
from server.ledger import signing_key
from server.ledger.verify import verify_database
from server.models import Appointment, Center, Rating, StaffUser, Ticket, TicketEvent
from server.queue import OUT_OF_ORDER_REASONS, business_day, current_ticket, expire_all_centers

BAKU = ZoneInfo("Asia/Baku")


@pytest.mark.parametrize(
    "local",
    [
        datetime(2026, 3, 12, 0, 20),  # just after midnight: hardly any morning
        # Half a minute after the 09:00 slot's check-in opened: too late to have checked
        # someone in a minute ago (CI once started the demo at just that moment, that day).
        datetime(2026, 12, 5, 8, 30, 30),
        datetime(2026, 3, 12, 9, 5),
        datetime(2026, 3, 12, 13, 30),
        datetime(2026, 3, 12, 20, 10),  # after the center file's 18:00 closing
        datetime(2026, 3, 12, 23, 50),
    ],
    ids=lambda t: t.strftime("%H%M%S"),
)
def test_the_morning_leaves_counter_1_free_and_a_queue_elsewhere(app, db, local):
    now = local.replace(tzinfo=BAKU).astimezone(UTC)
    with app.app_context():
        set_up_demo(now=now, past_days=())
    with db.write() as s:
        center = s.scalar(select(Center))
        counter = next(c for c in center.counters if c.label == WALKTHROUGH_COUNTER)
        tickets = s.scalars(select(Ticket)).all()
        # Open now, so the server's end-of-day upkeep leaves a newcomer's ticket alone.
        assert center.opens_at <= local.time() < center.closes_at
        assert expire_all_centers(s, now=now + timedelta(minutes=1)) == 0
        assert current_ticket(s, counter.id) is None
        open_ = [t for t in tickets if t.status in ("waiting", "called", "serving", "parked")]
        assert not [t.display_number for t in open_ if t.service_id in counter.service_ids]
        waiting = [t for t in tickets if t.status == "waiting"]
        assert len(waiting) >= MIN_WAITING
        # Everything happened today, before now, in order.
        today = business_day(center, now)
        assert {t.business_day for t in tickets} == {today}
        for t in tickets:
            times = [t.issued_at, t.called_at, t.started_at, t.ended_at]
            times = [at for at in times if at is not None]
            assert times == sorted(times) and times[-1] <= now, t.display_number
        if local.hour >= 9:  # a morning of two hours: visitors served, and rated
            done = [t for t in tickets if t.status == "done"]
            assert len(done) >= 20
            assert len({t.service_id for t in done}) >= 8
            assert s.scalar(select(Rating).limit(1)) is not None
            assert any(t.status == "serving" for t in tickets)  # other counters are busy
            # A few calls out of order, with their reasons, for the dashboard to show...
            reasons = s.scalars(
                select(TicketEvent.reason).where(TicketEvent.action == "call_out_of_order")
            ).all()
            assert reasons and set(reasons) <= set(OUT_OF_ORDER_REASONS)
        # ... and the morning's fairness ledger holds every event (not sealed: open).
        report = verify_database(s, center, today, signing_key(app).public_key())
        assert not report.problems and report.entries > len(tickets), report.summary()


def test_setting_the_demo_up_again_the_same_day_adds_no_second_morning(app, db):
    now = datetime(2026, 3, 12, 11, 0, tzinfo=BAKU).astimezone(UTC)
    with app.app_context():
        set_up_demo(now=now, past_days=())
        with db.read() as s:
            first = len(s.scalars(select(Ticket)).all())
        set_up_demo(now=now + timedelta(minutes=30), past_days=())
    with db.read() as s:
        assert len(s.scalars(select(Ticket)).all()) == first


@pytest.mark.parametrize(
    "local",
    [datetime(2026, 3, 12, 9, 5), datetime(2026, 3, 12, 13, 30), datetime(2026, 3, 12, 20, 10)],
    ids=lambda t: t.strftime("%H%M%S"),
)
def test_the_demo_shows_bookings_a_break_a_closed_day_and_reception(app, db, local):
    now = local.replace(tzinfo=BAKU).astimezone(UTC)
    with app.app_context():
        info = set_up_demo(now=now, past_days=())
    assert ("reception", "reception", "") in info.logins
    assert "/reception" in info.describe("http://demo")
    with db.read() as s:
        center = s.scalar(select(Center))
        today = business_day(center, now)
        # A lunch break inside today's hours that is still ahead, and a closed day soon.
        assert len(center.breaks) == 1
        lunch = center.breaks[0]
        assert center.opens_at.strftime("%H:%M") <= lunch["from"] < lunch["to"]
        assert lunch["to"] <= center.closes_at.strftime("%H:%M")
        assert lunch["to"] > local.strftime("%H:%M")
        assert (today + timedelta(days=2)).isoformat() in center.closed_days
        assert center.remote_joining and center.hall_capacity
        bookable = {svc.code for svc in center.services if svc.bookable}
        assert {"pension-new", "job-seeker", "consultation"} <= bookable
        assert any(svc.remote_joining for svc in center.services)
        user = s.scalar(select(StaffUser).where(StaffUser.username == "reception"))
        assert user.role == "reception" and user.counter_links == []
        # Today's bookings, for the counters' and the dashboard's lists and the reports.
        appointments = s.scalars(select(Appointment)).all()
        states = {a.state for a in appointments}
        assert {a.business_day for a in appointments} == {today}
        assert "booked" in states and "checked_in" in states, states
        checked_in = [a for a in appointments if a.state == "checked_in"]
        for appointment in checked_in:
            ticket = s.get(Ticket, appointment.ticket_id)
            assert ticket.kind == "appointment" and ticket.due_at == appointment.start
            assert appointment.checked_in_at <= now
        if local.hour >= 13:  # a morning long enough for bookings that nobody came to
            assert "no_show" in states, states
            assert any(s.get(Ticket, a.ticket_id).status == "done" for a in checked_in)
        # None of it at the walkthrough counter: a newcomer there is still called first.
        counter = next(c for c in center.counters if c.label == WALKTHROUGH_COUNTER)
        assert not {a.service_id for a in appointments} & set(counter.service_ids)
