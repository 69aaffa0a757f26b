"""server/forecast/history.py: service times, expected arrivals with today's pace, and
days as scenarios (a recorded day replays as it was; a typical weekday is drawn)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, text

from server import queue
from server.forecast import history
from server.forecast.simulate import simulate
from server.forecast.state import BIN_S
from server.models import Center, CounterEvent, Service

from . import factories
from .engine_helpers import T0, quick_staff
from .test_simulate import _busy_morning as busy_morning
from .test_simulate import run_engine

MONDAY = date(2024, 3, 11)  # T0's local day (Asia/Baku, UTC+4)
T0_LOCAL_S = 10 * 3600.0


def _local(day: date, hh: int, mm: int = 0) -> datetime:
    """A wall time in Baku (UTC+4, no DST since 2016) as an aware UTC instant."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC) - timedelta(hours=4)


def _issue(s, center: Center, when: datetime, service: str = "pension-new", priority=None):
    kiosk = factories.kiosk_actor(s, center)
    return queue.issue_ticket(s, center.code, service, "az", priority, kiosk, now=when).ticket


def test_a_recorded_day_replays_as_it_was(db):
    """The engine's day, read back as a scenario and simulated, calls the same visitors
    to the same counters at the same instants: arrivals, service times, counter hours
    (a counter closing mid-morning) and the policy all come from the records."""
    arrivals = busy_morning()
    day = run_engine(
        db,
        arrivals,
        close_at={"2": 600.0},
        pauses={"3": [(403.0, 1107.0)]},
        call_policy="ratio",
        priority_ratio=2,
    )
    with db.read() as s:
        center = s.get(Center, day.center_id)
        scenario, real = history.recorded(s, center, MONDAY)
    assert scenario.policy.kind == "ratio" and scenario.policy.priority_ratio == 2
    assert len(scenario.visitors) == len(arrivals)
    by_label = {c.label: c for c in scenario.counters}
    # closed when it finished the visitor it had at 600 s
    assert T0_LOCAL_S + 600.0 <= by_label["2"].open[-1][1] < T0_LOCAL_S + 1000.0
    # counter 3 paused (after the visitor it had at 403 s) and called again at 1107 s
    (_, paused), (back, _) = by_label["3"].open
    assert T0_LOCAL_S + 403.0 <= paused < back == T0_LOCAL_S + 1107.0
    simulated = simulate(scenario)
    assert {k: (c.counter_id, round(c.called_s)) for k, c in simulated.calls.items()} == {
        k: (c.counter_id, round(c.called_s)) for k, c in real.calls.items()
    }
    assert len(real.calls) == len(arrivals)


def test_a_counter_that_served_without_events_is_open_from_first_call_to_last_end(db):
    day = run_engine(db, busy_morning()[:6], call_policy="strict")
    with db.write() as s:
        s.execute(delete(CounterEvent))
    with db.read() as s:
        scenario = history.recorded_day(s, s.get(Center, day.center_id), MONDAY)
    served = {label for _, label, _ in day.calls}
    for counter in scenario.counters:
        if counter.label in served:
            calls = [t for _, label, t in day.calls if label == counter.label]
            assert counter.open[0][0] == pytest.approx(T0_LOCAL_S + min(calls), abs=1)
            assert counter.open[0][1] > T0_LOCAL_S + max(calls)
        else:
            assert counter.open == []


def test_service_times_from_recent_visits_else_the_default(db, center):
    with db.write() as s:
        staff = quick_staff(s, center, "st")
        counter = factories.counter(s, center, "1")
        for i, minutes in enumerate([4, 6, 8, 10]):
            t = _issue(s, center, T0 + timedelta(minutes=20 * i))
            queue.call_next(s, counter.id, staff, start=True, now=T0 + timedelta(minutes=20 * i))
            queue.complete(s, t.id, staff, now=T0 + timedelta(minutes=20 * i + minutes))
        old = _issue(s, center, T0 - timedelta(days=20))  # too old to count
        queue.call_next(s, counter.id, staff, start=True, now=T0 - timedelta(days=20))
        queue.complete(s, old.id, staff, now=T0 - timedelta(days=20, minutes=-60))
        services = {sv.code: sv for sv in s.query(Service).filter_by(center_id=center.id)}
    with db.read() as s:
        times = history.service_times(s, center.id, T0 + timedelta(hours=3))
    new = times[services["pension-new"].id]
    assert new.samples == 4 and new.mean_s == pytest.approx(420.0)
    assert 0.3 < new.cv < 0.4  # pstdev 134 s over a mean of 420 s
    recalc = times[services["pension-recalc"].id]
    assert (
        recalc.samples == 0 and recalc.mean_s == services["pension-recalc"].default_service_min * 60
    )
    assert recalc.cv == 0.5


