"""The estimated wait holds still when counters open (server/queue/loads.py,
OpenCounters.wait; docs/queue.md, "Estimated wait"), and the wait promised at issue is
the one the visitor is shown (Ticket.promised_wait_s, server/queue/issuing.py).

The rule: wait = min over the subsets M of the service's open counters of
(own work + sum of w_c over M) / |M|, w_c = counter c's share of the other services'
visitors ahead. The rule before it divided every open counter's share by their number,
so a counter that also serves a busy service could lengthen the wait by opening (a real
report: 42 -> 118 -> 58 minutes). ``old_wait`` below is that rule, for comparison.

Test center (factories.center_spec): A = pension-new (target 15 min), B =
pension-recalc (5), C = job-seeker (10), D = unemployment (20), all 5 minutes a visitor
until they have served any; counter 1 serves A, B; 2 serves B, A, C; 3 serves C, D.
"""

from __future__ import annotations

import itertools
import math
import random
from datetime import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from server import queue
from server.models import Center, Service, Ticket, utcnow
from server.queue.loads import OpenCounters, ServiceLoad, least_average, open_counters

from .api_helpers import PREFIX, setup_api
from .arrival_helpers import book, service
from .engine_helpers import Env, at, issue, make_env


def old_wait(counters: OpenCounters, service_id: int, ahead, loads) -> int | None:
    """The rule before: the work ahead on all of the service's open counters, each other
    service's by the share of its counters among them, over their number."""
    mine = counters.by_service.get(service_id)
    if not mine:
        return None
    work = 0.0
    for other, count in ahead.items():
        theirs = counters.by_service.get(other)
        if count and theirs and theirs & mine:
            work += count * loads[other].average_service_s * len(theirs & mine) / len(theirs)
    work += 0.5 * loads[service_id].average_service_s
    return round(work / len(mine))


def open_set(serves: list[frozenset[int]], is_open: list[bool]) -> OpenCounters:
    by_service: dict[int, set[int]] = {}
    for counter, services in enumerate(serves):
        if is_open[counter]:
            for service_id in services:
                by_service.setdefault(service_id, set()).add(counter)
    return OpenCounters({s: frozenset(c) for s, c in by_service.items()})


SERVICES = range(4)


@st.composite
def halls(draw):
    """Counters serving random services, some open; visitors ahead; service times."""
    n = draw(st.integers(1, 6))
    serves = [draw(st.frozensets(st.sampled_from(SERVICES), max_size=4)) for _ in range(n)]
    is_open = [draw(st.booleans()) for _ in range(n)]
    ahead = {s: draw(st.integers(0, 12)) for s in SERVICES}
    loads = {s: ServiceLoad(float(draw(st.integers(30, 1800))), 1, 1) for s in SERVICES}
    return serves, is_open, ahead, loads


# --- the rule, pure --------------------------------------------------------------------


@settings(max_examples=400, deadline=None, database=None)
@given(halls())
def test_opening_any_counter_never_lengthens_any_wait(hall):
    serves, is_open, ahead, loads = hall
    before = open_set(serves, is_open)
    for counter in (c for c, was in enumerate(is_open) if not was):
        after = open_set(serves, [o or c == counter for c, o in enumerate(is_open)])
        for service_id in SERVICES:
            if not before.serve(service_id):
                continue  # no counter of its open: see test_a_first_counter_may_...
            assert after.wait(service_id, ahead, loads) <= before.wait(service_id, ahead, loads)


@settings(max_examples=300, deadline=None, database=None)
@given(halls(), st.frozensets(st.sampled_from(SERVICES), min_size=1))
def test_counters_all_serving_the_same_services_keep_the_old_rule(hall, same):
    _, is_open, ahead, loads = hall
    counters = open_set([same] * len(is_open), [True] * len(is_open))
    for service_id in same:
        new, old = (
            counters.wait(service_id, ahead, loads),
            old_wait(counters, service_id, ahead, loads),
        )
        assert abs(new - old) <= 1  # the same sum, added in another order: rounding only


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.floats(0.0, 5000.0),
    st.lists(st.floats(0.0, 5000.0), min_size=1, max_size=7),
)
def test_the_greedy_finds_the_least_average_over_all_subsets(work, busy):
    best = min(
        (work + sum(chosen)) / size
        for size in range(1, len(busy) + 1)
        for chosen in itertools.combinations(busy, size)
    )
    assert math.isclose(least_average(work, busy), best, rel_tol=1e-9, abs_tol=1e-9)


