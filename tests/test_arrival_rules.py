"""Arrival rules a review of the appointments found wanting, on SQLite and PostgreSQL
(docs/queue.md, "Appointments and absent tickets"): who a call passes over (an absent
ticket at a counter that also serves other services, never by an out-of-order call or
before its turn), a ticket called anyway and sent back is callable, an early booking's
estimate waits for its slot, a booking of another day, an outside ticket whose turn
has come.

Test center (factories.center_spec, hours 09-18 Baku): A = pension-new (target 15
min), B = pension-recalc (5); counter 1 serves A then B, counter 2 B, A, C. Minute 0
is 10:00 in Baku (engine_helpers.at).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from server import queue
from server.appointments import checkin, remote, upkeep
from server.appointments.hall import come_in
from server.errors import Conflict
from server.models import ABSENT, Center, Ticket
from server.queue import estimate, estimates_for

from .arrival_helpers import book, remote_env, service
from .engine_helpers import Env, at, issue


@pytest.fixture
def env(db) -> Env:
    return remote_env(db)


def join(s, env: Env, minute: float) -> Ticket:
    """A remote ticket for A (due minute + 15), absent until its check-in."""
    return remote.join_from_home(
        s, env.center_code, "pension-new", "en", client="10.0.0.1", now=at(minute)
    ).ticket


def scan(s, env: Env, ticket: Ticket, minute: float):
    return checkin.check_in(
        s, env.center_code, f"/t/{ticket.tracking_token}", env.kiosk, now=at(minute)
    )


def test_a_counter_calling_another_service_passes_the_absent_ticket_it_steps_over(db, env):
    with db.write() as s:
        absent = join(s, env, 0)  # A, due 15
        later = [issue(s, env, "pension-recalc", minute=m) for m in (16, 17, 18)]  # B, due 21..
        # Counter 1 (A, B) calls B's visitors from 20 on: had the remote visitor been
        # here, A's overdue ticket would have gone first. The call passes it over.
        assert queue.call_next(s, env.c1, env.alice, now=at(20)).id == later[0].id
        assert absent.passed_at == at(20) and absent.callable_at == ABSENT
        queue.start(s, later[0].id, env.alice, now=at(20))
        assert upkeep.release_absent(s, now=at(34)) == 0  # held 15 minutes
        assert scan(s, env, absent, 34).kind == "remote"  # back within the hold
        assert queue.call_next(s, env.c1, env.alice, now=at(35)).id == absent.id


def test_the_hold_runs_out_then_the_place_is_released(db, env):
    with db.write() as s:
        absent = join(s, env, 0)
        issue(s, env, "pension-recalc", minute=16)
        queue.call_next(s, env.c1, env.alice, now=at(20))
        assert upkeep.release_absent(s, now=at(35)) == 1
        assert absent.status == "no_show"
        with pytest.raises(Conflict) as refused:
            scan(s, env, absent, 36)
        assert refused.value.code == "place_released"


def test_with_no_hold_a_scan_right_after_the_pass_is_refused(db, env):
    """absent_hold_min 0: the place is released the moment the line steps over it,
    not at the upkeep's next round."""
    with db.write() as s:
        s.get(Center, env.center_id).absent_hold_min = 0
        absent = join(s, env, 0)
        issue(s, env, "pension-recalc", minute=16)
        queue.call_next(s, env.c1, env.alice, now=at(20))
        with pytest.raises(Conflict) as refused:
            scan(s, env, absent, 20.5)
        assert refused.value.code == "place_released"


def test_a_call_out_of_order_or_a_ticket_still_ahead_passes_nobody(db, env):
    with db.write() as s:
        first = issue(s, env, minute=-5)  # A, due 10
        absent = join(s, env, 0)  # A, due 15
        late = issue(s, env, minute=1)  # A, due 16
        queue.call_ticket(s, env.c1, late.id, "returning_visitor", env.alice, now=at(2))
        assert absent.passed_at is None  # the line did not reach it
        queue.start(s, late.id, env.alice, now=at(2))
        assert queue.call_next(s, env.c1, env.alice, now=at(3)).id == first.id
        assert absent.passed_at is None  # the one called was ahead of it
        after = issue(s, env, minute=2)  # A, due 17
        queue.start(s, first.id, env.alice, now=at(3))
        assert queue.call_next(s, env.c1, env.alice, now=at(4)).id == after.id
        assert absent.passed_at == at(4)


