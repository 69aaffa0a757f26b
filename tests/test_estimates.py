"""Position in line, estimated wait and the per-service queue figures.

docs/queue.md: estimated_wait = (position - 0.5) * average_service_time / open_counters,
average_service_time = mean start-to-end time of the service's last 20 completed
tickets of the past 14 days (the service's default_service_min until it has any),
open_counters = open counters serving the service (at least 1 while any serves it;
no estimate when none does). Expected values below are worked out by hand.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server import queue
from server.models import Center, Counter, Ticket, utcnow
from server.queue.loads import share_load_cache

from . import factories
from .engine_helpers import Env, at, issue, make_env


@pytest.fixture
def env(db) -> Env:
    with db.write() as s:
        return make_env(s)


def served(s, env: Env, service: str, counter_id: int, start: float, minutes: float) -> Ticket:
    """A ticket of ``service`` served at ``counter_id`` from minute ``start`` for ``minutes``;
    it was issued 5 minutes and called 2 minutes before it started."""
    ticket = issue(s, env, service, minute=start - 5)
    queue.call_ticket(s, counter_id, ticket.id, "other", env.alice, now=at(start - 2))
    queue.start(s, ticket.id, env.alice, now=at(start))
    queue.complete(s, ticket.id, env.alice, now=at(start + minutes))
    return ticket


def set_state(s, env: Env, counter_id: int, state: str, minute: float = 0) -> None:
    reason = "break" if state == "paused" else None
    queue.set_counter_state(s, counter_id, state, env.alice, reason=reason, now=at(minute))


def wait_of(s, ticket: Ticket, minute: float) -> int | None:
    return queue.estimate(s, s.get(Ticket, ticket.id), now=at(minute)).estimated_wait_s


# --- position --------------------------------------------------------------------------


def test_position_counts_the_tickets_ahead_in_the_same_queue(db, env):
    with db.write() as s:
        a1, a2, a3 = (issue(s, env, minute=m) for m in range(3))
        issue(s, env, "pension-recalc", minute=0)  # another service's queue
        assert [queue.position(s, t) for t in (a1, a2, a3)] == [1, 2, 3]
        elderly = issue(s, env, priority="elderly", minute=4)  # priority lane: ahead of all
        assert [queue.position(s, t) for t in (elderly, a1, a2, a3)] == [1, 2, 3, 4]
        queue.call_next(s, env.c1, env.alice, now=at(5))  # calls the elderly visitor
        assert queue.position(s, elderly) is None
        assert [queue.position(s, t) for t in (a1, a2, a3)] == [1, 2, 3]


def test_position_orders_by_due_time_within_a_lane(db, env):
    with db.write() as s:
        late = issue(s, env, minute=0)
        # an A ticket transferred in from B keeps its lane but gets a new due time
        moved = issue(s, env, "pension-recalc", minute=1)
        queue.call_ticket(s, env.c2, moved.id, "other", env.bob, now=at(2))
        queue.transfer(s, moved.id, env.bob, service_code="pension-new", front=False, now=at(3))
        assert moved.due_at == at(18)  # after late's (15)
        early_front = issue(s, env, "pension-recalc", minute=1)
        queue.call_ticket(s, env.c1, early_front.id, "other", env.alice, now=at(4))
        queue.transfer(s, early_front.id, env.alice, service_code="pension-new", now=at(5))
        assert [queue.position(s, t) for t in (early_front, late, moved)] == [1, 2, 3]


def send_to(s, env: Env, ticket: Ticket, counter_id: int, minute: float) -> None:
    queue.call_ticket(s, env.c2, ticket.id, "other", env.bob, now=at(minute))
    queue.transfer(s, ticket.id, env.bob, counter_id=counter_id, now=at(minute + 0.5))


def test_position_of_a_ticket_sent_to_a_counter_counts_that_counters_tickets(db, env):
    with db.write() as s:
        waiting_a = issue(s, env, minute=0)
        to_c2, first, second = (issue(s, env, minute=1) for _ in range(3))
        job = issue(s, env, "job-seeker", minute=1)
        send_to(s, env, to_c2, env.c2, 2)  # sent to another counter, earlier
        send_to(s, env, first, env.c3, 3)
        send_to(s, env, job, env.c3, 4)  # another service, same counter: counts
        send_to(s, env, second, env.c3, 5)
        assert [queue.position(s, t) for t in (first, job, second)] == [1, 2, 3]
        assert queue.position(s, to_c2) == 1
        # tickets sent to a counter do not stand in the service's own queue
        assert queue.position(s, waiting_a) == 1


def test_positions_of_many_tickets_agree_with_each_ones_position(db, env):
    """The phones' batch query gives every ticket the place position() gives it: shared
    queues by lane and due time, counters' own queues, other services left out."""
    with db.write() as s:
        normal = [issue(s, env, minute=m) for m in range(3)]
        elderly = issue(s, env, priority="elderly", minute=3)
        recalc = [issue(s, env, "pension-recalc", minute=m) for m in range(2)]
        first, job = issue(s, env, minute=4), issue(s, env, "job-seeker", minute=4)
        send_to(s, env, first, env.c3, 5)
        send_to(s, env, job, env.c3, 6)
        second = issue(s, env, minute=7)
        send_to(s, env, second, env.c3, 8)
        queue.call_next(s, env.c1, env.alice, now=at(9))  # the elderly visitor: not waiting
        tickets = [*normal, elderly, *recalc, first, job, second]
        expected = {
            t.tracking_token: (queue.position(s, t), t.service_id)
            for t in tickets
            if t.status == "waiting"
        }
        assert len(expected) == len(tickets) - 1
        assert queue.positions(s, [t.tracking_token for t in tickets]) == expected
        assert [expected[t.tracking_token][0] for t in (first, job, second)] == [1, 2, 3]
        assert [expected[t.tracking_token][0] for t in normal] == [1, 2, 3]
        only_one = queue.positions(s, [normal[2].tracking_token])
        assert only_one == {normal[2].tracking_token: (3, normal[2].service_id)}


