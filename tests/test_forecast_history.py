"""server/forecast/history.py: service times, expected arrivals with today's pace; and
days as scenarios (a recorded day replays as it was, replay.py; a typical weekday is
drawn, typical.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, event, text, update

from server import queue
from server.forecast import history, replay, whatif
from server.forecast.simulate import FRONT, simulate
from server.forecast.state import BIN_S
from server.forecast.typical import typical_day
from server.models import ABSENT, Center, CounterEvent, Service, Ticket

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
        scenario, real = replay.recorded(s, center, MONDAY)
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
        scenario = replay.recorded_day(s, s.get(Center, day.center_id), MONDAY)
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
        one = typical_day(s, center, weekday, seed=3)
        again = typical_day(s, center, weekday, seed=3)
        other = typical_day(s, center, weekday, seed=4)
    assert one.visitors == again.visitors and one.visitors != other.visitors
    assert 6 <= len(one.visitors) <= 40  # 18 expected
    assert all(10 * 3600 <= v.arrival_s < 13 * 3600 for v in one.visitors)
    assert all(c.open == [(9 * 3600.0, 24 * 3600.0)] for c in one.counters)
    assert [c.label for c in one.counters] == ["1", "2", "3"]
    assert one.policy.kind == "strict"


# --- review h12: never-called visitors, counters left open, today, DST -------------


def test_never_called_tickets_wait_until_they_expire_not_until_midnight(db, center):
    """Five tickets issued at 17:00 and expired at 19:00 waited 2 h (not 7 h, to
    midnight); a remote join never checked in is no visitor; a counter opened at 09:00
    with no closing event is open until the close (18:00) or its last visit's end."""
    with db.write() as s:
        staff = quick_staff(s, center, "st")
        counter = factories.counter(s, center, "1")
        s.add(
            CounterEvent(
                counter_id=counter.id, at=_local(MONDAY, 9), from_state="closed", to_state="open"
            )
        )
        served = _issue(s, center, _local(MONDAY, 10))
        queue.call_next(s, counter.id, staff, start=True, now=_local(MONDAY, 10))
        queue.complete(s, served.id, staff, now=_local(MONDAY, 10, 5))
        remote = _issue(s, center, _local(MONDAY, 11))
        s.flush()
        s.execute(update(Ticket).where(Ticket.id == remote.id).values(callable_at=ABSENT))
        late = [_issue(s, center, _local(MONDAY, 17)).id for _ in range(5)]
        queue.expire_after_closing(s, center, now=_local(MONDAY, 19))
        counter_id = counter.id
    with db.read() as s:
        scenario, real = replay.recorded(s, s.get(Center, center.id), MONDAY)
        body = whatif.what_if(s, s.get(Center, center.id), day=MONDAY)
    assert remote.id not in {v.key for v in scenario.visitors}
    assert len(scenario.visitors) == 6
    by_key = {v.key: v for v in scenario.visitors}
    assert real.waits([by_key[k] for k in late]) == [7200.0] * 5
    (opened,) = {c.id: c for c in scenario.counters}[counter_id].open
    assert opened == (9 * 3600.0, 18 * 3600.0)
    assert body["recorded"]["overall"]["p90_wait_s"] == 7200
    assert body["recorded"]["overall"]["unserved"] == 5
    # the simulation serves them before 18:00, as the desk was open
    assert body["baseline"]["overall"]["unserved"] == 0
    assert body["baseline"]["overall"]["p90_wait_s"] < 3600


def test_today_ends_now_for_the_real_and_the_simulated_day(db, center, monkeypatch):
    """Today, with visitors waiting since 10:00 and no desk open, both columns say they
    have waited until now (12:00): not until midnight."""
    now = _local(MONDAY, 12)
    monkeypatch.setattr(replay, "utcnow", lambda: now)
    monkeypatch.setattr(whatif, "utcnow", lambda: now)
    with db.write() as s:
        for _ in range(3):
            _issue(s, center, _local(MONDAY, 10))
    with db.read() as s:
        body = whatif.what_if(s, s.get(Center, center.id), day=MONDAY)
    assert body["recorded"]["overall"]["p90_wait_s"] == 7200
    assert body["baseline"]["overall"]["p90_wait_s"] == 7200
    assert body["baseline"]["overall"]["unserved"] == 3


BERLIN_DST = date(2024, 3, 31)  # clocks go forward at 02:00 (CET -> CEST)


