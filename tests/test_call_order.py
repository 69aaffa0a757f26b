"""Who call-next picks: lanes, call policy, overdue tickets across services, counter
preference, targeted tickets; calling out of order; busy, empty and closed counters.

Test center (factories.center_spec): A = pension-new (target 15 min), B = pension-recalc
(5), C = job-seeker (10), D = unemployment (20). Counter 1 serves A, B; counter 2 serves
B, A, C; counter 3 serves C, D (in order of preference).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server import queue
from server.errors import Conflict, InvalidInput
from server.models import Counter, CounterEvent, Ticket, TicketEvent

from .engine_helpers import Env, at, event_count, events, issue, make_env


@pytest.fixture
def env(db) -> Env:
    with db.write() as s:
        return make_env(s)


@pytest.fixture
def ratio_env(db) -> Env:
    with db.write() as s:
        return make_env(s, call_policy="ratio", priority_ratio=2)


def call_all(s, env: Env, counter_id: int, minute: float, limit: int = 50) -> list[str]:
    """Call next (and start) until the counter's queues are empty; the numbers called."""
    numbers = []
    for i in range(limit):
        ticket = queue.call_next(s, counter_id, env.alice, now=at(minute + i))
        if ticket is None:
            return numbers
        numbers.append(ticket.display_number)
        queue.start(s, ticket.id, env.alice, now=at(minute + i))
    raise AssertionError("queue never emptied")


def next_number(s, env: Env, counter_id: int, minute: float) -> str | None:
    ticket = queue.call_next(s, counter_id, env.alice, now=at(minute))
    if ticket is None:
        return None
    queue.start(s, ticket.id, env.alice, now=at(minute))
    return ticket.display_number


# --- strict policy ---------------------------------------------------------------------


def test_strict_policy_calls_priority_visitors_first(db, env):
    with db.write() as s:
        issue(s, env, minute=0)  # A001, due 15: overdue when called
        issue(s, env, minute=1)  # A002
        issue(s, env, priority="elderly", minute=10)  # A003, due 25
        issue(s, env, "pension-recalc", priority="disability", minute=12)  # B001, due 17
        issue(s, env, "pension-recalc", minute=2)  # B002, due 7: the most overdue
        # priority first (most overdue of them first), then the others by overdue
        assert call_all(s, env, env.c1, minute=20) == ["B001", "A003", "B002", "A001", "A002"]


# --- ratio policy ----------------------------------------------------------------------


def test_ratio_policy_calls_one_priority_visitor_per_n_others(db, ratio_env):
    env = ratio_env
    with db.write() as s:
        for minute in range(6):
            issue(s, env, minute=minute)  # A001..A006, due 15..20
        issue(s, env, priority="elderly", minute=10)  # A007, due 25
        issue(s, env, priority="veteran", minute=11)  # A008, due 26
        order = call_all(s, env, env.c1, minute=12)
        assert order == ["A001", "A002", "A007", "A003", "A004", "A008", "A005", "A006"]
        assert s.get(Counter, env.c1).calls_since_priority == 2


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [
        (1, ["A001", "A004", "A002", "A005", "A003"]),
        (3, ["A001", "A002", "A003", "A004", "A005"]),
    ],
)
def test_ratio_follows_the_centers_priority_ratio(db, ratio, expected):
    with db.write() as s:
        env = make_env(s, "baku-2", call_policy="ratio", priority_ratio=ratio)
        for minute in range(3):
            issue(s, env, minute=minute)  # A001..A003
        issue(s, env, priority="pregnant", minute=10)  # A004
        issue(s, env, priority="pregnant", minute=11)  # A005
        assert call_all(s, env, env.c1, minute=12) == expected


def test_ratio_policy_calls_priority_when_no_one_else_waits(db, ratio_env):
    env = ratio_env
    with db.write() as s:
        issue(s, env, priority="elderly", minute=0)
        issue(s, env, priority="elderly", minute=1)
        assert call_all(s, env, env.c1, minute=2) == ["A001", "A002"]


def test_ratio_policy_does_not_hold_back_an_overdue_priority_visitor(db, ratio_env):
    """Aging: a priority visitor due before the next normal one goes first, even right
    after another priority visitor (when the ratio alone would call a normal one)."""
    env = ratio_env
    with db.write() as s:
        issue(s, env, priority="disability", minute=0)  # A001, due 15
        issue(s, env, priority="disability", minute=0.5)  # A002, due 15.5
        issue(s, env, minute=1)  # A003, due 16
        issue(s, env, minute=2)  # A004, due 17
        assert call_all(s, env, env.c1, minute=20) == ["A001", "A002", "A003", "A004"]


