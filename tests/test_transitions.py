"""Every transition of a ticket, the refused ones, the audit log and the recorded times.

Engine level: the server.queue functions on sessions of the ``db`` fixture, with
explicit ``now=`` instants (the default center is in Asia/Baku, UTC+4, open 09-18).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from server import queue
from server.errors import Conflict, InvalidInput, NotFound
from server.models import (
    LANE_FRONT,
    LANE_NORMAL,
    LANE_PRIORITY,
    Counter,
    Service,
    Ticket,
    TicketEvent,
)

from . import factories
from .engine_helpers import Env, at, event_count, events, issue, make_env


@pytest.fixture
def env(db) -> Env:
    with db.write() as s:
        return make_env(s)


def bring_to(s, env: Env, status: str) -> Ticket:
    """A fresh pension-new ticket moved to ``status`` through the engine."""
    ticket = issue(s, env)
    if status == "waiting":
        return ticket
    if status == "cancelled":
        return queue.cancel(s, ticket.id, env.alice, now=at(1))
    if status == "expired":
        queue.expire_after_closing(s, s.get(Counter, env.c1).center, now=at(9 * 60))
        return s.get(Ticket, ticket.id)
    assert queue.call_next(s, env.c1, env.alice, now=at(2)).id == ticket.id
    if status == "called":
        return ticket
    if status == "no_show":
        queue.recall(s, ticket.id, env.alice, now=at(3))
        return queue.no_show(s, ticket.id, env.alice, now=at(4))
    queue.start(s, ticket.id, env.alice, now=at(3))
    if status == "serving":
        return ticket
    if status == "done":
        return queue.complete(s, ticket.id, env.alice, now=at(10))
    if status == "parked":
        return queue.park(s, ticket.id, env.alice, now=at(5))
    raise AssertionError(status)


# --- recall and no-show ---------------------------------------------------------------


def test_recall_counts_and_re_announces(db, env):
    with db.write() as s:
        ticket = issue(s, env)
        queue.call_next(s, env.c1, env.alice, now=at(1))
        queue.recall(s, ticket.id, env.alice, now=at(2))
        queue.recall(s, ticket.id, env.bob, now=at(3))
    with db.read() as s:
        ticket = s.get(Ticket, ticket.id)
        assert ticket.status == "called"
        assert ticket.recall_count == 2
        assert ticket.called_at == at(1)  # the first call
        assert ticket.last_called_at == at(3)
        recalls = [e for e in events(s, ticket.id) if e.action == "recall"]
        assert [(e.from_status, e.to_status, e.counter_id) for e in recalls] == [
            ("called", "called", env.c1),
            ("called", "called", env.c1),
        ]
        assert [e.staff_id for e in recalls] == [env.alice.id, env.bob.id]
        assert [e.details["recall_count"] for e in recalls] == [1, 2]


def test_no_show_needs_the_configured_recalls_first(db, env):
    with db.write() as s:
        ticket = issue(s, env)
        queue.call_next(s, env.c1, env.alice, now=at(1))
    # recalls_before_no_show is 1 in the test center: not before one recall
    with pytest.raises(Conflict) as refused, db.write() as s:
        queue.no_show(s, ticket.id, env.alice, now=at(2))
    assert refused.value.code == "recall_first"
    assert refused.value.details == {"recalls": 0, "required": 1}
    with db.write() as s:
        assert s.get(Ticket, ticket.id).status == "called"
        queue.recall(s, ticket.id, env.alice, now=at(3))
        queue.no_show(s, ticket.id, env.alice, now=at(4))
    with db.read() as s:
        ticket = s.get(Ticket, ticket.id)
        assert ticket.status == "no_show"
        assert ticket.ended_at == at(4)
        last = events(s, ticket.id)[-1]
        assert (last.action, last.from_status, last.to_status, last.counter_id) == (
            "no_show",
            "called",
            "no_show",
            env.c1,
        )


@pytest.mark.parametrize("required", [0, 3])
def test_no_show_follows_the_centers_recall_setting(db, required):
    with db.write() as s:
        env = make_env(s, "baku-2", recalls_before_no_show=required)
        ticket = issue(s, env)
        queue.call_next(s, env.c1, env.alice, now=at(1))
    for n in range(required):
        with pytest.raises(Conflict, match="recall") as refused, db.write() as s:
            queue.no_show(s, ticket.id, env.alice, now=at(2 + n))
        assert refused.value.details == {"recalls": n, "required": required}
        with db.write() as s:
            queue.recall(s, ticket.id, env.alice, now=at(2 + n))
    with db.write() as s:
        assert queue.no_show(s, ticket.id, env.alice, now=at(10)).status == "no_show"


def test_a_new_call_resets_the_recall_count(db, env):
    """Recalls at one counter do not let the next counter mark no-show at once."""
    with db.write() as s:
        ticket = issue(s, env)
        queue.call_next(s, env.c1, env.alice, now=at(1))
        queue.recall(s, ticket.id, env.alice, now=at(2))
        queue.transfer(s, ticket.id, env.alice, service_code="pension-recalc", now=at(3))
        assert ticket.recall_count == 0
        assert queue.call_next(s, env.c2, env.bob, now=at(4)).id == ticket.id
    with pytest.raises(Conflict) as refused, db.write() as s:
        queue.no_show(s, ticket.id, env.bob, now=at(5))
    assert refused.value.code == "recall_first"


# --- start, complete, cancel -----------------------------------------------------------


def test_start_and_complete_record_the_times(db, env):
    with db.write() as s:
        ticket_id = issue(s, env, minute=0).id
        queue.call_next(s, env.c1, env.alice, now=at(7))
        queue.start(s, ticket_id, env.alice, now=at(8))
    with db.read() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket.status == "serving"
        assert (ticket.issued_at, ticket.called_at, ticket.started_at) == (at(0), at(7), at(8))
        assert ticket.ended_at is None
        assert ticket.staff_id == env.alice.id
    with db.write() as s:
        queue.complete(s, ticket_id, env.alice, now=at(20))
    with db.read() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket.status == "done"
        assert (ticket.issued_at, ticket.called_at, ticket.last_called_at) == (at(0), at(7), at(7))
        assert (ticket.started_at, ticket.ended_at) == (at(8), at(20))
        # waiting, walking and service time can be told apart
        assert ticket.called_at - ticket.issued_at == timedelta(minutes=7)
        assert ticket.started_at - ticket.called_at == timedelta(minutes=1)
        assert ticket.ended_at - ticket.started_at == timedelta(minutes=12)


@pytest.mark.parametrize("status", ["waiting", "parked"])
def test_cancel_from_waiting_and_parked(db, env, status):
    with db.write() as s:
        ticket = bring_to(s, env, status)
        queue.cancel(s, ticket.id, env.alice, reason="visitor left", now=at(30))
    with db.read() as s:
        ticket = s.get(Ticket, ticket.id)
        assert ticket.status == "cancelled"
        assert ticket.ended_at == at(30)
        last = events(s, ticket.id)[-1]
        assert (last.action, last.from_status, last.to_status, last.reason) == (
            "cancel",
            status,
            "cancelled",
            "visitor left",
        )
        assert last.staff_id == env.alice.id
    with db.write() as s:  # a cancelled ticket is never called
        assert queue.call_next(s, env.c1, env.alice, now=at(31)) is None


def test_cancel_reason_too_long_is_refused(db, env):
    with db.write() as s:
        ticket = issue(s, env)
    with pytest.raises(InvalidInput) as refused, db.write() as s:
        queue.cancel(s, ticket.id, env.alice, reason="x" * 65, now=at(1))
    assert refused.value.details["field"] == "reason"
    with db.read() as s:
        assert s.get(Ticket, ticket.id).status == "waiting"


# --- park and resume -------------------------------------------------------------------


def test_park_frees_the_counter_and_resume_puts_the_visitor_first_at_that_counter(db, env):
    with db.write() as s:
        parked = issue(s, env, minute=0)
        others = [issue(s, env, minute=1), issue(s, env, minute=2)]
        assert queue.call_next(s, env.c1, env.alice, now=at(4)).id == parked.id
        elderly = issue(s, env, priority="elderly", minute=4)
        queue.start(s, parked.id, env.alice, now=at(5))
        queue.park(s, parked.id, env.alice, reason="fetch passport", now=at(6))
        assert parked.status == "parked"
        assert parked.counter_id == env.c1
        assert queue.current_ticket(s, env.c1) is None  # the counter may serve others
        # parking is not "done": calling next does not complete the parked ticket
        assert queue.call_next(s, env.c1, env.alice, now=at(7)).id == elderly.id
        assert s.get(Ticket, parked.id).status == "parked"
        queue.start(s, elderly.id, env.alice, now=at(7))
        queue.resume(s, parked.id, env.alice, now=at(12))
        assert parked.status == "waiting"
        assert parked.lane == LANE_FRONT
        assert parked.target_counter_id == env.c1
        assert parked.counter_id is None
        # another counter serving the same service does not take it
        assert queue.call_next(s, env.c2, env.bob, now=at(13)).id == others[0].id
        # the counter that parked it calls it before anyone else, priority included
        issue(s, env, priority="disability", minute=13)
        assert queue.call_next(s, env.c1, env.alice, now=at(14)).id == parked.id
        assert s.get(Ticket, elderly.id).status == "done"
    with db.read() as s:
        tail = events(s, parked.id)[-3:]
        assert [(e.action, e.from_status, e.to_status, e.counter_id) for e in tail] == [
            ("park", "serving", "parked", env.c1),
            ("resume", "parked", "waiting", env.c1),
            ("call", "waiting", "called", env.c1),
        ]
        assert tail[0].reason == "fetch passport"
        ticket = s.get(Ticket, parked.id)
        assert ticket.called_at == at(4)
        assert ticket.last_called_at == at(14)
        assert ticket.started_at is None  # started again at the counter, not yet


def test_resume_to_a_named_counter(db, env):
    with db.write() as s:
        ticket = issue(s, env)
        queue.call_next(s, env.c1, env.alice, now=at(1))
        queue.start(s, ticket.id, env.alice, now=at(2))
        queue.park(s, ticket.id, env.alice, now=at(3))
        queue.resume(s, ticket.id, env.bob, counter_id=env.c2, now=at(10))
        assert ticket.target_counter_id == env.c2
        assert queue.call_next(s, env.c1, env.alice, now=at(11)) is None
        assert queue.call_next(s, env.c2, env.bob, now=at(11)).id == ticket.id


# --- transfer --------------------------------------------------------------------------


@pytest.mark.parametrize("from_status", ["called", "serving"])
def test_transfer_to_a_service_keeps_the_number_and_goes_to_the_front(db, env, from_status):
    with db.write() as s:
        ticket = issue(s, env, minute=0)  # A001
        queue.call_next(s, env.c1, env.alice, now=at(1))
        if from_status == "serving":
            queue.start(s, ticket.id, env.alice, now=at(2))
        # pension-recalc already has an overdue normal and a priority visitor
        waiting_b = issue(s, env, "pension-recalc", minute=3)
        priority_b = issue(s, env, "pension-recalc", priority="veteran", minute=4)
        queue.transfer(s, ticket.id, env.alice, service_code="pension-recalc", now=at(20))
        assert (ticket.status, ticket.display_number) == ("waiting", "A001")
        assert ticket.service.code == "pension-recalc"
        assert (ticket.lane, ticket.due_at, ticket.target_counter_id) == (LANE_FRONT, at(20), None)
        assert ticket.counter_id is None
        assert ticket.transfer_count == 1
        assert queue.position(s, ticket) == 1
        # counter 2 prefers pension-recalc: the transferred visitor comes first
        assert queue.call_next(s, env.c2, env.bob, now=at(21)).id == ticket.id
        queue.start(s, ticket.id, env.bob, now=at(22))
        assert queue.call_next(s, env.c2, env.bob, now=at(30)).id == priority_b.id
        assert s.get(Ticket, ticket.id).status == "done"
    with db.read() as s:
        ticket = s.get(Ticket, ticket.id)
        assert ticket.display_number == "A001"
        assert ticket.called_at == at(1)
        assert ticket.started_at == at(22)  # the start at the last counter
        assert ticket.counter_id == env.c2
        transfer = next(e for e in events(s, ticket.id) if e.action == "transfer")
        assert (transfer.from_status, transfer.to_status, transfer.counter_id) == (
            from_status,
            "waiting",
            env.c1,
        )
        assert transfer.details == {
            "from_service": "pension-new",
            "to_service": "pension-recalc",
            "front": True,
        }
        assert s.get(Ticket, waiting_b.id).status == "waiting"


def test_transfer_to_a_service_behind_the_queue(db, env):
    with db.write() as s:
        ticket = issue(s, env, minute=0)
        queue.call_next(s, env.c1, env.alice, now=at(1))
        queue.start(s, ticket.id, env.alice, now=at(2))
        early_b = issue(s, env, "pension-recalc", minute=29)  # due at 34
        queue.transfer(
            s, ticket.id, env.alice, service_code="pension-recalc", front=False, now=at(30)
        )
        assert (ticket.lane, ticket.target_counter_id) == (LANE_NORMAL, None)
        assert ticket.due_at == at(35)  # now + pension-recalc's 5-minute target
        late_b = issue(s, env, "pension-recalc", minute=31)  # due at 36
        assert queue.position(s, ticket) == 2
        called = []
        for minute in (32, 33, 34):
            called.append(queue.call_next(s, env.c2, env.bob, now=at(minute)).id)
            queue.start(s, called[-1], env.bob, now=at(minute))
        assert called == [early_b.id, ticket.id, late_b.id]


def test_transfer_behind_keeps_a_priority_visitor_in_the_priority_lane(db, env):
    with db.write() as s:
        ticket = issue(s, env, priority="pregnant")
        queue.call_next(s, env.c1, env.alice, now=at(1))
        queue.transfer(s, ticket.id, env.alice, service_code="job-seeker", front=False, now=at(2))
        assert (ticket.lane, ticket.due_at) == (LANE_PRIORITY, at(12))


def test_transfer_to_a_named_counter(db, env):
    with db.write() as s:
        ticket = issue(s, env, minute=0)  # pension-new: counter 3 does not serve it
        other_a = issue(s, env, minute=1)
        queue.call_next(s, env.c1, env.alice, now=at(2))
        queue.start(s, ticket.id, env.alice, now=at(3))
        # counter 3's own queues: an overdue priority visitor
        overdue_d = issue(s, env, "unemployment", priority="disability", minute=-5)
        queue.transfer(s, ticket.id, env.alice, counter_id=env.c3, now=at(15))
        assert (ticket.status, ticket.display_number) == ("waiting", "A001")
        assert ticket.service.code == "pension-new"  # same service, another counter
        assert (ticket.target_counter_id, ticket.lane) == (env.c3, LANE_FRONT)
        # counter 2 serves pension-new but does not get it
        assert queue.call_next(s, env.c2, env.bob, now=at(16)).id == other_a.id
        queue.start(s, other_a.id, env.bob, now=at(16))
        assert queue.call_next(s, env.c2, env.bob, now=at(17)) is None
        # counter 3 gets it before its own overdue priority visitor
        assert queue.call_next(s, env.c3, env.bob, now=at(18)).id == ticket.id
        assert ticket.target_counter_id is None
        assert s.get(Ticket, overdue_d.id).status == "waiting"
    with db.read() as s:
        transfer = next(e for e in events(s, ticket.id) if e.action == "transfer")
        assert (transfer.from_status, transfer.counter_id) == ("serving", env.c1)
        assert transfer.details == {"to_counter": "3"}
        assert s.get(Ticket, ticket.id).transfer_count == 1


def test_transfer_needs_exactly_one_destination(db, env):
    with db.write() as s:
        ticket = issue(s, env)
        queue.call_next(s, env.c1, env.alice, now=at(1))
    for kwargs in ({}, {"service_code": "job-seeker", "counter_id": env.c3}):
        with pytest.raises(InvalidInput), db.write() as s:
            queue.transfer(s, ticket.id, env.alice, now=at(2), **kwargs)


def test_transfer_to_an_unknown_or_inactive_service_is_refused(db, env):
    with db.write() as s:
        ticket = issue(s, env)
        queue.call_next(s, env.c1, env.alice, now=at(1))
        s.scalar(select(Service).where(Service.code == "job-seeker")).active = False
    with pytest.raises(NotFound, match="no-such-service"), db.write() as s:
        queue.transfer(s, ticket.id, env.alice, service_code="no-such-service", now=at(2))
    with pytest.raises(Conflict) as refused, db.write() as s:
        queue.transfer(s, ticket.id, env.alice, service_code="job-seeker", now=at(2))
    assert refused.value.code == "service_inactive"
    with db.read() as s:
        ticket = s.get(Ticket, ticket.id)
        assert (ticket.status, ticket.service.code, ticket.counter_id) == (
            "called",
            "pension-new",
            env.c1,
        )
        assert event_count(s, ticket.id) == 2


def test_transfer_to_a_counter_of_another_center_is_refused(db, env):
    with db.write() as s:
        other = factories.make_center(s, "baku-2")
        foreign_counter = factories.counter(s, other, "1").id
        ticket = issue(s, env)
        queue.call_next(s, env.c1, env.alice, now=at(1))
    with pytest.raises(Conflict) as refused, db.write() as s:
        queue.transfer(s, ticket.id, env.alice, counter_id=foreign_counter, now=at(2))
    assert refused.value.code == "wrong_center"
    with pytest.raises(NotFound), db.write() as s:
        queue.transfer(s, ticket.id, env.alice, counter_id=999_999, now=at(2))


# --- refused transitions ---------------------------------------------------------------

ALLOWED = {
    "recall": {"called"},
    "start": {"called"},
    "complete": {"serving"},
    "no_show": {"called"},
    "cancel": {"waiting", "parked"},
    "park": {"serving"},
    "resume": {"parked"},
    "transfer": {"called", "serving"},
}
STATUSES = ["waiting", "called", "serving", "parked", "done", "no_show", "cancelled", "expired"]


def act(s, action: str, ticket_id: int, env: Env):
    kwargs = {"now": at(600)}
    if action == "transfer":
        kwargs["service_code"] = "job-seeker"
    if action == "resume":
        kwargs["counter_id"] = env.c2
    return getattr(queue, action)(s, ticket_id, env.alice, **kwargs)


@pytest.mark.parametrize("status", STATUSES)
def test_transitions_not_allowed_from_a_state_are_refused(db, env, status):
    with db.write() as s:
        ticket = bring_to(s, env, status)
        assert ticket.status == status
        before = event_count(s, ticket.id)
    refused_actions = [action for action, allowed in ALLOWED.items() if status not in allowed]
    assert refused_actions  # every state refuses something
    for action in refused_actions:
        with pytest.raises(Conflict) as refused, db.write() as s:
            act(s, action, ticket.id, env)
        assert refused.value.code == "invalid_transition", action
        assert refused.value.status == 409
        assert f"it is {status}" in refused.value.message, action
        assert refused.value.details["status"] == status
    with db.read() as s:
        assert s.get(Ticket, ticket.id).status == status
        assert event_count(s, ticket.id) == before


@pytest.mark.parametrize(
    ("status", "action"),
    [(status, action) for action, states in ALLOWED.items() for status in sorted(states)],
)
def test_transitions_allowed_from_a_state_succeed(db, env, status, action):
    expected = {
        "recall": "called",
        "start": "serving",
        "complete": "done",
        "no_show": "no_show",
        "cancel": "cancelled",
        "park": "parked",
        "resume": "waiting",
        "transfer": "waiting",
    }[action]
    with db.write() as s:
        ticket = bring_to(s, env, status)
        if action == "no_show":
            queue.recall(s, ticket.id, env.alice, now=at(5))
        before = event_count(s, ticket.id)
        act(s, action, ticket.id, env)
    with db.read() as s:
        ticket = s.get(Ticket, ticket.id)
        assert ticket.status == expected
        assert event_count(s, ticket.id) == before + 1
        last = events(s, ticket.id)[-1]
        assert (last.action, last.from_status, last.to_status) == (action, status, expected)
        assert last.staff_id == env.alice.id


def test_calling_a_ticket_that_is_not_waiting_is_refused(db, env):
    with db.write() as s:
        ticket = bring_to(s, env, "serving")
    with pytest.raises(Conflict) as refused, db.write() as s:
        queue.call_ticket(s, env.c2, ticket.id, "other", env.bob, now=at(20))
    assert refused.value.code == "invalid_transition"
    assert "serving" in refused.value.message


# --- audit log -------------------------------------------------------------------------


def test_every_change_writes_one_event_with_who_from_to_and_counter(db, env):
    with db.write() as s:
        ticket = issue(s, env, minute=0)
        queue.call_next(s, env.c1, env.alice, now=at(1))
        queue.recall(s, ticket.id, env.alice, now=at(2))
        queue.start(s, ticket.id, env.alice, now=at(3))
        queue.park(s, ticket.id, env.alice, now=at(4))
        queue.resume(s, ticket.id, env.alice, now=at(8))
        queue.call_next(s, env.c1, env.alice, now=at(9))
        queue.start(s, ticket.id, env.alice, now=at(10))
        queue.transfer(s, ticket.id, env.alice, service_code="job-seeker", now=at(11))
        queue.call_next(s, env.c3, env.bob, now=at(12))
        queue.start(s, ticket.id, env.bob, now=at(13))
        queue.complete(s, ticket.id, env.bob, now=at(14))
    with db.read() as s:
        rows = [
            (e.action, e.from_status, e.to_status, e.counter_id, e.staff_id, e.device_id, e.at)
            for e in events(s, ticket.id)
        ]
    kiosk, alice, bob, c1, c3 = env.kiosk.id, env.alice.id, env.bob.id, env.c1, env.c3
    assert rows == [
        ("issue", None, "waiting", None, None, kiosk, at(0)),
        ("call", "waiting", "called", c1, alice, None, at(1)),
        ("recall", "called", "called", c1, alice, None, at(2)),
        ("start", "called", "serving", c1, alice, None, at(3)),
        ("park", "serving", "parked", c1, alice, None, at(4)),
        ("resume", "parked", "waiting", c1, alice, None, at(8)),
        ("call", "waiting", "called", c1, alice, None, at(9)),
        ("start", "called", "serving", c1, alice, None, at(10)),
        ("transfer", "serving", "waiting", c1, alice, None, at(11)),
        ("call", "waiting", "called", c3, bob, None, at(12)),
        ("start", "called", "serving", c3, bob, None, at(13)),
        ("complete", "serving", "done", c3, bob, None, at(14)),
    ]


def test_a_refused_change_writes_no_event(db, env):
    with db.write() as s:
        ticket = issue(s, env)
    with pytest.raises(Conflict), db.write() as s:
        queue.start(s, ticket.id, env.alice, now=at(1))
    with db.read() as s:
        assert [e.action for e in events(s, ticket.id)] == ["issue"]


def test_ticket_events_cannot_be_updated_through_the_orm(db, env):
    with db.write() as s:
        ticket = issue(s, env)
        event_id = events(s, ticket.id)[0].id
    with pytest.raises(RuntimeError, match="append-only"), db.write() as s:
        event = s.get(TicketEvent, event_id)
        event.action = "forged"
        event.to_status = "done"
        s.flush()
    with db.read() as s:
        event = s.get(TicketEvent, event_id)
        assert (event.action, event.to_status) == ("issue", "waiting")


def test_ticket_events_cannot_be_deleted_through_the_orm(db, env):
    with db.write() as s:
        ticket = issue(s, env)
        event_id = events(s, ticket.id)[0].id
    with pytest.raises(RuntimeError, match="append-only"), db.write() as s:
        s.delete(s.get(TicketEvent, event_id))
        s.flush()
    with db.read() as s:
        assert s.get(TicketEvent, event_id) is not None


def test_unknown_ticket_is_not_found(db, env):
    with pytest.raises(NotFound) as missing, db.write() as s:
        queue.start(s, 999_999, env.alice, now=at(1))
    assert missing.value.code == "ticket_not_found"