def test_the_reported_jump_is_gone():
    """A with 1 counter of its own; a counter serving A and a busy C opens (C's 12
    visitors ahead, 10 minutes each, over C's 2 counters): the old rule put half of
    C's work on A's visitors and lengthened their wait."""
    loads = {s: ServiceLoad(600.0, 1, 1) for s in SERVICES}
    serves = [frozenset({0}), frozenset({0, 2}), frozenset({2})]
    ahead = {0: 3, 2: 12}
    before = open_set(serves, [True, False, True])
    after = open_set(serves, [True, True, True])
    assert old_wait(before, 0, ahead, loads) == 3.5 * 600
    assert old_wait(after, 0, ahead, loads) == (3.5 * 600 + 6 * 600) / 2  # longer
    assert before.wait(0, ahead, loads) == after.wait(0, ahead, loads) == 3.5 * 600
    # With C less busy, the new counter helps A: (2100 + 600) / 2
    assert after.wait(0, {0: 3, 2: 2}, loads) == 1350


def test_a_first_counter_may_replace_a_guess_with_a_longer_wait():
    """The one exception, documented: with no counter of the service open, its estimate
    is a guess (as if one counter served it alone, ServiceLoad.wait_for); the first to
    open, if it serves others too, gives a real and longer one."""
    loads = {s: ServiceLoad(600.0, 0, 1) for s in SERVICES}
    guess = loads[0].wait_for(1)
    counters = open_set([frozenset({0, 1})], [True])
    assert counters.wait(0, {0: 0, 1: 2}, loads) == guess + 2 * 600 > guess


# --- the rule through the engine, on both databases ----------------------------------


@pytest.fixture
def env(db) -> Env:
    with db.write() as s:
        return make_env(s)


def everything(s, env: Env, tickets: list[Ticket], minute: float) -> dict:
    """Each ticket's estimate, its phone's (estimates_for) and a newcomer's per service."""
    now = at(minute)
    mine = {t.tracking_token: queue.estimate(s, s.get(Ticket, t.id), now) for t in tickets}
    assert queue.estimates_for(s, list(mine), now=now) == mine
    stats = queue.queue_stats(s, s.get(Center, env.center_id), now=now)
    newcomers = {row["service"]: row["estimated_wait_s"] for row in stats["services"]}
    return {"tickets": {k: e.estimated_wait_s for k, e in mine.items()}, "new": newcomers}


def test_opening_a_counter_that_also_serves_a_busy_service(db, env):
    with db.write() as s:
        queue.set_counter_state(s, env.c1, "open", env.alice, now=at(-10))  # A, B
        queue.set_counter_state(s, env.c3, "open", env.bob, now=at(-10))  # C, D
        cs = [issue(s, env, "job-seeker", minute=m) for m in range(6)]  # due 10..15
        a1, a2 = issue(s, env, minute=6), issue(s, env, minute=7)  # due 21, 22
        d1 = issue(s, env, "unemployment", minute=8)  # due 28
        tickets = [*cs, a1, a2, d1]
        before = everything(s, env, tickets, 9)
        assert before["tickets"][a2.tracking_token] == 1.5 * 300  # c1 alone, A only
        assert before["new"]["pension-new"] == 2.5 * 300

        queue.set_counter_state(s, env.c2, "open", env.alice, now=at(9))  # B, A, C
        after = everything(s, env, tickets, 9)
        for key in ("tickets", "new"):
            for name, wait in after[key].items():
                assert wait <= before[key][name], (key, name)
        # The old rule: (450 + 6 * 300 / 2) / 2 = 675 for a2, (750 + 900) / 2 = 825 for a
        # newcomer to A; counter 2 is busy enough with C not to count for A.
        assert after["tickets"][a2.tracking_token] == 450
        assert after["new"]["pension-new"] == 750
        # C's visitors, due first, now have two counters
        assert [after["tickets"][t.tracking_token] for t in cs] == [
            round((k + 0.5) * 300 / 2) for k in range(6)
        ]
        # D (counter 3) is behind all of C: shares 6 * 300 over C's 2 counters, not 1
        assert after["tickets"][d1.tracking_token] < before["tickets"][d1.tracking_token]
        assert open_counters(s, env.center_id).by_service  # read afresh: no cache in tests