def test_ratio_aging_compares_due_times_across_services(db, ratio_env):
    env = ratio_env
    with db.write() as s:
        issue(s, env, minute=0)  # A001, due 15
        issue(s, env, "pension-recalc", priority="elderly", minute=3)  # B001, due 8
        # the ratio would call two normal visitors first, but B001 is due earlier
        assert next_number(s, env, env.c1, minute=4) == "B001"


def test_ratio_is_counted_per_counter(db, ratio_env):
    env = ratio_env
    with db.write() as s:
        for minute in range(4):
            issue(s, env, minute=minute)  # A001..A004
        issue(s, env, priority="elderly", minute=10)  # A005
        assert next_number(s, env, env.c1, 11) == "A001"
        assert next_number(s, env, env.c1, 12) == "A002"
        # counter 2 has called nobody yet: its own ratio holds the priority visitor
        assert next_number(s, env, env.c2, 12) == "A003"
        assert next_number(s, env, env.c1, 13) == "A005"


# --- overdue against the service's own target ------------------------------------------


def test_most_overdue_ticket_wins_across_services(db, env):
    with db.write() as s:
        issue(s, env, minute=0)  # A001, due 15
        issue(s, env, "pension-recalc", minute=12)  # B001, due 17
        issue(s, env, "job-seeker", minute=5)  # C001, due 15 (same as A001: arrival)
        # counter 2 prefers B, but A001 and C001 are more overdue; A001 came first
        assert call_all(s, env, env.c2, minute=20) == ["A001", "C001", "B001"]


def test_a_short_target_service_is_not_starved_by_a_long_queue(db, env):
    with db.write() as s:
        for minute in range(10):
            issue(s, env, minute=minute)  # A001..A010, due 15..24
        issue(s, env, "pension-recalc", minute=10)  # B001, due 15
        # counter 1 prefers pension-new; B001 is as overdue as A001 (arrival decides)
        # and more overdue than every other A ticket
        order = call_all(s, env, env.c1, minute=20)
        assert order[:3] == ["A001", "B001", "A002"]
        assert len(order) == 11


def test_an_overdue_ticket_beats_the_counters_preferred_service(db, env):
    with db.write() as s:
        issue(s, env, minute=0)  # A001, due 15: not overdue at 8
        issue(s, env, "pension-recalc", minute=2)  # B001, due 7: overdue at 8
        assert next_number(s, env, env.c1, minute=8) == "B001"


def test_ties_go_by_arrival(db, env):
    with db.write() as s:
        for _ in range(3):
            issue(s, env, minute=0)  # same due time
        assert call_all(s, env, env.c1, minute=1) == ["A001", "A002", "A003"]


# --- counter preference ----------------------------------------------------------------


def test_counter_preference_decides_when_nothing_is_overdue(db, env):
    with db.write() as s:
        issue(s, env, minute=0)  # A001, due 15
        issue(s, env, "pension-recalc", minute=8)  # B001, due 13
        issue(s, env, minute=1)  # A002, due 16
        issue(s, env, "pension-recalc", minute=9)  # B002, due 14
    with db.write() as s:
        # counter 2 prefers B: B tickets first even though A001 arrived first
        assert next_number(s, env, env.c2, minute=10) == "B001"
        # counter 1 prefers A: A001 though B002 is due earlier
        assert next_number(s, env, env.c1, minute=10) == "A001"
        assert next_number(s, env, env.c2, minute=11) == "B002"
        assert next_number(s, env, env.c1, minute=11) == "A002"


def test_a_counter_only_gets_the_services_it_serves(db, env):
    with db.write() as s:
        issue(s, env, "unemployment", priority="disability", minute=0)  # D001, overdue
        issue(s, env, "job-seeker", minute=1)  # C001
        assert queue.call_next(s, env.c1, env.alice, now=at(60)) is None
        assert call_all(s, env, env.c3, minute=61) == ["D001", "C001"]


def test_call_next_on_an_empty_queue_returns_none_and_changes_no_ticket(db, env):
    with db.write() as s:
        assert queue.call_next(s, env.c1, env.alice, now=at(1)) is None
        issue(s, env, "job-seeker")
        assert queue.call_next(s, env.c1, env.alice, now=at(2)) is None
    with db.read() as s:
        assert s.scalar(select(Ticket.status)) == "waiting"
        assert s.scalar(select(func.count()).select_from(TicketEvent)) == 1  # the issue


