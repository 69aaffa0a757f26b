"""The public transparency page (/public/<center>) and its data: today's service level
and approval rate checked by hand on a seeded day, the figures per service, nothing
personal (no tracking tokens, no ticket numbers, no staff), and the live room."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from server import queue, ratings
from server.extensions import socketio
from server.models import ABSENT, Center, TicketEvent, utcnow
from server.public import fairness, public_center_json, service_level, today_figures

from . import factories
from .api_helpers import PREFIX, assert_error
from .engine_helpers import Env, at, issue, make_env
from .test_openapi import check, schema_validator, spec  # noqa: F401  (the spec fixture)

NS = "/live"


@pytest.fixture
def env(db) -> Env:
    with db.write() as s:
        return make_env(s)


def call(s, env: Env, counter: int, ticket, minute: float, *, done_at: float | None = None):
    queue.call_ticket(s, counter, ticket.id, "other", env.alice, now=at(minute))
    if done_at is not None:
        queue.start(s, ticket.id, env.alice, now=at(minute))
        queue.complete(s, ticket.id, env.alice, now=at(done_at))


@pytest.fixture
def day(db, env):
    """A seeded day at baku-1 (targets: A pension-new 15 min, B pension-recalc 5,
    C job-seeker 10), minutes after T0 (10:00 in Baku):

    | ticket | issued | called | wait | target | within |
    |--------|--------|--------|------|--------|--------|
    | A1     | 0      | 15     | 15   | 15     | yes (exactly the target) |
    | B1     | 0      | 16     | 16   | 5      | no     |
    | A2     | 1      | 17     | 16   | 15     | no     |
    | C1     | 0      | 9.5    | 9.5  | 10     | yes    |
    | C2     | 2      | -      | still waiting: not counted |
    | A3     | 3      | -      | still waiting: not counted |

    Yesterday's A ticket (called at once) and ganja-1's (called at once) do not count.
    Ratings today: A1 5, B1 2, C1 4; yesterday's ticket 1 (not today)."""
    with db.write() as s:
        yesterday = issue(s, env, "pension-new", minute=-24 * 60)
        call(s, env, env.c2, yesterday, -24 * 60 + 1, done_at=-24 * 60 + 2)
        a1 = issue(s, env, "pension-new", minute=0)
        b1 = issue(s, env, "pension-recalc", minute=0)
        c1 = issue(s, env, "job-seeker", minute=0)
        a2 = issue(s, env, "pension-new", minute=1)
        issue(s, env, "job-seeker", minute=2)
        issue(s, env, "pension-new", minute=3)
        call(s, env, env.c3, c1, 9.5, done_at=12)
        call(s, env, env.c1, a1, 15, done_at=16)
        call(s, env, env.c1, b1, 16, done_at=17)
        call(s, env, env.c1, a2, 17)
        ratings.rate_ticket(s, yesterday.tracking_token, 1, now=at(-24 * 60 + 3))
        for ticket, score in ((a1, 5), (b1, 2), (c1, 4)):
            ratings.rate_ticket(s, ticket.tracking_token, score, now=at(20))
        other = make_env(s, "ganja-1")
        late = issue(s, other, "pension-recalc", minute=0)
        queue.call_ticket(s, other.c1, late.id, "other", other.alice, now=at(30))
        tokens = [t.tracking_token for t in (yesterday, a1, b1, c1, a2, late)]
    return {"tokens": tokens, "numbers": ["A001", "A002", "A003", "B001", "C001", "C002"]}


def test_service_level_today_is_the_share_called_within_target(db, env, day):
    with db.read() as s:
        center = s.get(Center, env.center_id)
        today = queue.business_day(center, at(30))
        assert service_level(s, env.center_id, today) == (0.5, 4)
        new = next(x.id for x in center.services if x.code == "pension-new")
        assert service_level(s, env.center_id, today, service_id=new) == (0.5, 2)
        # Yesterday: one ticket, called a minute after issue.
        assert service_level(s, env.center_id, today - timedelta(days=1)) == (1.0, 1)
        assert service_level(s, env.center_id, today + timedelta(days=1)) == (None, 0)