def test_times_are_wall_clock_seconds_on_a_day_the_clocks_change(db):
    with db.write() as s:
        center = factories.make_center(s, code="berlin", timezone="Europe/Berlin")
        ten = datetime(2024, 3, 31, 8, 0, tzinfo=UTC)  # 10:00 CEST
        ticket = _issue(s, center, ten)
        s.add(
            CounterEvent(
                counter_id=center.counters[0].id, at=ten, from_state="closed", to_state="open"
            )
        )
        ids = [sv.id for sv in center.services]
        center_id, ticket_id = center.id, ticket.id
    with db.read() as s:
        center = s.get(Center, center_id)
        scenario, _ = replay.recorded(s, center, BERLIN_DST)
        profile = history.weekday_profile(s, center, BERLIN_DST + timedelta(weeks=1), 6, ids)
    (visitor,) = scenario.visitors
    assert visitor.key == ticket_id and visitor.arrival_s == 10 * 3600.0
    assert scenario.counters[0].open[0][0] == 10 * 3600.0
    service = next(i for i in ids if profile[i][(10 * 3600) // BIN_S])
    assert profile[service][(10 * 3600) // BIN_S] == 1.0


def test_a_transferred_and_a_parked_ticket_replay_as_their_visits(db, center):
    """A transfer is two visits (the issued service up to the transfer, then the new
    one from the front of its queue); a park and resume, two (the second sent to the
    counter that parked it), each with its own call and time at the counter."""
    with db.write() as s:
        staff = quick_staff(s, center, "st")
        one, three = factories.counter(s, center, "1"), factories.counter(s, center, "3")
        a = _issue(s, center, _local(MONDAY, 10))
        b = _issue(s, center, _local(MONDAY, 10, 1))
        assert queue.call_next(s, one.id, staff, start=True, now=_local(MONDAY, 10)).id == a.id
        queue.transfer(s, a.id, staff, service_code="job-seeker", now=_local(MONDAY, 10, 5))
        assert queue.call_next(s, three.id, staff, start=True, now=_local(MONDAY, 10, 6)).id == a.id
        queue.complete(s, a.id, staff, now=_local(MONDAY, 10, 10))
        assert queue.call_next(s, one.id, staff, start=True, now=_local(MONDAY, 10, 7)).id == b.id
        queue.park(s, b.id, staff, now=_local(MONDAY, 10, 8))
        queue.resume(s, b.id, staff, now=_local(MONDAY, 10, 15))
        assert queue.call_next(s, one.id, staff, start=True, now=_local(MONDAY, 10, 16)).id == b.id
        queue.complete(s, b.id, staff, now=_local(MONDAY, 10, 20))
        ids = {sv.code: sv.id for sv in s.query(Service).filter_by(center_id=center.id)}
        a_id, b_id, one_id, three_id = a.id, b.id, one.id, three.id
    with db.read() as s:
        scenario, real = replay.recorded(s, s.get(Center, center.id), MONDAY)
    visits = {v.key: v for v in scenario.visitors}
    second = replay.SEGMENT_KEY
    assert set(visits) == {a_id, a_id + second, b_id, b_id + second}
    h10 = 10 * 3600.0
    first_a, then_a = visits[a_id], visits[a_id + second]
    assert (first_a.service_id, first_a.arrival_s, first_a.service_s) == (
        ids["pension-new"],
        h10,
        300.0,
    )
    assert (then_a.service_id, then_a.arrival_s, then_a.lane, then_a.due_s) == (
        ids["job-seeker"],
        h10 + 300,
        FRONT,
        h10 + 300,
    )
    assert then_a.service_s == 240.0
    assert (real.calls[a_id + second].counter_id, real.calls[a_id + second].called_s) == (
        three_id,
        h10 + 360,
    )
    first_b, then_b = visits[b_id], visits[b_id + second]
    assert (first_b.arrival_s, first_b.service_s) == (h10 + 60, 60.0)
    assert (then_b.arrival_s, then_b.target_counter, then_b.lane) == (h10 + 900, one_id, FRONT)
    assert then_b.service_s == 240.0 and real.calls[b_id + second].called_s == h10 + 960
    # the simulation sends the resumed visit back to its counter
    assert simulate(scenario).calls[b_id + second].counter_id == one_id


class _Statements:
    """The SQL statements sent while inside (a before_cursor_execute listener)."""

    def __init__(self, s):
        self.engine = s.get_bind()
        self.sent: list[str] = []
        self.parameters: list = []

    def _listen(self, conn, cursor, statement, parameters, context, executemany):
        self.sent.append(statement)
        self.parameters.append(parameters)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._listen)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._listen)


def test_demand_reads_past_days_once_until_they_change(db, center):
    """The live forecast asks every minute: the weekday profile and the past days'
    service times are read again only when a count over their index range changes."""
    with db.write() as s:
        for weeks in (1, 2):
            _issue(s, center, _local(MONDAY - timedelta(weeks=weeks), 10, 5))
        new_id = s.query(Service).filter_by(center_id=center.id, code="pension-new").one().id
    now = _local(MONDAY, 12)

    def reads(sent: list[str]) -> int:  # statements fetching past tickets' rows
        return sum(
            1
            for q in sent
            if "count(" not in q.lower()
            and ("issued_at" in q or "called_at" in q)
            and "tickets" in q
        )

    with db.read() as s, _Statements(s) as first:
        one = history.demand(s, center, now)
    with db.read() as s, _Statements(s) as second:
        again = history.demand(s, center, now)
    assert one.arrivals == again.arrivals and one.service_times == again.service_times
    assert reads(second.sent) < reads(first.sent)
    with db.write() as s:  # a past Monday changes: read again
        _issue(s, center, _local(MONDAY - timedelta(weeks=1), 10, 6))
    with db.read() as s:
        changed = history.demand(s, center, now)
    assert changed.arrivals[new_id][(10 * 3600) // BIN_S] == pytest.approx(1.5)
    assert one.arrivals[new_id][(10 * 3600) // BIN_S] == pytest.approx(1.0)


def test_the_weekday_history_statement_uses_the_day_index(db, center):
    """The statement history.py sends (not a hand-written one), as each database plans
    it: SQLite searches ix_tickets_day; PostgreSQL, told to avoid a sequential scan (its
    test tables are too small to prefer an index on their own), can use the index."""
    with db.read() as s:
        with _Statements(s) as seen:
            history.weekday_profile(s, center, MONDAY, 0, [1, 2])
        # the four Mondays' (then, none found, the last week's)
        index = next(
            i for i, q in enumerate(seen.sent) if "issued_at" in q and "count(" not in q.lower()
        )
        statement, parameters = seen.sent[index], seen.parameters[index]
        connection = s.connection()
        if connection.dialect.name == "sqlite":
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            detail = " ".join(str(row[-1]) for row in plan.all())
            assert "ix_tickets_day" in detail
            assert "SCAN tickets" not in detail.replace("USING INDEX", "")
        else:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
            detail = " ".join(row[0] for row in plan.all())
            assert "ix_tickets_day" in detail and "Seq Scan on tickets" not in detail


def test_a_typical_day_opens_each_counter_when_it_usually_was(db, center):
    """Counter 1 opened 09:00-13:00 on three of the last four such weekdays, counter 2
    on one only, counter 3 never: the typical day opens 1 then and no other."""
    today = datetime.now(UTC).date()
    with db.write() as s:
        one, two = factories.counter(s, center, "1"), factories.counter(s, center, "2")
        for weeks in (1, 2, 3, 4):
            day = today - timedelta(weeks=weeks)
            if weeks < 4:
                s.add(
                    CounterEvent(
                        counter_id=one.id, at=_local(day, 9), from_state="closed", to_state="open"
                    )
                )
                s.add(
                    CounterEvent(
                        counter_id=one.id, at=_local(day, 13), from_state="open", to_state="closed"
                    )
                )
            else:
                s.add(
                    CounterEvent(
                        counter_id=two.id, at=_local(day, 9), from_state="closed", to_state="open"
                    )
                )
        one_id, two_id = one.id, two.id
    with db.read() as s:
        scenario = typical_day(s, s.get(Center, center.id), today.weekday(), seed=1)
    opened = {c.id: c.open for c in scenario.counters}
    assert opened[one_id] == [(9 * 3600.0, 13 * 3600.0)]
    assert all(hours == [] for cid, hours in opened.items() if cid != one_id)
    assert two_id in opened


def test_a_closed_weekday_has_no_opening_hours(db):
    with db.write() as s:
        center = factories.make_center(s, code="closed-sun", closed_weekdays=[6])
        sunday, monday = history.opening_seconds(center, 6), history.opening_seconds(center, 0)
        typical = typical_day(s, center, 6, seed=0)
    assert sunday == [] and monday == [(9 * 3600.0, 18 * 3600.0)]
    assert all(c.open == [] for c in typical.counters)