@pytest.mark.parametrize("status", ["called", "serving", "done", "cancelled"])
def test_no_position_or_estimate_once_not_waiting(db, env, status):
    with db.write() as s:
        ticket = issue(s, env, minute=0)
        if status == "cancelled":
            queue.cancel(s, ticket.id, env.alice, now=at(1))
        else:
            queue.call_next(s, env.c1, env.alice, now=at(1))
        if status in ("serving", "done"):
            queue.start(s, ticket.id, env.alice, now=at(2))
        if status == "done":
            queue.complete(s, ticket.id, env.alice, now=at(3))
        assert ticket.status == status
        assert queue.estimate(s, ticket, now=at(4)) == queue.TicketEstimate(None, None)


# --- estimated wait --------------------------------------------------------------------


def test_estimate_uses_the_default_service_time_until_there_is_history(db, env):
    with db.write() as s:
        set_state(s, env, env.c1, "open")
        tickets = [issue(s, env, "pension-recalc", minute=m) for m in range(3)]
        # default_service_min = 5 min = 300 s; one open counter (1) serves pension-recalc
        assert [wait_of(s, t, 3) for t in tickets] == [150, 450, 750]
        assert queue.estimate(s, tickets[1], now=at(3)) == queue.TicketEstimate(2, 450)


def test_estimate_follows_a_configured_default_service_time(db):
    spec = factories.center_spec()
    spec["categories"][0]["services"][0]["default_service_min"] = 12
    with db.write() as s:
        env = make_env(s, "baku-2", categories=spec["categories"])
        set_state(s, env, env.c1, "open")
        set_state(s, env, env.c2, "open")
        ticket = [issue(s, env, minute=m) for m in range(2)][1]
        # (2 - 0.5) * 720 s / 2 counters
        assert wait_of(s, ticket, 3) == 540