# --- targeted tickets ------------------------------------------------------------------


def test_tickets_sent_to_a_counter_come_before_its_other_queues(db, env):
    with db.write() as s:
        sent = issue(s, env, minute=0)  # A001: counter 3 does not serve pension-new
        front = issue(s, env, "job-seeker", minute=0)  # C001
        issue(s, env, "unemployment", priority="elderly", minute=0)  # D001
        assert queue.call_next(s, env.c1, env.alice, now=at(1)).id == sent.id
        queue.start(s, sent.id, env.alice, now=at(1))
        assert queue.call_next(s, env.c2, env.bob, now=at(1)).id == front.id
        queue.start(s, front.id, env.bob, now=at(1))
        # C001 goes back to the front lane of job-seeker; A001 is sent to counter 3
        queue.transfer(s, front.id, env.bob, service_code="job-seeker", now=at(2))
        queue.transfer(s, sent.id, env.alice, counter_id=env.c3, now=at(3))
        assert call_all(s, env, env.c3, minute=30) == ["A001", "C001", "D001"]


def test_tickets_sent_to_another_counter_are_not_called_here(db, env):
    with db.write() as s:
        ticket = issue(s, env, minute=0)
        assert queue.call_next(s, env.c1, env.alice, now=at(1)).id == ticket.id
        queue.transfer(s, ticket.id, env.alice, counter_id=env.c2, now=at(2))
        assert queue.call_next(s, env.c1, env.alice, now=at(3)) is None
        assert queue.call_next(s, env.c3, env.bob, now=at(3)) is None
        assert queue.call_next(s, env.c2, env.bob, now=at(4)).id == ticket.id


# --- calling out of order --------------------------------------------------------------


def test_call_a_ticket_out_of_order_with_a_reason(db, env):
    with db.write() as s:
        tickets = [issue(s, env, minute=m) for m in range(3)]
        chosen = queue.call_ticket(s, env.c1, tickets[2].id, "appointment", env.alice, now=at(5))
        assert chosen.id == tickets[2].id
        assert (chosen.status, chosen.counter_id, chosen.called_at) == ("called", env.c1, at(5))
        queue.start(s, chosen.id, env.alice, now=at(6))
        assert next_number(s, env, env.c1, minute=7) == "A001"
    with db.read() as s:
        event = events(s, tickets[2].id)[1]
        assert (event.action, event.reason, event.from_status, event.to_status) == (
            "call_out_of_order",
            "appointment",
            "waiting",
            "called",
        )
        assert (event.counter_id, event.staff_id) == (env.c1, env.alice.id)


def test_call_out_of_order_takes_a_ticket_sent_to_another_counter(db, env):
    with db.write() as s:
        ticket = issue(s, env, minute=0)
        queue.call_next(s, env.c1, env.alice, now=at(1))
        queue.transfer(s, ticket.id, env.alice, counter_id=env.c3, now=at(2))
        queue.call_ticket(s, env.c2, ticket.id, "supervisor_request", env.bob, now=at(3))
        assert (ticket.counter_id, ticket.target_counter_id) == (env.c2, None)
        assert queue.call_next(s, env.c3, env.alice, now=at(4)) is None


@pytest.mark.parametrize("reason", ["vip", "", None, "APPOINTMENT"])
def test_call_out_of_order_with_an_unknown_reason_is_refused(db, env, reason):
    with db.write() as s:
        ticket = issue(s, env)
    with pytest.raises(InvalidInput) as refused, db.write() as s:
        queue.call_ticket(s, env.c1, ticket.id, reason, env.alice, now=at(1))
    assert refused.value.details["field"] == "reason"
    assert "appointment" in refused.value.message  # says what is accepted
    with db.read() as s:
        assert s.get(Ticket, ticket.id).status == "waiting"
        assert event_count(s, ticket.id) == 1


def test_call_out_of_order_refuses_a_ticket_of_another_center(db, env):
    with db.write() as s:
        other = make_env(s, "baku-2")
        foreign = issue(s, other)
    with pytest.raises(Conflict) as refused, db.write() as s:
        queue.call_ticket(s, env.c1, foreign.id, "other", env.alice, now=at(1))
    assert refused.value.code == "wrong_center"