def test_public_figures_for_today(db, env, day, spec):  # noqa: F811
    with db.read() as s:
        body = public_center_json(s, s.get(Center, env.center_id), now=at(30))
    assert body["center"]["code"] == "baku-1"
    assert body["today"] == {
        "day": "2024-03-11",
        "service_level": 0.5,
        "called": 4,
        "approval_rate": pytest.approx(2 / 3),  # 5 and 4 of 5, 2, 4 (yesterday's 1 is out)
        "ratings": 3,
        # The seeded day's four calls were all out of order ("other"); ganja-1's and
        # yesterday's are not counted.
        "fairness": {
            "calls": 4,
            "in_order": 0,
            "in_order_share": 0,
            "out_of_order": {"other": 4},
            "no_shows": 0,
        },
    }
    waiting = {row["service"]: row["waiting"] for row in body["services"]}
    assert waiting == {"pension-new": 1, "pension-recalc": 0, "job-seeker": 1, "unemployment": 0}
    assert all(row["estimated_wait_s"] is not None for row in body["services"])
    # The documented shape, which allows nothing more (additionalProperties: false).
    validator = schema_validator(spec, {"$ref": "#/components/schemas/PublicCenter"})
    assert not list(validator.iter_errors(json.loads(json.dumps(body))))


def test_fairness_counts_todays_calls_in_order_out_of_order_and_no_shows(db, env):
    """Real calls through the engine, minutes after T0 at baku-1:

    | ticket | call                                  | counts as                 |
    |--------|---------------------------------------|---------------------------|
    | A1     | call-next at counter 1, done          | in order                  |
    | A3     | out of order at 1: appointment        | out of order, appointment |
    | B1     | out of order at 2: accessibility      | out of order, accessibility |
    | C1     | out of order at 3: appointment        | out of order, appointment |
    | A2     | call-next at 2, recalled, no-show     | in order (the recall is no call), a no-show |
    | A4     | still waiting                         | nothing                   |

    Yesterday's call-next and ganja-1's out-of-order call today are not counted."""
    with db.write() as s:
        yesterday = issue(s, env, "pension-new", minute=-24 * 60)
        assert queue.call_next(s, env.c1, env.alice, now=at(-24 * 60 + 1)).id == yesterday.id
        queue.start(s, yesterday.id, env.alice, now=at(-24 * 60 + 1))
        queue.complete(s, yesterday.id, env.alice, now=at(-24 * 60 + 2))
        a1, a2, a3 = (issue(s, env, "pension-new", minute=m) for m in (0, 1, 2))
        b1 = issue(s, env, "pension-recalc", minute=3)
        c1 = issue(s, env, "job-seeker", minute=3)
        issue(s, env, "pension-new", minute=4)
        assert queue.call_next(s, env.c1, env.alice, now=at(5)).id == a1.id
        queue.start(s, a1.id, env.alice, now=at(5))
        queue.call_ticket(s, env.c1, a3.id, "appointment", env.alice, now=at(8))
        queue.call_ticket(s, env.c2, b1.id, "accessibility", env.alice, now=at(8))
        queue.call_ticket(s, env.c3, c1.id, "appointment", env.alice, now=at(9))
        queue.start(s, b1.id, env.alice, now=at(9))
        assert queue.call_next(s, env.c2, env.alice, now=at(10)).id == a2.id
        queue.recall(s, a2.id, env.alice, now=at(11))
        queue.no_show(s, a2.id, env.alice, now=at(12))
        other = make_env(s, "ganja-1")
        late = issue(s, other, "pension-recalc", minute=0)
        queue.call_ticket(s, other.c1, late.id, "supervisor_request", other.alice, now=at(6))
    with db.read() as s:
        center = s.get(Center, env.center_id)
        figures = today_figures(s, center, now=at(15))
        yesterdays = fairness(s, env.center_id, yesterday.business_day)
    assert figures["fairness"] == {
        "calls": 5,
        "in_order": 2,
        "in_order_share": 40,
        "out_of_order": {"appointment": 2, "accessibility": 1},
        "no_shows": 1,
    }
    # In the engine's order of reason codes, whatever the counts.
    assert list(figures["fairness"]["out_of_order"]) == ["appointment", "accessibility"]
    assert figures["called"] == 5  # the service level's base agrees: one call per visitor
    assert yesterdays == {
        "calls": 1,
        "in_order": 1,
        "in_order_share": 100,
        "out_of_order": {},
        "no_shows": 0,
    }


