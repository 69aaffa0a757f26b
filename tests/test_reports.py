"""Report and dashboard figures (server/reports/, docs/reports.md) on a seeded day with
known times, checked against values worked out by hand; the report API as JSON and
CSV; who may read them.

The day: Monday 2024-03-11 at center baku-1 (Asia/Baku, UTC+4). Minute m is 10:00
local + m (engine_helpers.at). Waits are first call - issue; service times are
end - start of completed tickets.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from server import queue, reports
from server.auth import staff_actor
from server.errors import InvalidInput
from server.models import Center, Ticket
from server.ratings import rate_ticket

from . import factories
from .api_helpers import PREFIX, SPEC, Api, add_staff, assert_error
from .engine_helpers import T0, Env, at, issue, make_env
from .test_openapi import check

DAY = T0.date()  # 2024-03-11, also the local day in Baku

# Service pension-new (A, target 15 min): (wait, service minutes or "no-show", who).
# 10 waits, for the percentile: 2 4 5 7 9 12 15 18 25 40.
A_VISITS = [
    (2, 3, "alice"),
    (4, 5, "alice"),
    (5, 4, "alice"),
    (7, 6, "alice"),
    (9, 2, "alice"),
    (12, 10, "alice"),
    (15, 8, "bob"),  # exactly the target: within it
    (18, 4, "bob"),
    (25, 6, "bob"),
    (40, "no-show", "bob"),
]
A_RATINGS = [5, 4, 3, 5, 2, 5, 4]  # of the first seven tickets (the done ones but two)


def visit(s, env: Env, service: str, counter: int, who, issued: float, wait: float, served):
    """Issue at minute ``issued``, call after ``wait`` minutes; then start a minute
    later and complete after ``served`` minutes, or recall and mark no-show."""
    ticket = issue(s, env, service, minute=issued)
    called = issued + wait
    queue.call_ticket(s, counter, ticket.id, "other", who, now=at(called))
    if served == "no-show":
        queue.recall(s, ticket.id, who, now=at(called + 1))
        queue.no_show(s, ticket.id, who, now=at(called + 2))
    elif served is not None:
        queue.start(s, ticket.id, who, now=at(called + 1))
        queue.complete(s, ticket.id, who, now=at(called + 1 + served))
    return ticket


def seed_day(s, env: Env) -> None:
    """The known day (see the module docstring and the tables above)."""
    staff = {"alice": env.alice, "bob": env.bob}
    counters = {"alice": env.c1, "bob": env.c2}
    a_tickets = [
        visit(s, env, "pension-new", counters[who], staff[who], 3 * i, wait, served)
        for i, (wait, served, who) in enumerate(A_VISITS)
    ]
    for ticket, score in zip(a_tickets, A_RATINGS, strict=False):
        rate_ticket(s, ticket.tracking_token, score, now=at(200))
    # pension-recalc (B, target 5): waits 3 (within) and 6 (not), served 5 and 7 min by
    # alice; one still waiting (a visitor, never called).
    visit(s, env, "pension-recalc", env.c1, env.alice, 60, 3, 5)
    visit(s, env, "pension-recalc", env.c1, env.alice, 70, 6, 7)
    issue(s, env, "pension-recalc", minute=100)
    # job-seeker (C, target 10), all bob's: waited 12 (over), served 5 min;
    c1 = visit(s, env, "job-seeker", env.c3, env.bob, 20, 12, 5)
    # issued for B at 30, called at 36 (waited 6), started 37, transferred to C at 40,
    # called at counter 3 at 41, started 42, completed at 50: counted under C (its
    # service now), wait 6 (the first call) within C's 10, service 8 (the last start);
    moved = issue(s, env, "pension-recalc", minute=30)
    queue.call_ticket(s, env.c2, moved.id, "other", env.bob, now=at(36))
    queue.start(s, moved.id, env.bob, now=at(37))
    queue.transfer(s, moved.id, env.bob, service_code="job-seeker", now=at(40))
    queue.call_ticket(s, env.c3, moved.id, "other", env.bob, now=at(41))
    queue.start(s, moved.id, env.bob, now=at(42))
    queue.complete(s, moved.id, env.bob, now=at(50))
    rate_ticket(s, moved.tracking_token, 1, now=at(200))
    rate_ticket(s, c1.tracking_token, 3, now=at(200))
    # and one cancelled while waiting.
    queue.cancel(s, issue(s, env, "job-seeker", minute=25).id, env.bob, now=at(45))
    # unemployment (D): issued at 00:30 local on the 11th (20:30 UTC on the 10th): this
    # day; one at 23:30 local on the 10th: the day before, not counted.
    issue(s, env, "unemployment", minute=-(9 * 60 + 30))
    issue(s, env, "unemployment", minute=-(10 * 60 + 30))


# Per service, by hand (seconds = minutes * 60):
EXPECTED_SERVICES = {
    "pension-new": {
        "visitors": 10,
        "called": 10,
        "served": 9,
        "no_shows": 1,
        "cancelled": 0,
        "transferred": 0,
        # (2+4+5+7+9+12+15+18+25+40) / 10 = 13.7 min
        "avg_wait_s": 822,
        # nearest rank: ceil(0.9 * 10) = 9th of the sorted waits = 25 min (linear
        # interpolation would say 26.5)
        "p90_wait_s": 1500,
        "called_within_target": 7,  # 2 4 5 7 9 12 15
        "service_level": 0.7,
        # (3+5+4+6+2+10+8+4+6) / 9 = 48/9 min = 320 s
        "avg_service_s": 320,
        "no_show_rate": 0.1,  # 1 / (9 served + 1 no-show)
        "ratings": 7,
        "approval_rate": 0.7143,  # 5 of 7 are 4 or 5
    },
    "pension-recalc": {
        "visitors": 3,
        "called": 2,
        "served": 2,
        "no_shows": 0,
        "transferred": 0,
        "avg_wait_s": 270,  # (3+6)/2 = 4.5 min
        "p90_wait_s": 360,  # ceil(1.8) = 2nd of 3, 6
        "called_within_target": 1,
        "service_level": 0.5,
        "avg_service_s": 360,  # (5+7)/2
        "no_show_rate": 0.0,
        "ratings": 0,
        "approval_rate": None,
    },
    "job-seeker": {
        "visitors": 3,
        "called": 2,
        "served": 2,
        "cancelled": 1,
        "transferred": 1,
        "avg_wait_s": 540,  # (12+6)/2 = 9 min
        "p90_wait_s": 720,
        "called_within_target": 1,
        "service_level": 0.5,
        "avg_service_s": 390,  # (5+8)/2 = 6.5 min
        "ratings": 2,
        "approval_rate": 0.0,
    },
    "unemployment": {
        "visitors": 1,
        "called": 0,
        "served": 0,
        "avg_wait_s": None,
        "p90_wait_s": None,
        "service_level": None,
        "avg_service_s": None,
        "no_show_rate": None,
        "approval_rate": None,
    },
}

EXPECTED_STAFF = {
    # A 2 4 5 7 9 12, B 3 6
    "alice": {
        "called": 8,
        "served": 8,
        "no_shows": 0,
        "avg_wait_s": 360,  # 48 / 8 = 6 min
        "p90_wait_s": 720,  # ceil(7.2) = 8th of 2 3 4 5 6 7 9 12
        "called_within_target": 7,  # all but B's 6
        "service_level": 0.875,
        "avg_service_s": 315,  # (30 + 5 + 7) / 8 = 5.25 min
        "no_show_rate": 0.0,
        "ratings": 6,
        "approval_rate": 0.6667,  # 5 4 3 5 2 5: four of six
    },
    # A 15 18 25 40 (no-show), C 12 and 6 (the transferred one)
    "bob": {
        "called": 6,
        "served": 5,
        "no_shows": 1,
        "transferred": 1,
        "avg_wait_s": 1160,  # 116 / 6 min
        "p90_wait_s": 2400,  # ceil(5.4) = 6th of 6 12 15 18 25 40
        "called_within_target": 2,  # A's 15 and C's 6
        "service_level": 0.3333,
        "avg_service_s": 372,  # (8 + 4 + 6 + 5 + 8) / 5 = 6.2 min
        "no_show_rate": 0.1667,
        "ratings": 3,
        "approval_rate": 0.3333,  # 4, 3, 1
    },
}

EXPECTED_CENTER = {
    "visitors": 17,
    "called": 14,
    "served": 13,
    "no_shows": 1,
    "cancelled": 1,
    "expired": 0,
    "transferred": 1,
    "avg_wait_s": 703,  # (137 + 9 + 18) / 14 min = 702.86 s
    # ceil(0.9 * 14) = 13th of 2 3 4 5 6 6 7 9 12 12 15 18 25 40
    "p90_wait_s": 1500,
    "called_within_target": 9,
    "service_level": 0.6429,
    "avg_service_s": 337,  # (48 + 12 + 13) / 13 min = 336.9 s
    "no_show_rate": 0.0714,  # 1 / 14
    "ratings": 9,
    "approval_rate": 0.5556,  # 5 of 9
}


def subset(row: dict, expected: dict) -> dict:
    return {name: row[name] for name in expected}


@pytest.fixture
def seeded(db) -> Env:
    with db.write() as s:
        env = make_env(s)
        seed_day(s, env)
        # another center's ticket on the same day
        other = make_env(s, "ganja-1")
        visit(s, other, "pension-new", other.c1, other.alice, 0, 1, 1)
    return env


def baku_report(db, date_from=DAY, date_to=DAY) -> dict:
    with db.read() as s:
        center = s.scalar(select(Center).where(Center.code == "baku-1"))
        return reports.report(s, center, date_from, date_to)


# --- the report ----------------------------------------------------------------------


def test_report_per_service_matches_the_hand_computed_figures(db, seeded):
    body = baku_report(db)
    assert (body["from"], body["to"]) == ("2024-03-11", "2024-03-11")
    rows = {row["service"]: row for row in body["services"]}
    assert list(rows) == ["pension-new", "pension-recalc", "job-seeker", "unemployment"]
    for code, expected in EXPECTED_SERVICES.items():
        assert subset(rows[code], expected) == expected, code
    assert rows["pension-new"]["target_wait_min"] == 15
    assert {row["center"] for row in body["services"]} == {"baku-1"}


def test_report_per_staff_member_and_center(db, seeded):
    body = baku_report(db)
    staff = {row["username"].split("-")[0]: row for row in body["staff"]}
    assert set(staff) == {"alice", "bob"}  # tickets never called belong to nobody
    for name, expected in EXPECTED_STAFF.items():
        assert subset(staff[name], expected) == expected, name
    (center,) = body["centers"]
    assert center["center"] == "baku-1"
    assert subset(center, EXPECTED_CENTER) == EXPECTED_CENTER


def test_report_counts_local_days_inclusively(db, seeded):
    day_before = baku_report(db, DAY - timedelta(days=1), DAY - timedelta(days=1))
    (before,) = day_before["centers"]
    assert before["visitors"] == 1  # the unemployment ticket of 23:30 local on the 10th
    assert day_before["staff"] == []
    both = baku_report(db, DAY - timedelta(days=1), DAY)["centers"][0]
    assert both["visitors"] == EXPECTED_CENTER["visitors"] + 1
    later = baku_report(db, DAY + timedelta(days=1), DAY + timedelta(days=30))["centers"][0]
    assert (later["visitors"], later["avg_wait_s"], later["service_level"]) == (0, None, None)


def test_report_over_all_centers_follows_who_asks(db, seeded):
    with db.write() as s:
        root = staff_actor(add_staff(s, "root", "admin", None))
        manager = staff_actor(add_staff(s, "maria", "manager", s.get(Center, seeded.center_id)))
    with db.read() as s:
        everyone = reports.report(s, None, DAY, DAY, actor=root)
        own = reports.report(s, None, DAY, DAY, actor=manager)
    assert [row["center"] for row in everyone["centers"]] == ["baku-1", "ganja-1"]
    ganja = everyone["centers"][1]
    assert (ganja["visitors"], ganja["avg_wait_s"], ganja["avg_service_s"]) == (1, 60, 60)
    assert len(everyone["services"]) == 8
    assert len(everyone["staff"]) == 3
    assert [row["center"] for row in own["centers"]] == ["baku-1"]
    assert {row["center"] for row in own["services"] + own["staff"]} == {"baku-1"}


def test_date_ranges_are_checked():
    assert reports.parse_day("2024-02-29", "from").isoformat() == "2024-02-29"
    for text in ("2024-02-30", "2024-3-1", "20240301", "yesterday", "", None):
        with pytest.raises(InvalidInput) as error:
            reports.parse_day(text, "to")
        assert error.value.details == {"field": "to"}
    with pytest.raises(InvalidInput) as error:
        reports.check_range(DAY, DAY - timedelta(days=1))
    assert error.value.details == {"field": "from"}
    reports.check_range(DAY, DAY + timedelta(days=365))  # 366 days: a leap year
    with pytest.raises(InvalidInput):
        reports.check_range(DAY, DAY + timedelta(days=366))


def test_csv_rows_defuse_spreadsheet_formulas():
    body = {
        "services": [
            {
                "center": "c",
                "service": "s",
                "name": {"en": "=HYPERLINK(1)"},
                "target_wait_min": 5,
                **reports.empty_figures(),
            }
        ],
        "staff": [{"center": None, "username": "@bob", **reports.empty_figures()}],
    }
    header, service, staff = reports.csv_rows(body)
    assert service[3] == "'=HYPERLINK(1)"
    assert staff[:4] == ["", "staff", "'@bob", "'@bob"]
    assert service[header.index("avg_wait_s")] == ""


# --- the dashboard ---------------------------------------------------------------------


@pytest.fixture
def busy_hour(db) -> Env:
    """10:00 to 11:00: counter 2 (bob) served A 5->16 and A 20->29, had a B no-show and
    served B 44->50; counter 1 (alice) is serving an A since 53; counter 3 opened at 45
    with nobody; three A visitors wait since 20, 40 and 55."""
    with db.write() as s:
        env = make_env(s)
        visit(s, env, "pension-new", env.c2, env.bob, -24 * 60, 5, 10)  # yesterday
        queue.set_counter_state(s, env.c2, "closed", env.bob, now=at(-23 * 60))
        visit(s, env, "pension-new", env.c2, env.bob, 0, 5, 10)
        visit(s, env, "pension-new", env.c2, env.bob, 2, 18, 8)
        visit(s, env, "pension-recalc", env.c2, env.bob, 30, 5, "no-show")
        visit(s, env, "pension-recalc", env.c2, env.bob, 41, 3, 5)
        queue.set_counter_state(s, env.c3, "open", env.bob, now=at(45))
        visit(s, env, "pension-new", env.c1, env.alice, 45, 7, None)
        queue.start(s, s.scalar(_current(env.c1)), env.alice, now=at(53))
        for minute in (20, 40, 55):
            issue(s, env, minute=minute)
    return env


def _current(counter_id: int):
    return select(Ticket.id).where(Ticket.counter_id == counter_id, Ticket.status == "called")


def board(db, env: Env, minute: float) -> dict:
    with db.read() as s:
        return reports.dashboard(s, s.get(Center, env.center_id), at(minute))


def test_dashboard_queues_and_todays_figures(db, busy_hour):
    data = board(db, busy_hour, 60)
    assert (data["center"], data["day"], data["at"]) == (
        "baku-1",
        "2024-03-11",
        "2024-03-11T07:00:00Z",
    )
    assert (data["waiting"], data["longest_wait_s"]) == (3, 40 * 60)
    services = {row["service"]: row for row in data["services"]}
    a, b = services["pension-new"], services["pension-recalc"]
    assert (a["waiting"], a["longest_wait_s"], a["over_target"]) == (3, 2400, True)
    assert (b["waiting"], b["over_target"]) == (0, False)
    # today's A: waits 5, 18, 7 (yesterday's is not today's); served 10 and 8 min
    expected_a = {
        "visitors": 6,
        "called": 3,
        "served": 2,
        "avg_wait_s": 600,
        "p90_wait_s": 1080,  # ceil(2.7) = 3rd of 5 7 18
        "service_level": 0.6667,  # 5 and 7 within 15
        "avg_service_s": 540,
    }
    assert subset(a["today"], expected_a) == expected_a
    # B: waits 5 and 3 (both within 5), one no-show, one served 5 min
    assert subset(b["today"], {"avg_wait_s": 0, "service_level": 0, "no_show_rate": 0}) == {
        "avg_wait_s": 240,
        "service_level": 1.0,
        "no_show_rate": 0.5,
    }
    # the center: 1 no-show for 3 served
    assert data["today"]["no_show_rate"] == 0.25
    assert data["today"]["served"] == 3


def test_dashboard_staff_and_counters(db, busy_hour):
    data = board(db, busy_hour, 60)
    staff = {row["username"].split("-")[0]: row for row in data["staff"]}
    # bob: 10, 8 and 5 minutes = 460 s on average; alice has not finished anyone yet
    assert (staff["bob"]["served"], staff["bob"]["avg_service_s"]) == (3, 460)
    assert (staff["alice"]["served"], staff["alice"]["avg_service_s"]) == (0, None)
    counters = {row["label"]: row for row in data["counters"]}
    one, two, three = counters["1"], counters["2"], counters["3"]
    assert one["current_ticket"]["status"] == "serving" and one["idle_s"] is None
    # counter 2: open since 10:05 (yesterday's last visitor does not count), last
    # visitor done at 10:50
    assert (two["state"], two["state_since"], two["current_ticket"]) == (
        "open",
        "2024-03-11T06:05:00Z",
        None,
    )
    assert two["idle_s"] == 10 * 60
    assert three["idle_s"] == 15 * 60  # opened at 10:45, nobody since
    with db.write() as s:
        queue.set_counter_state(
            s, busy_hour.c3, "paused", busy_hour.bob, reason="break", now=at(61)
        )
    three = {row["label"]: row for row in board(db, busy_hour, 62)["counters"]}["3"]
    assert (three["state"], three["pause_reason"], three["idle_s"]) == ("paused", "break", None)


def test_a_parked_visitor_frees_the_counter(db, busy_hour):
    with db.write() as s:
        ticket_id = s.scalar(_serving(busy_hour.c1))
        queue.park(s, ticket_id, busy_hour.alice, now=at(56))
    one = {row["label"]: row for row in board(db, busy_hour, 60)["counters"]}["1"]
    assert (one["current_ticket"], one["idle_s"]) == (None, 4 * 60)


def _serving(counter_id: int):
    return select(Ticket.id).where(Ticket.counter_id == counter_id, Ticket.status == "serving")


# --- the API ---------------------------------------------------------------------------


@pytest.fixture
def api(db, seeded) -> Api:
    """Tokens for the seeded centers (api_helpers.setup_api would make ganja-1 again)."""
    with db.write() as s:
        center = s.get(Center, seeded.center_id)
        other = s.scalar(select(Center).where(Center.code == "ganja-1"))
        add_staff(s, "alice", "staff", center)
        add_staff(s, "maria", "manager", center)
        add_staff(s, "root", "admin", None)
        add_staff(s, "oscar", "manager", other)
        tokens = {
            name: {"Authorization": f"Bearer {factories.staff_token(s, name)}"}
            for name in ("alice", "maria", "root", "oscar")
        }
        kiosk = {"Authorization": f"Bearer {factories.device_token(s, center, 'kiosk-1')}"}
    return Api(
        kiosk=kiosk,
        display={},
        staff=tokens["alice"],
        manager=tokens["maria"],
        admin=tokens["root"],
        other_staff={},
        other_manager=tokens["oscar"],
        other_kiosk={},
        other_display={},
    )


REPORT = "/centers/{center_code}/report"
URL = f"{PREFIX}/centers/baku-1/report?from=2024-03-11&to=2024-03-11"


def test_report_api_json_matches_the_engine(client, db, api):
    r = client.get(URL, headers=api.manager)
    assert r.status_code == 200
    body = check(SPEC, r, "GET", REPORT)
    assert body == baku_report(db)
    assert subset(body["centers"][0], EXPECTED_CENTER) == EXPECTED_CENTER
    r = client.get(URL, headers=api.admin)
    assert r.status_code == 200


def test_report_api_csv_matches_the_json(client, db, api):
    body = client.get(URL, headers=api.manager).get_json()
    by_param = client.get(URL + "&format=csv&lang=az", headers=api.manager)
    by_accept = client.get(URL, headers={**api.manager, "Accept": "text/csv"})
    for r in (by_param, by_accept):
        assert r.status_code == 200
        assert r.mimetype == "text/csv"
        assert r.headers["Content-Disposition"] == (
            'attachment; filename="novbe-report-baku-1-2024-03-11-2024-03-11.csv"'
        )
    rows = list(csv.DictReader(io.StringIO(by_param.get_data().decode("utf-8-sig"))))
    assert [(row["kind"], row["code"]) for row in rows] == [
        ("service", row["service"]) for row in body["services"]
    ] + [("staff", row["username"]) for row in body["staff"]]
    as_json = {row["service"]: row for row in body["services"]} | {
        row["username"]: row for row in body["staff"]
    }
    for row in rows:
        expected = as_json[row["code"]]
        for name in reports.FIGURES:
            value = expected[name]
            assert row[name] == ("" if value is None else str(value)), (row["code"], name)
    new_pension = rows[0]
    assert new_pension["name"] == "New pension (az)"
    assert (new_pension["avg_wait_s"], new_pension["p90_wait_s"]) == ("822", "1500")
    assert by_accept.get_data() != by_param.get_data()  # names in English there
    assert "New pension" in by_accept.get_data(as_text=True)


def test_report_api_refuses_bad_dates(client, api):
    base = f"{PREFIX}/centers/baku-1/report"
    for query, name in [
        ("from=2024-03-11", "to"),
        ("to=2024-03-11", "from"),
        ("from=2024-13-01&to=2024-12-01", "from"),
        ("from=2024-03-11&to=11.03.2024", "to"),
        ("from=2024-03-12&to=2024-03-11", "from"),  # from after to
        ("from=2023-01-01&to=2024-03-11", "to"),  # longer than 366 days
        ("from=2024-03-11&to=2024-03-11&format=xlsx", "format"),
        ("from=2024-03-11&to=2024-03-11&date=2024-03-11", "date"),
        ("from=2024-03-11&from=2024-03-12&to=2024-03-12", "from"),
    ]:
        r = client.get(f"{base}?{query}", headers=api.manager)
        assert_error(r, 422, "invalid_input", field=name)
        check(SPEC, r, "GET", REPORT)


def test_report_and_dashboard_are_for_managers_of_the_center(client, api):
    dashboard = f"{PREFIX}/centers/baku-1/dashboard"
    for headers in (api.staff, api.other_manager, api.kiosk):
        for url, path in ((URL, REPORT), (dashboard, "/centers/{center_code}/dashboard")):
            r = client.get(url, headers=headers)
            assert_error(r, 403, "forbidden")
            check(SPEC, r, "GET", path)
    assert_error(client.get(URL), 401, "unauthorized")
    r = client.get(
        f"{PREFIX}/centers/nowhere/report?from=2024-03-11&to=2024-03-11", headers=api.admin
    )
    assert_error(r, 404, "center_not_found")
    for headers in (api.manager, api.admin):
        r = client.get(dashboard, headers=headers)
        assert r.status_code == 200
        body = check(SPEC, r, "GET", "/centers/{center_code}/dashboard")
        assert body["center"] == "baku-1" and len(body["counters"]) == 3


def test_network_report_is_for_admins_or_the_managers_own_center(client, api):
    url = f"{PREFIX}/report?from=2024-03-11&to=2024-03-11"
    r = client.get(url, headers=api.admin)
    assert r.status_code == 200
    body = check(SPEC, r, "GET", "/report")
    assert [row["center"] for row in body["centers"]] == ["baku-1", "ganja-1"]
    r = client.get(url, headers=api.other_manager)
    assert [row["center"] for row in r.get_json()["centers"]] == ["ganja-1"]
    r = client.get(url + "&format=csv", headers=api.manager)
    assert r.headers["Content-Disposition"].endswith('"novbe-report-all-2024-03-11-2024-03-11.csv"')
    assert "ganja-1" not in r.get_data(as_text=True)
    for headers in (api.staff, api.kiosk):
        r = client.get(url, headers=headers)
        assert_error(r, 403, "forbidden")
        check(SPEC, r, "GET", "/report")
    r = client.get(f"{PREFIX}/report?from=2024-03-11", headers=api.admin)
    assert_error(r, 422, "invalid_input", field="to")
