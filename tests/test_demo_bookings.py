"""The demo's past days have bookings (server/demo/history.py): booked the day before,
checked in early, on time or late within the grace, some never came (no-show, as the
upkeep marks them), all through the engine, so the appointments report of a past day
is not zeros; and every counter closes at the end of a past day, so its state timer
starts today, not on the oldest day played."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from server.demo.history import PAST_DAYS
from server.demo.setup import set_up_demo
from server.models import Appointment, Center, Counter, CounterEvent, Ticket
from server.queue import business_day
from server.reports.appointments import appointment_figures

BAKU = ZoneInfo("Asia/Baku")


def test_the_past_days_have_bookings_and_the_report_shows_them(app, db):
    now = datetime(2026, 3, 12, 11, 0, tzinfo=BAKU).astimezone(UTC)
    with app.app_context():
        set_up_demo(now=now)
    with db.read() as s:
        center = s.scalar(select(Center))
        today = business_day(center, now)
        for back in PAST_DAYS:
            day = today - timedelta(days=back)
            booked = s.scalars(
                select(Appointment).where(
                    Appointment.center_id == center.id, Appointment.business_day == day
                )
            ).all()
            hours = (center.closes_at.hour - center.opens_at.hour) or 1
            assert len(booked) >= hours, (day, len(booked))  # a few an hour
            states = {a.state for a in booked}
            assert states <= {"checked_in", "no_show"}, states  # nothing left booked
            assert {"checked_in", "no_show"} <= states
            for a in booked:
                assert a.created_at < a.start - timedelta(hours=12)  # the day before
                if a.state == "checked_in":
                    ticket = s.get(Ticket, a.ticket_id)
                    assert ticket.kind == "appointment" and ticket.status in {"done", "no_show"}
            early = [a for a in booked if a.checked_in_at and a.checked_in_at < a.start]
            late = [a for a in booked if a.checked_in_at and a.checked_in_at > a.start]
            assert early and late
            figures = appointment_figures(s, (center.id,), day, day, Appointment.center_id)
            row = figures[center.id]
            assert row["booked"] == len(booked) and row["checked_in"] > 0 and row["no_shows"] > 0
            assert sum(row["punctuality"].values()) == row["checked_in"]
            assert row["avg_wait_after_start_s"] is not None


def test_counters_close_at_the_end_of_each_past_day(app, db):
    now = datetime(2026, 3, 12, 11, 0, tzinfo=BAKU).astimezone(UTC)
    with app.app_context():
        set_up_demo(now=now)
    with db.read() as s:
        center = s.scalar(select(Center))
        today = business_day(center, now)
        for counter in s.scalars(select(Counter).where(Counter.center_id == center.id)):
            since = counter.state_since.replace(tzinfo=counter.state_since.tzinfo or UTC)
            # Open today (or closed since yesterday evening), never since two weeks ago.
            assert now - since < timedelta(hours=24), (counter.label, since)
            events = s.scalars(
                select(CounterEvent)
                .where(CounterEvent.counter_id == counter.id)
                .order_by(CounterEvent.at, CounterEvent.id)
            ).all()
            for back in PAST_DAYS:
                day = today - timedelta(days=back)
                that_day = [e for e in events if e.at.astimezone(BAKU).date() == day]
                if that_day:
                    assert that_day[-1].to_state == "closed", (counter.label, day)