def test_estimate_uses_the_mean_of_recent_service_times(db, env):
    with db.write() as s:
        served(s, env, "pension-new", env.c1, start=-120, minutes=4)
        served(s, env, "pension-new", env.c1, start=-100, minutes=8)
        served(s, env, "pension-recalc", env.c1, start=-80, minutes=30)  # another service
        # started and ended, but not completed: parked, then cancelled
        left = issue(s, env, minute=-95)
        queue.call_ticket(s, env.c2, left.id, "other", env.bob, now=at(-90))
        queue.start(s, left.id, env.bob, now=at(-90))
        queue.park(s, left.id, env.bob, now=at(-89))
        queue.cancel(s, left.id, env.bob, now=at(-50))
        assert (left.started_at, left.ended_at) == (at(-90), at(-50))
        no_show = issue(s, env, minute=-70)  # ended, but not served: not a sample
        queue.call_next(s, env.c1, env.alice, now=at(-60))
        queue.recall(s, no_show.id, env.alice, now=at(-58))
        queue.no_show(s, no_show.id, env.alice, now=at(-30))
        set_state(s, env, env.c2, "closed")
        assert s.get(Counter, env.c1).state == "open"
        tickets = [issue(s, env, minute=m) for m in range(3)]
        # mean of 4 and 8 minutes = 360 s (started -> ended, not called or issued);
        # one open counter: (p - 0.5) * 360
        assert [wait_of(s, t, 5) for t in tickets] == [180, 540, 900]


def test_more_open_counters_give_a_shorter_estimate(db, env):
    with db.write() as s:
        served(s, env, "pension-new", env.c1, start=-60, minutes=6)  # 360 s; c1 now open
        tickets = [issue(s, env, minute=m) for m in range(3)]
        third = tickets[2]
        one_open = wait_of(s, third, 5)
        set_state(s, env, env.c2, "open", 5)
        two_open = wait_of(s, third, 5)
        set_state(s, env, env.c3, "open", 5)  # does not serve pension-new
        still_two = wait_of(s, third, 5)
        set_state(s, env, env.c1, "paused", 6)
        paused_one = wait_of(s, third, 6)
        set_state(s, env, env.c2, "closed", 7)
        set_state(s, env, env.c1, "closed", 7)
        none_open = wait_of(s, third, 7)
    # (3 - 0.5) * 360 = 900 s for one counter, 450 s for two
    assert (one_open, two_open, still_two, paused_one) == (900, 450, 450, 900)
    assert two_open < one_open
    # nobody open yet, but counters serve it: counted as one rather than no estimate
    assert none_open == 900


def test_only_the_last_20_completed_tickets_count(db, env):
    with db.write() as s:
        served(s, env, "pension-new", env.c1, start=-300, minutes=60)  # the 21st most recent
        for i in range(20):
            served(s, env, "pension-new", env.c1, start=-200 + 5 * i, minutes=3)
        ticket = issue(s, env, minute=0)
        # mean of the last 20 = 180 s; (1 - 0.5) * 180 / 1 open counter
        assert wait_of(s, ticket, 1) == 90


def test_only_the_past_14_days_count(db, env):
    day = 24 * 60
    with db.write() as s:
        served(s, env, "pension-new", env.c1, start=-15 * day, minutes=30)  # too old
        old_b = served(s, env, "pension-recalc", env.c1, start=-15 * day, minutes=30)
        served(s, env, "pension-new", env.c1, start=-13 * day, minutes=6)  # 360 s
        a = issue(s, env, minute=0)
        b = issue(s, env, "pension-recalc", minute=0)
        # b is due first (a 5-minute target against 15) and counter 1, the only one
        # open, serves both: b's 300 s default, then half of a's own 360 s
        assert wait_of(s, a, 1) == 300 + 180
        # pension-recalc's only sample is too old: back to its default of 300 s
        assert s.get(Ticket, old_b.id).status == "done"
        assert wait_of(s, b, 1) == 150


