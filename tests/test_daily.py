"""End of day: tickets still waiting (or parked) when the center closes, in the center's
own time zone, become expired, with an audit event; called and serving ones stay."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from server import queue
from server.models import Center, Ticket, TicketEvent

from .engine_helpers import Env, at, event_count, events, issue, make_env

# The test center is in Asia/Baku (UTC+4) and closes at 18:00 local = 14:00 UTC.
BEFORE_CLOSING = datetime(2024, 3, 11, 13, 59, tzinfo=UTC)
AT_CLOSING = datetime(2024, 3, 11, 14, 0, tzinfo=UTC)


@pytest.fixture
def env(db) -> Env:
    with db.write() as s:
        return make_env(s)


def expire(db, env: Env, now: datetime, actor=queue.SYSTEM) -> int:
    with db.write() as s:
        return queue.expire_after_closing(s, s.get(Center, env.center_id), actor, now=now)


def statuses(db) -> dict[str, str]:
    with db.read() as s:
        return {
            f"{t.display_number}@{t.business_day}": t.status
            for t in s.scalars(select(Ticket).order_by(Ticket.id))
        }


@pytest.fixture
def day_of_tickets(db, env) -> dict[str, int]:
    """One ticket in each state, all issued this morning (10:00-10:30 Baku)."""
    with db.write() as s:
        waiting = issue(s, env, minute=0)
        priority = issue(s, env, "job-seeker", priority="elderly", minute=1)
        parked = issue(s, env, "pension-recalc", minute=2)
        called = issue(s, env, minute=3)
        serving = issue(s, env, "job-seeker", minute=4)
        done = issue(s, env, "pension-recalc", minute=5)
        cancelled = issue(s, env, "unemployment", minute=6)

        queue.call_ticket(s, env.c2, parked.id, "other", env.bob, now=at(10))
        queue.start(s, parked.id, env.bob, now=at(11))
        queue.park(s, parked.id, env.bob, now=at(12))
        queue.call_ticket(s, env.c2, done.id, "other", env.bob, now=at(13))
        queue.start(s, done.id, env.bob, now=at(14))
        queue.complete(s, done.id, env.bob, now=at(15))
        queue.call_ticket(s, env.c3, serving.id, "other", env.alice, now=at(16))
        queue.start(s, serving.id, env.alice, now=at(17))
        queue.call_ticket(s, env.c1, called.id, "other", env.alice, now=at(18))
        queue.cancel(s, cancelled.id, env.alice, now=at(19))
    return {
        "waiting": waiting.id,
        "priority": priority.id,
        "parked": parked.id,
        "called": called.id,
        "serving": serving.id,
        "done": done.id,
        "cancelled": cancelled.id,
    }


def test_nothing_expires_before_closing_time(db, env, day_of_tickets):
    before = statuses(db)
    assert expire(db, env, BEFORE_CLOSING) == 0  # 17:59 in Baku, though 13:59 in UTC
    assert statuses(db) == before


def test_waiting_and_parked_tickets_expire_at_closing_time(db, env, day_of_tickets):
    ids = day_of_tickets
    assert expire(db, env, AT_CLOSING) == 3
    with db.read() as s:
        status = {name: s.get(Ticket, tid).status for name, tid in ids.items()}
        assert status == {
            "waiting": "expired",
            "priority": "expired",
            "parked": "expired",
            "called": "called",
            "serving": "serving",
            "done": "done",
            "cancelled": "cancelled",
        }
        for name in ("waiting", "priority", "parked"):
            ticket = s.get(Ticket, ids[name])
            assert ticket.ended_at == AT_CLOSING
            last = events(s, ticket.id)[-1]
            assert (last.action, last.from_status, last.to_status, last.at) == (
                "expire",
                "waiting" if name != "parked" else "parked",
                "expired",
                AT_CLOSING,
            )
            assert (last.staff_id, last.device_id) == (None, None)  # the system did it
        assert events(s, ids["parked"])[-1].counter_id == env.c2
        # the tickets that were left alone got no event
        assert [e.action for e in events(s, ids["called"])] == ["issue", "call_out_of_order"]
        assert events(s, ids["serving"])[-1].action == "start"


def test_expiring_is_idempotent(db, env, day_of_tickets):
    assert expire(db, env, AT_CLOSING) == 3
    with db.read() as s:
        total = s.scalar(select(func.count()).select_from(TicketEvent))
    assert expire(db, env, datetime(2024, 3, 11, 14, 1, tzinfo=UTC)) == 0
    assert expire(db, env, datetime(2024, 3, 11, 19, 0, tzinfo=UTC)) == 0
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(TicketEvent)) == total


def test_expired_tickets_are_not_called_any_more(db, env, day_of_tickets):
    expire(db, env, AT_CLOSING)
    with db.write() as s:
        assert queue.call_next(s, env.c2, env.bob, now=at(8 * 60 + 5)) is None
        queue.complete(s, day_of_tickets["serving"], env.alice, now=at(8 * 60 + 5))
        assert queue.call_next(s, env.c3, env.alice, now=at(8 * 60 + 6)) is None


def test_the_actor_who_expires_is_recorded(db, env):
    with db.write() as s:
        ticket = issue(s, env)
    assert expire(db, env, AT_CLOSING, actor=env.alice) == 1
    with db.read() as s:
        assert events(s, ticket.id)[-1].staff_id == env.alice.id


def test_tickets_from_earlier_days_expire_before_closing_time(db, env):
    with db.write() as s:
        yesterday = issue(s, env, minute=-24 * 60)  # 10:00 Baku on the 10th
        late = issue(s, env, minute=-24 * 60 + 7 * 60 + 50)  # 17:50 Baku on the 10th
        today = issue(s, env, minute=-90)  # 08:30 Baku on the 11th
    assert yesterday.business_day != today.business_day
    # 09:00 in Baku on the 11th: today's center has not closed, yesterday's has
    assert expire(db, env, datetime(2024, 3, 11, 5, 0, tzinfo=UTC)) == 2
    with db.read() as s:
        assert s.get(Ticket, yesterday.id).status == "expired"
        assert s.get(Ticket, late.id).status == "expired"
        assert s.get(Ticket, today.id).status == "waiting"
        assert event_count(s, today.id) == 1


def test_a_ticket_left_after_local_midnight_expires(db, env):
    with db.write() as s:
        ticket = issue(s, env, minute=7 * 60)  # 17:00 Baku on the 11th
    # 00:30 in Baku on the 12th (still the 11th in UTC, and before 18:00 anywhere)
    assert expire(db, env, datetime(2024, 3, 11, 20, 30, tzinfo=UTC)) == 1
    with db.read() as s:
        assert s.get(Ticket, ticket.id).status == "expired"


def test_each_center_closes_in_its_own_time_zone(db, env):
    """London is UTC+0 in early March: it closes at 18:00 UTC, four hours after Baku."""
    with db.write() as s:
        london = make_env(s, "london-1", timezone="Europe/London")
        baku_ticket = issue(s, env, minute=0)
        london_ticket = issue(s, london, minute=0)
    with db.write() as s:
        assert queue.expire_all_centers(s, now=AT_CLOSING) == 1
    with db.read() as s:
        assert s.get(Ticket, baku_ticket.id).status == "expired"
        assert s.get(Ticket, london_ticket.id).status == "waiting"
    with db.write() as s:
        assert queue.expire_all_centers(s, now=datetime(2024, 3, 11, 17, 59, tzinfo=UTC)) == 0
        assert queue.expire_all_centers(s, now=datetime(2024, 3, 11, 18, 0, tzinfo=UTC)) == 1
    with db.read() as s:
        assert s.get(Ticket, london_ticket.id).status == "expired"


def test_closing_time_comes_from_the_centers_hours(db):
    with db.write() as s:
        env = make_env(s, "baku-2", hours={"open": "08:00", "close": "13:30"})
        ticket = issue(s, env, minute=0)
    # 13:29 and 13:30 in Baku
    assert expire(db, env, datetime(2024, 3, 11, 9, 29, tzinfo=UTC)) == 0
    assert expire(db, env, datetime(2024, 3, 11, 9, 30, tzinfo=UTC)) == 1
    with db.read() as s:
        assert s.get(Ticket, ticket.id).status == "expired"
