"""The demo center's past days (server/demo/history.py): whole days played through the
queue engine before today's morning, for the forecast to learn from and a what-if to
replay; nothing left waiting, nothing played twice."""

from __future__ import annotations

from collections import Counter as Tally
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from server.demo.history import PAST_DAYS
from server.demo.setup import set_up_demo
from server.ledger import signing_key
from server.ledger.verify import verify_database
from server.models import Center, Ticket
from server.queue import business_day

BAKU = ZoneInfo("Asia/Baku")


def test_the_past_days_are_whole_served_days_within_the_demo_hours(app, db):
    now = datetime(2026, 3, 12, 11, 0, tzinfo=BAKU).astimezone(UTC)
    with app.app_context():
        set_up_demo(now=now)
    with db.read() as s:
        center = s.scalar(select(Center))
        today = business_day(center, now)
        tickets = s.scalars(select(Ticket).where(Ticket.business_day != today)).all()
        days = Tally(t.business_day for t in tickets)
        assert set(days) == {today - timedelta(days=back) for back in PAST_DAYS}
        assert min(days.values()) >= 100  # a real day each, not a handful
        # Served to the end: nobody of a past day waits, is called or is at a counter.
        assert {t.status for t in tickets} <= {"done", "no_show"}
        assert sum(t.status == "no_show" for t in tickets) < len(tickets) * 0.2
        for t in tickets:
            local = t.issued_at.astimezone(BAKU)
            assert center.opens_at <= local.time() < center.closes_at, t.display_number
            times = [t.issued_at, t.called_at, t.started_at, t.ended_at]
            times = [at for at in times if at is not None]
            assert times == sorted(times) and times[-1] < now
        # Every service the counters serve was asked for, and a wait was real.
        assert len({t.service_id for t in tickets}) >= 10
        assert any((t.called_at - t.issued_at).total_seconds() > 60 for t in tickets)
        yesterday = today - timedelta(days=1)
        key = signing_key(app).public_key()
        report = verify_database(s, center, yesterday, key)
        assert not report.problems and report.entries > days[yesterday], report.summary()


def test_a_later_demo_plays_only_the_days_it_lacks(app, db):
    first = datetime(2026, 3, 12, 11, 0, tzinfo=BAKU).astimezone(UTC)
    with app.app_context():
        set_up_demo(now=first)
        with db.read() as s:
            before = Tally(s.scalars(select(Ticket.business_day)).all())
        set_up_demo(now=first + timedelta(minutes=20))  # the same day: nothing new
        with db.read() as s:
            assert Tally(s.scalars(select(Ticket.business_day)).all()) == before
        set_up_demo(now=first + timedelta(days=1))  # the next day: its yesterday is played
    with db.read() as s:
        after = Tally(s.scalars(select(Ticket.business_day)).all())
    for day, count in before.items():
        assert after[day] == count, day  # no day played twice
    new_days = set(after) - set(before)
    next_today = first.astimezone(BAKU).date() + timedelta(days=1)
    # Its yesterday was the first demo's today (played already, by the morning), so the
    # new days are the next day itself and its weeks-ago weekdays.
    assert next_today in new_days
    assert next_today - timedelta(days=7) in new_days