def test_a_visitor_transferred_in_does_not_pass_the_absent_ticket_early(db, env):
    """A B visitor called at counter 2 before the remote ticket's turn, then sent to
    A's line (due 17), is behind it: nobody stepped over the remote ticket."""
    with db.write() as s:
        ahead = issue(s, env, minute=-1)  # A, due 14
        absent = join(s, env, 0)  # A, due 15
        b = issue(s, env, "pension-recalc", minute=0)  # B, due 5
        assert queue.call_next(s, env.c2, env.bob, now=at(1)).id == b.id
        queue.start(s, b.id, env.bob, now=at(1))
        queue.transfer(s, b.id, env.bob, service_code="pension-new", front=False, now=at(2))
        assert absent.passed_at is None
        assert queue.call_next(s, env.c1, env.alice, now=at(3)).id == ahead.id
        assert absent.passed_at is None


def test_a_ticket_called_anyway_then_sent_back_is_callable(db, env):
    """Called out of order before its check-in (or its slot), then transferred: the
    visitor was at the counter, so back in a queue the ticket is called, not stepped
    over until the upkeep releases it."""
    with db.write() as s:
        absent = join(s, env, 0)
        queue.call_ticket(s, env.c1, absent.id, "returning_visitor", env.alice, now=at(1))
        queue.start(s, absent.id, env.alice, now=at(1))
        queue.transfer(s, absent.id, env.alice, service_code="pension-recalc", now=at(2))
        assert absent.callable_at is None
        assert queue.call_next(s, env.c2, env.bob, now=at(3)).id == absent.id
        queue.start(s, absent.id, env.bob, now=at(3))

        booked = book(s, env.center_id, at(60), code="EARLY7")
        early = checkin.check_in(s, env.center_code, "EARLY7", env.kiosk, now=at(31)).issued.ticket
        assert early.callable_at == at(58)
        queue.call_ticket(s, env.c1, early.id, "appointment", env.alice, now=at(32))
        queue.start(s, early.id, env.alice, now=at(32))
        queue.transfer(
            s, early.id, env.alice, service_code="pension-recalc", front=True, now=at(33)
        )
        assert early.callable_at is None
        assert queue.call_next(s, env.c2, env.bob, now=at(34)).id == early.id
        assert booked.state == "checked_in"


def test_an_early_booking_is_not_told_a_wait_shorter_than_its_slot(db, env):
    with db.write() as s:
        queue.set_counter_state(s, env.c1, "open", env.alice, now=at(0))
        book(s, env.center_id, at(30), code="KLM234")
        done = checkin.check_in(s, env.center_code, "KLM234", env.kiosk, now=at(0))
        # Nobody ahead: the formula alone said a few minutes; it is called at 28.
        assert done.issued.promised.estimated_wait_s == 28 * 60
        ticket = done.issued.ticket
        assert estimate(s, ticket, now=at(0)).estimated_wait_s == 28 * 60
        assert estimate(s, ticket, now=at(20)).estimated_wait_s == 8 * 60
        phones = estimates_for(s, [ticket.tracking_token], now=at(10))
        assert phones[ticket.tracking_token].estimated_wait_s == 18 * 60
        # Once callable, the queue's own estimate again.
        walk_in = issue(s, env, minute=0)
        assert estimate(s, walk_in, now=at(0)).estimated_wait_s < 10 * 60


def test_a_booking_of_another_day_is_not_checked_in(db, env):
    with db.write() as s:
        svc = service(s, env.center_id, "pension-new")
        svc.checkin_early_min, svc.late_grace_min = 1000, 1440
        tomorrow = book(s, env.center_id, at(-60 + 24 * 60), code="TMRW23")  # 09:00
        with pytest.raises(Conflict) as refused:
            checkin.check_in(s, env.center_code, "TMRW23", env.kiosk, now=at(7 * 60))  # 17:00
        # Not the evening before (the ticket would expire at today's close): from the
        # slot's own day, local midnight.
        assert refused.value.code == "too_early"
        midnight = at(-10 * 60 + 24 * 60)
        assert refused.value.details["opens_at"] == midnight.isoformat().replace("+00:00", "Z")
        assert tomorrow.state == "booked"
        yesterday = book(s, env.center_id, at(7.5 * 60 - 24 * 60), code="YCTRP4")  # 17:30
        for code in ("YCTRP4",):
            with pytest.raises(Conflict) as refused:
                checkin.check_in(s, env.center_code, code, env.kiosk, now=at(-30))  # 09:30
            assert refused.value.code == "appointment_no_show"
        assert yesterday.state == "booked" and yesterday.ticket_id is None