def test_visitors_of_other_services_on_shared_counters_count_by_their_share(db, env):
    """Counters 1 (A, B), 2 (B, A, C) and 3 (C, D) are open; call-next takes the
    earliest due head of all a counter's queues, so other services wait ahead too."""
    with db.write() as s:
        served(s, env, "pension-new", env.c1, start=-60, minutes=10)  # A: 600 s
        served(s, env, "job-seeker", env.c3, start=-30, minutes=2)  # C: 120 s
        set_state(s, env, env.c2, "open", -20)  # B and D: their 300 s default
        c1 = issue(s, env, "job-seeker", minute=0)  # due at 10 (10-minute target)
        a1 = issue(s, env, minute=1)  # due at 16
        b1 = issue(s, env, "pension-recalc", minute=2)  # due at 7
        d1 = issue(s, env, "unemployment", minute=3)  # due at 23
        a2 = issue(s, env, minute=4)  # due at 19: behind b1, c1 and a1
        # B's counters are A's own two (share 1); C has one of its two there (share 1/2);
        # D's counter 3 serves no A: not ahead. Over A's 2 open counters:
        assert wait_of(s, a2, 5) == (300 + 120 / 2 + 600 + 600 / 2) / 2
        # D's only counter also serves C, whose c1 is due first; C's other counter is 2
        assert wait_of(s, d1, 5) == 120 / 2 + 300 / 2
        assert queue.position(s, a2) == 2  # the place shown stays in its own queue

        tickets = [c1, a1, b1, d1, a2]
        each = {t.tracking_token: queue.estimate(s, t, now=at(5)) for t in tickets}
        assert queue.estimates_for(s, list(each), now=at(5)) == each  # the phones' too

        stats = stats_by_service(s, env, 5)
        # a newcomer to A: behind every visitor waiting on A's counters' services
        assert stats["pension-new"]["estimated_wait_s"] == (2 * 600 + 300 + 60 + 300) / 2


def test_no_estimate_for_a_service_no_counter_serves(db):
    with db.write() as s:
        env = make_env(
            s,
            "baku-2",
            counters=[
                {"label": "1", "services": ["pension-new", "pension-recalc"]},
                {"label": "2", "services": ["pension-recalc", "pension-new", "job-seeker"]},
                {"label": "3", "services": ["job-seeker"]},
            ],
        )
        ticket = issue(s, env, "unemployment", minute=0)
        assert queue.estimate(s, ticket, now=at(1)) == queue.TicketEstimate(1, None)


# --- queue figures ---------------------------------------------------------------------


def stats_by_service(s, env: Env, minute: float) -> dict[str, dict]:
    center = s.get(Center, env.center_id)
    stats = queue.queue_stats(s, center, now=at(minute))
    return {row["service"]: row for row in stats["services"]}


def test_queue_stats_per_service(db, env):
    with db.write() as s:
        served(s, env, "pension-new", env.c1, start=-60, minutes=10)  # 600 s, c1 open
        called = issue(s, env, minute=-30)  # at the counter: not waiting any more
        queue.call_next(s, env.c1, env.alice, now=at(-1))
        issue(s, env, minute=0)
        issue(s, env, minute=5)
        issue(s, env, priority="elderly", minute=12)
        issue(s, env, "job-seeker", minute=15)
        stats = stats_by_service(s, env, 20)
    assert called.status == "called"
    a, b, c, d = (
        stats[code] for code in ("pension-new", "pension-recalc", "job-seeker", "unemployment")
    )
    assert (a["waiting"], a["longest_wait_s"]) == (3, 20 * 60)
    # a newcomer would be 4th: (4 - 0.5) * 600 s / 1 open counter
    assert a["estimated_wait_s"] == 2100
    assert (b["waiting"], b["longest_wait_s"]) == (0, 0)
    # counter 1, the only one open, serves both services and calls the three overdue
    # pension-new visitors first: 3 * 600 s, then half of the 300 s default
    assert b["estimated_wait_s"] == 3 * 600 + 150
    assert (c["waiting"], c["longest_wait_s"]) == (1, 5 * 60)
    # nobody serving job-seeker is open, but counters 2 and 3 serve it: counted as one
    assert c["estimated_wait_s"] == 450
    assert (d["waiting"], d["longest_wait_s"]) == (0, 0)
    assert (a["prefix"], a["target_wait_min"], a["active"]) == ("A", 15, True)