# --- the counter's current ticket ------------------------------------------------------


@pytest.mark.parametrize("how", ["call_next", "call_ticket"])
def test_a_counter_with_a_called_ticket_is_busy(db, env, how):
    with db.write() as s:
        first = issue(s, env, minute=0)
        second = issue(s, env, minute=1)
        queue.call_next(s, env.c1, env.alice, now=at(2))
    with pytest.raises(Conflict) as refused, db.write() as s:
        if how == "call_next":
            queue.call_next(s, env.c1, env.alice, now=at(3))
        else:
            queue.call_ticket(s, env.c1, second.id, "other", env.alice, now=at(3))
    assert refused.value.code == "counter_busy"
    assert refused.value.details == {"ticket": "A001"}
    assert "A001" in refused.value.message
    with db.read() as s:
        assert s.get(Ticket, first.id).status == "called"
        assert s.get(Ticket, second.id).status == "waiting"
    with db.write() as s:  # once started, the same press completes it and calls the next
        queue.start(s, first.id, env.alice, now=at(4))
        assert queue.call_next(s, env.c1, env.alice, now=at(5)).id == second.id


def test_call_next_completes_the_ticket_being_served(db, env):
    with db.write() as s:
        first = issue(s, env, minute=0)
        second = issue(s, env, minute=1)
        queue.call_next(s, env.c1, env.alice, now=at(2))
        queue.start(s, first.id, env.alice, now=at(3))
        assert queue.call_next(s, env.c1, env.bob, now=at(9)).id == second.id
    with db.read() as s:
        done = s.get(Ticket, first.id)
        assert (done.status, done.ended_at) == ("done", at(9))
        complete = events(s, first.id)[-1]
        assert (complete.action, complete.from_status, complete.to_status) == (
            "complete",
            "serving",
            "done",
        )
        assert (complete.counter_id, complete.staff_id, complete.at) == (env.c1, env.bob.id, at(9))


def test_call_next_with_nobody_waiting_still_completes_the_current_ticket(db, env):
    with db.write() as s:
        ticket = issue(s, env)
        queue.call_next(s, env.c1, env.alice, now=at(1))
        queue.start(s, ticket.id, env.alice, now=at(2))
        assert queue.call_next(s, env.c1, env.alice, now=at(8)) is None
        assert (ticket.status, ticket.ended_at) == ("done", at(8))
        assert queue.current_ticket(s, env.c1) is None


# --- counter state ---------------------------------------------------------------------


def counter_events(s, counter_id: int) -> list[tuple]:
    return [
        (e.from_state, e.to_state, e.reason, e.staff_id, e.at)
        for e in s.scalars(
            select(CounterEvent)
            .where(CounterEvent.counter_id == counter_id)
            .order_by(CounterEvent.id)
        )
    ]


def test_calling_opens_a_closed_counter(db, env):
    with db.write() as s:
        assert s.get(Counter, env.c1).state == "closed"  # as imported
        issue(s, env)
        queue.call_next(s, env.c1, env.alice, now=at(1))
    with db.read() as s:
        counter = s.get(Counter, env.c1)
        assert (counter.state, counter.state_since) == ("open", at(1))
        assert counter_events(s, env.c1) == [("closed", "open", None, env.alice.id, at(1))]


def test_calling_ends_a_pause(db, env):
    with db.write() as s:
        queue.set_counter_state(s, env.c2, "open", env.bob, now=at(0))
        queue.set_counter_state(s, env.c2, "paused", env.bob, reason="lunch", now=at(1))
        issue(s, env, minute=2)
        queue.call_ticket(s, env.c2, s.scalar(select(Ticket.id)), "other", env.bob, now=at(30))
    with db.read() as s:
        counter = s.get(Counter, env.c2)
        assert (counter.state, counter.pause_reason) == ("open", None)
        assert counter_events(s, env.c2) == [
            ("closed", "open", None, env.bob.id, at(0)),
            ("open", "paused", "lunch", env.bob.id, at(1)),
            ("paused", "open", None, env.bob.id, at(30)),
        ]


def test_calling_an_open_counter_writes_no_counter_event(db, env):
    with db.write() as s:
        queue.set_counter_state(s, env.c1, "open", env.alice, now=at(0))
        issue(s, env)
        queue.call_next(s, env.c1, env.alice, now=at(1))
        assert len(counter_events(s, env.c1)) == 1