def test_an_outside_ticket_whose_turn_came_may_come_in_to_a_full_hall(db, env):
    with db.write() as s:
        s.get(Center, env.center_id).hall_capacity = 1
        first = issue(s, env, minute=0)
        svc = service(s, env.center_id, "pension-new")
        svc.default_service_min = 60  # every wait here is long
        outside = [issue(s, env, minute=m) for m in (1, 2)]
        assert [t.kind for t in outside] == ["outside", "outside"]
        assert not come_in(s, outside[0], at(3)).allowed
        later = issue(s, env, "pension-recalc", minute=11.5)  # B, due 16.5
        # The hall is still full (the first visitor); counter 1 steps over the first
        # outside ticket (A, overdue at 17) to call B: its turn has come.
        queue.call_ticket(s, env.c2, first.id, "other", env.bob, now=at(3))
        queue.start(s, first.id, env.bob, now=at(3))  # at counter 2 till the end
        assert queue.call_next(s, env.c1, env.alice, now=at(18)).id == later.id
        assert outside[0].passed_at == at(18) and outside[1].passed_at is None
        admission = come_in(s, outside[0], at(19))
        assert admission.allowed and admission.hall.full
        assert admission.estimated_wait_s > 600
        assert scan(s, env, outside[0], 19).kind == "outside"
        assert not come_in(s, outside[1], at(19)).allowed
        assert outside[1].callable_at == ABSENT


def test_a_full_hall_lets_a_short_wait_in_at_once(db, env):
    with db.write() as s:
        s.get(Center, env.center_id).hall_capacity = 1
        queue.set_counter_state(s, env.c1, "open", env.alice, now=at(0))
        first = issue(s, env, minute=0)
        second = issue(s, env, minute=1)
        # Full, but its wait is 10 minutes or less: told "wait outside" and "come in
        # now" at once was the other way; it is an ordinary walk-in.
        assert estimate(s, second, now=at(1)).estimated_wait_s <= 600
        assert (first.kind, second.kind) == ("walk_in", "walk_in")
        assert second.callable_at is None
        svc = service(s, env.center_id, "pension-new")
        svc.default_service_min = 30
        third = issue(s, env, minute=2)
        assert (third.kind, third.callable_at) == ("outside", ABSENT)
        assert timedelta(seconds=third.promised_wait_s) > timedelta(minutes=10)


def test_the_absent_tickets_a_call_looks_at_come_from_their_small_index(db, env):
    """The statement call-next sends (not a hand-written one), as each database plans
    it: SQLite searches ix_tickets_absent; PostgreSQL, told to avoid a sequential scan
    (its test tables are too small to prefer an index), can use it. A call must not
    scan the waiting tickets for the few absent ones."""
    from sqlalchemy import event, insert, select, text

    sent: list[tuple[str, object]] = []

    def seen(_conn, _cursor, statement, parameters, *_args) -> None:
        sent.append((statement, parameters))

    with db.write() as s:
        join(s, env, 0)
        walk_in = issue(s, env, "pension-recalc", minute=16)
        # A long line of visitors in the hall, as the planner should expect.
        table = Ticket.__table__
        template = dict(s.execute(select(table).where(table.c.id == walk_in.id)).mappings().one())
        del template["id"]
        s.execute(
            insert(table),
            [
                {
                    **template,
                    "number": 100 + i,
                    "tracking_token": f"line-{i:020d}",
                    "due_at": at(i / 100),
                }
                for i in range(3000)
            ],
        )
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("ANALYZE tickets"))
        engine = s.get_bind()
        event.listen(engine, "before_cursor_execute", seen)
        try:
            queue.call_next(s, env.c1, env.alice, now=at(20))
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        statement, parameters = next((q, p) for q, p in sent if "passed_at IS NULL" in q)
        connection = s.connection()
        if connection.dialect.name == "sqlite":
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            detail = " ".join(str(row[-1]) for row in plan.all())
            assert "ix_tickets_absent" in detail, detail
        else:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
            detail = " ".join(row[0] for row in plan.all())
            assert "ix_tickets_absent" in detail, detail