def test_queue_stats_per_counter(db, env):
    with db.write() as s:
        ticket = issue(s, env, minute=0)
        queue.call_next(s, env.c1, env.alice, now=at(1))
        set_state(s, env, env.c2, "paused", 2)
        center = s.get(Center, env.center_id)
        stats = queue.queue_stats(s, center, now=at(3))
    counters = {row["label"]: row for row in stats["counters"]}
    assert stats["center"] == "baku-1"
    assert counters["1"]["state"] == "open"
    assert counters["1"]["current_ticket"] == {
        "number": ticket.display_number,
        "status": "called",
        "service": "pension-new",
    }
    assert (counters["2"]["state"], counters["2"]["pause_reason"]) == ("paused", "break")
    assert counters["2"]["current_ticket"] is None
    assert counters["3"]["state"] == "closed"
    assert sorted(counters["3"]["services"]) == ["job-seeker", "unemployment"]


def test_queue_stats_count_only_this_centers_tickets(db, env):
    with db.write() as s:
        other = make_env(s, "baku-2")
        issue(s, other, minute=0)
        issue(s, other, minute=1)
        issue(s, env, minute=5)
        stats = stats_by_service(s, env, 10)
    assert (stats["pension-new"]["waiting"], stats["pension-new"]["longest_wait_s"]) == (1, 300)


def test_estimate_matches_queue_stats_for_the_next_newcomer(db, env):
    with db.write() as s:
        served(s, env, "job-seeker", env.c3, start=-40, minutes=7)
        for m in range(4):
            issue(s, env, "job-seeker", minute=m)
        predicted = stats_by_service(s, env, 10)["job-seeker"]["estimated_wait_s"]
        newcomer = issue(s, env, "job-seeker", minute=10)
        assert wait_of(s, newcomer, 10) == predicted == round(4.5 * 420)


def test_service_loads_report_the_average_service_time(db, env):
    with db.write() as s:
        served(s, env, "pension-new", env.c1, start=-60, minutes=6)
    with db.read() as s:
        done = s.scalar(select(Ticket).where(Ticket.status == "done"))
        assert done.ended_at - done.started_at == timedelta(minutes=6)
        loads = queue.service_loads(s, [done.service], now=at(0))
        assert loads[done.service_id].average_service_s == 360


def test_position_and_estimate_with_local_time_instants(db, env):
    """The engine takes any aware datetime: Baku local time gives the same answers."""
    baku = ZoneInfo("Asia/Baku")
    with db.write() as s:
        set_state(s, env, env.c1, "open")
        tickets = [
            queue.issue_ticket(
                s, "baku-1", "pension-new", "az", None, env.kiosk, now=at(m).astimezone(baku)
            ).ticket
            for m in range(3)
        ]
        assert [queue.position(s, t) for t in tickets] == [1, 2, 3]
        local_now = at(5).astimezone(baku)
        assert [queue.estimate(s, t, now=local_now).estimated_wait_s for t in tickets] == [
            150,
            450,
            750,
        ]
        stats = queue.queue_stats(s, s.get(Center, env.center_id), now=local_now)
        row = next(r for r in stats["services"] if r["service"] == "pension-new")
        assert (row["waiting"], row["longest_wait_s"]) == (3, 300)


# --- the cache of service loads (production: ESTIMATE_CACHE_S) ------------------------


def test_cached_loads_last_until_a_visitor_is_served_or_a_counter_changes(db, env):
    cache = share_load_cache(db, max_age=3600)
    start = utcnow()

    def real(minutes: float):
        return start + timedelta(minutes=minutes)

    def serve(minutes: float, at_minute: float) -> int:
        """A pension-new visitor served at c1 for ``minutes``, ending at ``at_minute``."""
        with db.write() as s:
            ticket = queue.issue_ticket(
                s, env.center_code, "pension-new", "az", None, env.kiosk, now=real(-30)
            ).ticket
            begin = at_minute - minutes
            queue.call_ticket(s, env.c1, ticket.id, "other", env.alice, now=real(begin - 1))
            queue.start(s, ticket.id, env.alice, now=real(begin))
            queue.complete(s, ticket.id, env.alice, now=real(at_minute))
            return ticket.id

    def load():
        with db.read() as s:
            service = s.get(Ticket, first).service
            return queue.service_loads(s, [service])[service.id]

    first = serve(4, at_minute=-10)
    assert load().average_service_s == 240
    with db.write() as s:  # behind the cache's back: no change announced
        s.get(Ticket, first).started_at = real(-18)
    with db.write() as s:  # issuing changes no load: the cache stays
        queue.issue_ticket(s, env.center_code, "pension-new", "az", None, env.kiosk)
    assert load().average_service_s == 240
    with db.read() as s:  # an explicit instant never reads the cache
        service = s.get(Ticket, first).service
        assert queue.service_loads(s, [service], now=real(0))[service.id].average_service_s == 480

    serve(6, at_minute=-5)  # a visitor served: recomputed, with the edit above
    assert load().average_service_s == (480 + 360) / 2
    assert load().open_counters == 1
    with db.write() as s:
        queue.set_counter_state(s, env.c2, "open", env.bob)  # c2 serves pension-new too
    assert load().open_counters == 2

    with db.write() as s:
        s.get(Ticket, first).started_at = real(-14)  # unannounced again
    assert load().average_service_s == (480 + 360) / 2
    cache.max_age = 0  # too old: recomputed
    assert load().average_service_s == (240 + 360) / 2