def test_fairness_share_is_rounded_down_and_none_before_the_first_call(db, env):
    with db.write() as s:
        tickets = [issue(s, env, "pension-new", minute=m) for m in range(3)]
        center = s.get(Center, env.center_id)
        day = queue.business_day(center, at(0))
        assert fairness(s, env.center_id, day)["in_order_share"] is None
        for minute, counter in ((5, env.c1), (6, env.c2)):
            queue.call_next(s, counter, env.alice, now=at(minute))
        queue.call_ticket(s, env.c3, tickets[2].id, "same_family", env.alice, now=at(7))
        # 2 of 3 is 66.7%: 66, never rounded up to look better than it is.
        assert fairness(s, env.center_id, day)["in_order_share"] == 66


def test_fairness_shows_a_reason_the_engine_does_not_know_as_other(db, env):
    """An event written before today's reason codes (or by hand) may hold any text: the
    public page gets "other", never the text."""
    with db.write() as s:
        ticket = issue(s, env, "pension-new", minute=0)
        queue.call_ticket(s, env.c1, ticket.id, "returning_visitor", env.alice, now=at(1))
        s.add(
            TicketEvent(
                ticket_id=ticket.id,
                at=at(2),
                action="call_out_of_order",
                from_status="waiting",
                to_status="called",
                reason="Mrs Aliyeva's cousin",
            )
        )
    with db.read() as s:
        body = public_center_json(s, s.get(Center, env.center_id), now=at(3))
    assert body["today"]["fairness"]["out_of_order"] == {"returning_visitor": 1, "other": 1}
    assert "Aliyeva" not in json.dumps(body)


def test_an_inactive_service_is_not_shown(client, db, env):
    with db.write() as s:
        center = s.get(Center, env.center_id)
        next(x for x in center.services if x.code == "unemployment").active = False
    body = client.get(f"{PREFIX}/public/centers/baku-1").get_json()
    assert [row["service"] for row in body["services"]] == [
        "pension-new",
        "pension-recalc",
        "job-seeker",
    ]


def assert_nothing_personal(text: str, day: dict, env: Env) -> None:
    for token in day["tokens"]:
        assert token not in text
    for number in day["numbers"]:
        assert number not in text
    for name in ("alice-baku-1", "bob-baku-1", "alice-ganja-1"):
        assert name not in text


def test_public_api_needs_no_login_is_cacheable_and_carries_nothing_personal(
    client,
    db,
    env,
    day,
    spec,  # noqa: F811
):
    r = client.get(f"{PREFIX}/public/centers/baku-1")
    assert r.status_code == 200
    body = check(spec, r, "GET", "/public/centers/{center_code}")
    assert r.headers["Cache-Control"] == "public, max-age=5"
    assert set(body) == {"center", "services", "today", "ledger", "rules", "hall", "booking", "at"}
    assert_nothing_personal(r.get_data(as_text=True), day, env)
    r = client.get(f"{PREFIX}/public/centers/nowhere")
    assert_error(r, 404, "center_not_found")
    check(spec, r, "GET", "/public/centers/{center_code}")