def test_demand_is_the_weekday_mean_scaled_by_todays_pace(db, center):
    with db.write() as s:
        for weeks in (1, 2, 3, 4):  # four Mondays: 4 at 10:05, 4 at 14:05
            day = MONDAY - timedelta(weeks=weeks)
            for _ in range(4):
                _issue(s, center, _local(day, 10, 5))
                _issue(s, center, _local(day, 14, 5))
        _issue(s, center, _local(MONDAY - timedelta(days=1), 14, 5))  # a Sunday: not counted
        for _ in range(14):  # today is busier than usual
            _issue(s, center, _local(MONDAY, 10, 5))
        new_id = s.query(Service).filter_by(center_id=center.id, code="pension-new").one().id
    with db.read() as s:
        found = history.demand(s, center, _local(MONDAY, 12))
    profile = found.arrivals[new_id]
    morning, afternoon = (10 * 3600) // BIN_S, (14 * 3600) // BIN_S
    assert profile[morning] == pytest.approx(4.0)  # the past stays as it was expected
    factor = (14 + 10) / (4 + 10)
    assert profile[afternoon] == pytest.approx(4.0 * factor)
    assert sum(profile) == pytest.approx(4.0 + 4.0 * factor)
    assert new_id in found.service_times


def test_demand_without_the_weekday_uses_the_last_week_then_todays_pace(db, center):
    with db.write() as s:
        _issue(s, center, _local(MONDAY - timedelta(days=2), 11, 5))  # Saturday
        _issue(s, center, _local(MONDAY - timedelta(days=2), 11, 10))
        new_id = s.query(Service).filter_by(center_id=center.id, code="pension-new").one().id
        recalc_id = s.query(Service).filter_by(center_id=center.id, code="pension-recalc").one().id
    with db.read() as s:
        found = history.demand(s, center, _local(MONDAY, 9, 30))
    # one day of history (the Saturday), two arrivals at 11:00-11:15, pace factor 10/10
    assert found.arrivals[new_id][(11 * 3600) // BIN_S] == pytest.approx(2.0)
    with db.write() as s:
        s.execute(text("DELETE FROM ticket_events"))
        s.execute(text("DELETE FROM tickets"))
        for minute in (0, 10, 20):  # no history at all: 3 arrivals in the first hour
            _issue(s, center, _local(MONDAY, 9, minute), "pension-recalc")
    with db.read() as s:
        found = history.demand(s, center, _local(MONDAY, 10))
    rest = found.arrivals[recalc_id]
    assert sum(rest) == pytest.approx(3 * 8)  # 3 an hour over the 8 hours left (to 18:00)
    assert rest[(17 * 3600) // BIN_S] == pytest.approx(0.75)
    assert rest[(18 * 3600) // BIN_S] == 0.0


def test_the_weekday_history_query_uses_the_day_index(db, center):
    with db.read() as s:
        if s.get_bind().dialect.name != "sqlite":
            pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
        days = ", ".join(f"'{MONDAY - timedelta(weeks=w)}'" for w in range(1, 5))
        plan = s.execute(
            text(
                "EXPLAIN QUERY PLAN SELECT business_day, service_id, issued_at, priority "
                f"FROM tickets WHERE center_id = {center.id} AND business_day IN ({days})"
            )
        ).all()
    detail = " ".join(row[-1] for row in plan)
    assert "ix_tickets_day" in detail and "SCAN tickets" not in detail.replace("USING INDEX", ""), (
        detail
    )


def test_a_typical_day_is_drawn_from_the_weekday_and_is_the_same_for_a_seed(db, center):
    today = datetime.now(UTC)
    with db.write() as s:
        for weeks in (1, 2):
            day = (today - timedelta(weeks=weeks)).date()
            for hour in (10, 11, 12):
                for _ in range(5):
                    _issue(s, center, _local(day, hour, 5), priority=None)
                _issue(s, center, _local(day, hour, 6), priority="elderly")
    weekday = today.date().weekday()
    with db.read() as s:
        one = history.typical_day(s, center, weekday, seed=3)
        again = history.typical_day(s, center, weekday, seed=3)
        other = history.typical_day(s, center, weekday, seed=4)
    assert one.visitors == again.visitors and one.visitors != other.visitors
    assert 6 <= len(one.visitors) <= 40  # 18 expected
    assert all(10 * 3600 <= v.arrival_s < 13 * 3600 for v in one.visitors)
    assert all(c.open == [(9 * 3600.0, 24 * 3600.0)] for c in one.counters)
    assert [c.label for c in one.counters] == ["1", "2", "3"]
    assert one.policy.kind == "strict"