def test_a_change_forgets_only_the_loads_it_can_move(db, env):
    """A visitor served moves its own service's average, and nothing else; a counter
    opened moves its own center's figures. Forgetting more would make a network's
    every center recompute its loads after each visitor served anywhere."""
    cache = share_load_cache(db, max_age=3600)
    with db.write() as s:
        other = make_env(s, "ganja-1")
        queue.set_counter_state(s, env.c1, "open", env.alice)

    def service_of(env: Env, code: str) -> int:
        with db.read() as s:
            center = s.get(Center, env.center_id)
            return next(x.id for x in center.services if x.code == code)

    here, beside = service_of(env, "pension-new"), service_of(env, "job-seeker")
    there = service_of(other, "pension-new")
    with db.read() as s:
        queue.service_loads(s, [here, beside, there])
        queue.open_counters(s, env.center_id), queue.open_counters(s, other.center_id)
    assert None not in (cache.get(here), cache.get(beside), cache.get(there))

    with db.write() as s:  # a visitor called and started: no average moves yet
        ticket = issue(s, env, "pension-new")
        queue.call_ticket(s, env.c1, ticket.id, "other", env.alice)
        queue.start(s, ticket.id, env.alice)
    assert cache.get(here) is not None
    with db.write() as s:  # ... served: its service's average
        queue.complete(s, ticket.id, env.alice)
    assert cache.get(here) is None
    assert cache.get(beside) is not None and cache.get_counters(env.center_id) is not None
    assert cache.get(there) is not None and cache.get_counters(other.center_id) is not None

    with db.write() as s:  # a counter opened in the other center: that center's all
        queue.set_counter_state(s, other.c2, "open", other.bob)
    assert cache.get(there) is None and cache.get_counters(other.center_id) is None
    assert cache.get(beside) is not None and cache.get_counters(env.center_id) is not None


def test_cached_catalog_follows_catalog_and_counter_changes(db, env):
    """The live figures read the catalog from the cache; an admin change of a service or
    of a counter's services shows in the next figures."""
    from server import admin

    share_load_cache(db, max_age=3600)
    with db.write() as s:
        manager = factories.make_staff(s, "boss-catalog", "manager")

    def figures():
        with db.read() as s:
            stats = queue.queue_stats(s, s.get(Center, env.center_id))
            names = {row["service"]: row["name"]["en"] for row in stats["services"]}
            served = {row["label"]: row["services"] for row in stats["counters"]}
            return names, served

    names, served = figures()
    assert "job-seeker" not in served["1"]
    with db.write() as s:
        center = s.get(Center, env.center_id)
        service = next(x for x in center.services if x.code == "pension-new")
        name = {**service.name, "en": "Pension, first claim"}
        admin.update_service(s, manager, center, service, {"name": name})
    assert figures()[0]["pension-new"] == "Pension, first claim"
    with db.write() as s:
        center = s.get(Center, env.center_id)
        counter = s.get(Counter, env.c1)
        admin.set_counter_services(s, manager, center, counter, {"services": ["job-seeker"]})
    assert figures()[1]["1"] == ["job-seeker"]