def test_public_api_counts_todays_calls_and_ratings(client, db, env):
    """Served through the API's clock (now): one ticket issued, called at once (within
    its target), done and rated 5."""
    now = utcnow()
    with db.write() as s:
        ticket = queue.issue_ticket(s, "baku-1", "pension-new", "az", None, env.kiosk, now=now)
        ticket = ticket.ticket
        queue.call_ticket(s, env.c1, ticket.id, "other", env.alice, now=now)
        queue.start(s, ticket.id, env.alice, now=now)
        queue.complete(s, ticket.id, env.alice, now=now)
        queue.issue_ticket(s, "baku-1", "job-seeker", "az", None, env.kiosk, now=now)
    body = client.get(f"{PREFIX}/public/centers/baku-1").get_json()
    assert (body["today"]["service_level"], body["today"]["called"]) == (1.0, 1)
    assert (body["today"]["approval_rate"], body["today"]["ratings"]) == (None, 0)
    assert {r["service"]: r["waiting"] for r in body["services"]}["job-seeker"] == 1
    r = client.post(f"{PREFIX}/tickets/{ticket.tracking_token}/rating", json={"score": 5})
    assert r.status_code == 201
    body = client.get(f"{PREFIX}/public/centers/baku-1").get_json()
    assert (body["today"]["approval_rate"], body["today"]["ratings"]) == (1.0, 1)


# --- the page ------------------------------------------------------------------------