@pytest.mark.parametrize("seed", range(3))
def test_opening_each_closed_counter_lengthens_no_wait(db, env, seed):
    """Random queues and counter states; each closed counter opened in turn (and closed
    again): no waiting ticket's estimate, phone's estimate or newcomer's grows, for the
    services that had an open counter."""
    rng = random.Random(seed)
    codes = ["pension-new", "pension-recalc", "job-seeker", "unemployment"]
    with db.write() as s:
        counters = [env.c1, env.c2, env.c3]
        # A served once in 12 minutes, C in 2: the services' averages differ
        for code, counter, minutes in (("pension-new", env.c1, 12), ("job-seeker", env.c3, 2)):
            done = issue(s, env, code, minute=-60)
            queue.call_ticket(s, counter, done.id, "other", env.alice, now=at(-50))
            queue.start(s, done.id, env.alice, now=at(-50))
            queue.complete(s, done.id, env.alice, now=at(-50 + minutes))
        opened = [c for c in counters if rng.random() < 0.5] or [env.c1]
        for counter in counters:
            state = "open" if counter in opened else "closed"
            queue.set_counter_state(s, counter, state, env.alice, now=at(-10))
        tickets = []
        for minute in range(rng.randint(8, 20)):
            priority = "elderly" if rng.random() < 0.15 else None
            code = rng.choice(codes[:3] if minute > 2 else codes)  # D's quota: 3 a day
            tickets.append(issue(s, env, code, priority, minute=minute))
        counted = 0
        before = everything(s, env, tickets, 30)
        open_before = open_counters(s, env.center_id)
        codes_of = dict(
            s.execute(
                select(Service.code, Service.id).where(Service.center_id == env.center_id)
            ).all()
        )
        for counter in (c for c in counters if c not in opened):
            queue.set_counter_state(s, counter, "open", env.alice, now=at(30))
            after = everything(s, env, tickets, 30)
            for ticket in tickets:
                if open_before.serve(ticket.service_id):
                    key = ticket.tracking_token
                    assert after["tickets"][key] <= before["tickets"][key], ticket.display_number
                    counted += 1
            for code, wait in after["new"].items():
                if open_before.serve(codes_of[code]):
                    assert wait <= before["new"][code], code
            queue.set_counter_state(s, counter, "closed", env.alice, now=at(30))
            assert everything(s, env, tickets, 30) == before  # closing it again: as before
        assert counted or len(opened) == len(counters)


# --- the promised wait ----------------------------------------------------------------


def promised(s, token: str) -> int | None:
    return s.scalar(select(Ticket.promised_wait_s).where(Ticket.tracking_token == token))


def test_the_engine_keeps_the_estimate_of_each_new_ticket(db, env):
    with db.write() as s:
        queue.set_counter_state(s, env.c2, "open", env.alice, now=at(-10))  # A, B, C
        shown = []
        for minute, code in enumerate(["job-seeker", "pension-new", "pension-recalc"] * 3):
            ticket = issue(s, env, code, minute=minute)
            shown.append((ticket, queue.estimate(s, ticket, at(minute)).estimated_wait_s))
        for ticket, wait in shown:
            assert wait is not None and promised(s, ticket.tracking_token) == wait
        assert len({wait for _, wait in shown}) > 3  # not one number for all
        # and it stays what was promised while the estimate moves on
        queue.call_next(s, env.c2, env.alice, now=at(20))
        last, wait = shown[-1]
        assert promised(s, last.tracking_token) == wait
        assert queue.estimate(s, last, at(20)).estimated_wait_s < wait


@pytest.fixture
def api(db, center):
    api = setup_api(db, center)
    with db.write() as s:
        center = s.get(Center, center.id)
        center.remote_joining = True
        center.opens_at, center.closes_at = time(0, 0), time(23, 59, 59)  # the real time
        service(s, center.id, "pension-new").remote_joining = True
        queue.set_counter_state(s, api.counters["2"], "open", queue.SYSTEM)
    return api


def test_every_way_in_keeps_the_wait_its_response_shows(client, db, center, api):
    """A kiosk's ticket, a remote join and an appointment's check-in: the estimated wait
    in the response is the one kept with the ticket."""
    bodies = []
    for code in ("job-seeker", "pension-new", "pension-recalc", "pension-new"):
        response = client.post(
            f"{PREFIX}/centers/baku-1/tickets",
            json={"service": code, "language": "az"},
            headers=api.kiosk,
        )
        assert response.status_code == 201, response.get_json()
        bodies.append(response.get_json())
    joined = client.post(
        f"{PREFIX}/public/centers/baku-1/remote-tickets",
        json={"service": "pension-new", "language": "ru"},
    )
    assert joined.status_code == 201, joined.get_json()
    bodies.append(joined.get_json())
    with db.write() as s:
        code = book(s, center.id, utcnow()).code
    checked = client.post(
        f"{PREFIX}/centers/baku-1/check-in", json={"code": code}, headers=api.kiosk
    )
    assert checked.status_code == 201, checked.get_json()
    bodies.append(checked.get_json())
    with db.read() as s:
        kept = [promised(s, body["tracking_token"]) for body in bodies]
    assert kept == [body["estimated_wait_s"] for body in bodies]
    assert all(wait is not None for wait in kept) and len(set(kept)) > 2