def test_the_page_opens_without_login_in_the_asked_language(client, db, env, day):
    r = client.get("/public/baku-1?lang=ru")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert '<html lang="ru">' in html
    assert "Center baku-1 (ru)" in html
    assert "/static/display/public.js" in html
    assert_nothing_personal(html, day, env)
    r = client.get("/public/baku-1", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in r.get_data(as_text=True)


def test_an_unknown_center_page_is_a_friendly_404(client, db, env):
    r = client.get("/public/nowhere")
    assert r.status_code == 404
    html = r.get_data(as_text=True)
    assert 'data-i18n="public.unknown_center"' in html
    assert 'id="services"' not in html


# --- the live room ---------------------------------------------------------------------


def connect(app, **auth):
    return socketio.test_client(app, namespace=NS, auth=auth or None)


def received(sio, name: str) -> list:
    return [e["args"][0] for e in sio.get_received(NS) if e["name"] == name]


def test_public_live_room_gets_a_snapshot_and_only_public_stats(app, db, env):
    with db.write() as s:
        center = s.get(Center, env.center_id)
        display = factories.device_token(s, center, "hall")
    public = connect(app, public="baku-1")
    assert public.is_connected(NS)
    snapshot = received(public, "snapshot")[0]
    assert snapshot["kind"] == "public"
    assert snapshot["today"]["called"] == 0
    hall = connect(app, token=display)
    hall.get_received(NS)

    with db.write() as s:
        ticket = queue.issue_ticket(s, "baku-1", "pension-new", "az", None, env.kiosk).ticket
        queue.call_ticket(s, env.c1, ticket.id, "other", env.alice)
    events = public.get_received(NS)
    # Ticket and counter events go to the center's room, never to the public one.
    assert {e["name"] for e in events} == {"public.stats"}
    latest = events[-1]["args"][0]
    assert latest["today"]["called"] == 1
    assert {r["service"]: r["waiting"] for r in latest["services"]}["pension-new"] == 0
    text = json.dumps(events)
    assert ticket.tracking_token not in text and ticket.display_number not in text
    assert "alice" not in text
    # The display in the center's room heard the call (the same commit).
    assert "ticket.called" in {e["name"] for e in hall.get_received(NS)}


def test_public_live_room_refuses_an_unknown_center(app, db, env):
    assert not connect(app, public="nowhere").is_connected(NS)
    assert not connect(app, public=5).is_connected(NS)


def test_a_change_drops_the_shared_snapshot_of_its_own_center_only(db, env):
    """Connects share a center's public snapshot for a moment; a change to one center
    must not make every other center's public pages recompute theirs."""
    from server.realtime.public_snapshot import PublicSnapshots

    with db.write() as s:
        other = make_env(s, "ganja-1")
    snapshots = PublicSnapshots(max_age_s=3600)
    with db.read() as s:
        here = snapshots.get(s, env.center_code)[1]
        there = snapshots.get(s, other.center_code)[1]
        snapshots.forget({env.center_id})
        assert snapshots.get(s, env.center_code)[1] is not here  # computed again
        assert snapshots.get(s, other.center_code)[1] is there  # still shared
        snapshots.forget({0})  # a change that did not say its center: every one
        assert snapshots.get(s, other.center_code)[1] is not there


# --- the ordering rules, the hall and the booking link (issue 15) ----------------------------


def issue_now(s, env: Env, service: str):
    """A ticket of the center's today (the hall counts today's)."""
    return queue.issue_ticket(
        s, env.center_code, service, "az", None, env.kiosk, now=utcnow()
    ).ticket


def test_the_rules_follow_the_centers_settings_and_say_nothing_of_bookings_without_them(
    client,
    db,
    env,
    spec,  # noqa: F811
):
    r = client.get(f"{PREFIX}/public/centers/baku-1")
    body = check(spec, r, "GET", "/public/centers/{center_code}")
    assert body["rules"] == {
        "call_policy": "strict",
        "priority_ratio": 2,
        "appointments": None,
        "absent": None,
    }
    assert body["hall"] is None and body["booking"] is None


def test_bookable_services_a_capacity_and_remote_joining_are_stated(
    client,
    db,
    env,
    spec,  # noqa: F811
):
    with db.write() as s:
        center = s.get(Center, env.center_id)
        center.hall_capacity = 2
        center.absent_hold_min = 12
        center.call_policy = "ratio"
        for service in center.services:
            service.bookable = service.code in ("pension-new", "job-seeker")
            service.checkin_early_min, service.late_grace_min = 20, 5
        issue_now(s, env, "pension-new")
    r = client.get(f"{PREFIX}/public/centers/baku-1")
    body = check(spec, r, "GET", "/public/centers/{center_code}")
    assert body["rules"] == {
        "call_policy": "ratio",
        "priority_ratio": 2,
        "appointments": {
            "lead_min": 2,
            "checkin_early_min": 20,
            "late_grace_min": 5,
            "after_grace": "walk_in",
        },
        "absent": {"hold_min": 12},  # a capacity: some tickets wait outside
    }
    assert body["hall"] == {"capacity": 2, "present": 1, "full": False}
    assert body["booking"] == {"url": "/book/baku-1", "join": False}
    # Services that disagree: the page speaks generally (null), never a wrong number.
    with db.write() as s:
        center = s.get(Center, env.center_id)
        next(x for x in center.services if x.code == "job-seeker").late_grace_min = 15
        next(x for x in center.services if x.code == "job-seeker").after_grace = "refuse"
        issue_now(s, env, "job-seeker")
    body = client.get(f"{PREFIX}/public/centers/baku-1").get_json()
    appointments = body["rules"]["appointments"]
    assert (appointments["checkin_early_min"], appointments["late_grace_min"]) == (20, None)
    assert appointments["after_grace"] is None
    assert body["hall"] == {"capacity": 2, "present": 2, "full": True}
    # Joining from home alone also links the booking page, which then offers it.
    with db.write() as s:
        center = s.get(Center, env.center_id)
        center.remote_joining = True
        for service in center.services:
            service.bookable = False
            service.remote_joining = service.code == "job-seeker"
    body = client.get(f"{PREFIX}/public/centers/baku-1").get_json()
    assert body["booking"] == {"url": "/book/baku-1", "join": True}
    with db.write() as s:
        s.get(Center, env.center_id).remote_joining = False
    assert client.get(f"{PREFIX}/public/centers/baku-1").get_json()["booking"] is None


def test_an_absent_ticket_is_not_in_the_hall(client, db, env):
    with db.write() as s:
        center = s.get(Center, env.center_id)
        center.hall_capacity = 5
        ticket = issue_now(s, env, "pension-new")
        ticket.kind, ticket.callable_at = "remote", ABSENT
        issue_now(s, env, "pension-new")
    body = client.get(f"{PREFIX}/public/centers/baku-1").get_json()
    assert body["hall"] == {"capacity": 5, "present": 1, "full": False}
