"""Managers' look into the ticket log (server/reports/tickets.py, server/api/ticket_history.py):
one ticket's history, a day's out-of-order calls with the visitors each one passed, and
each staff member's out-of-order rate in the admin staff list and the period report.

The day: Monday 2024-03-11 at baku-1 (engine_helpers.at: minute m is 10:00 local + m).
Service pension-new (A):

    min 0  A001 issued, called next by maria at min 3 (before the call: not passed)
    min 1  A002 issued, cancelled at min 4 (before the call: not passed)
    min 2  A003 issued, called next by alice at min 16 (after the call: passed)
    min 5  A004 issued, called OUT OF ORDER by alice at counter 2 at min 10, reason
           "appointment"; started at 11, completed at 15
    min 6  A005 issued (after A004: not passed)
    min 2  D001 issued (another service: not passed)

So A004's call passed exactly one visitor (A003). Calls: alice 2 (one out of order),
maria 1 (none out of order).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server import queue
from server.auth import device_actor, staff_actor
from server.models import Center, Device, StaffUser, Ticket
from server.reports import tickets as history

from .api_helpers import PREFIX, SPEC, Api, assert_error, setup_api
from .engine_helpers import T0, at
from .test_openapi import check

DAY = T0.date().isoformat()  # 2024-03-11
HISTORY = "/centers/{center_code}/tickets/history"
OUT_OF_ORDER = "/centers/{center_code}/out-of-order"


def _kiosk(s):
    center = s.scalar(select(Center).where(Center.code == "baku-1"))
    return device_actor(
        s.scalar(select(Device).where(Device.center_id == center.id, Device.kind == "kiosk"))
    )


def _issue(s, minute: float, service: str = "pension-new"):
    return queue.issue_ticket(s, "baku-1", service, "ru", None, _kiosk(s), now=at(minute)).ticket


def _actors(s) -> dict:
    return {u.username: staff_actor(u) for u in s.scalars(select(StaffUser))}


@pytest.fixture
def day(db, center) -> Api:
    """setup_api's callers, and the day of the module docstring."""
    api = setup_api(db, center)
    with db.write() as s:
        who = _actors(s)
        alice, maria = who["alice"], who["maria"]
        a1 = _issue(s, 0)
        a2 = _issue(s, 1)
        a3 = _issue(s, 2)
        _issue(s, 2, "unemployment")  # D001: another service, at counter 3 only
        called = queue.call_next(s, api.counters["1"], maria, now=at(3))
        assert called.id == a1.id
        queue.cancel(s, a2.id, alice, reason="left", now=at(4))
        a4 = _issue(s, 5)
        _issue(s, 6)  # A005
        queue.call_ticket(s, api.counters["2"], a4.id, "appointment", alice, now=at(10))
        queue.start(s, a4.id, alice, now=at(11))
        queue.complete(s, a4.id, alice, now=at(15))
        called = queue.call_next(s, api.counters["2"], alice, now=at(16))
        assert called.id == a3.id  # the head of A's queue, passed over at minute 10
    return api


def get(client, path: str, headers: dict | None, **params):
    url = f"{PREFIX}{path.format(center_code='baku-1')}"
    return client.get(url, query_string=params, headers=headers or {})


# --- one ticket's history --------------------------------------------------------------------


def test_the_history_of_a_ticket_called_out_of_order_says_why_who_and_where(client, day):
    response = get(client, HISTORY, day.manager, number="A004", day=DAY)
    body = check(SPEC, response, "GET", HISTORY)
    assert response.status_code == 200
    assert (body["number"], body["day"], body["service"]["code"]) == ("A004", DAY, "pension-new")
    assert body["service"]["name"]["en"] == "New pension"
    assert (body["status"], body["language"], body["lane"], body["counter"]) == (
        "done",
        "ru",
        "normal",
        "2",
    )
    (call,) = [e for e in body["events"] if e["action"] == "call_out_of_order"]
    assert (call["reason"], call["staff"], call["counter"]) == ("appointment", "alice", "2")
    assert (call["from_status"], call["to_status"], call["at"]) == (
        "waiting",
        "called",
        "2024-03-11T06:10:00Z",
    )
    # In the order they happened: issued by the kiosk, called, started, completed.
    main = {"issue", "call_out_of_order", "start", "complete"}
    assert [e["action"] for e in body["events"] if e["action"] in main] == [
        "issue",
        "call_out_of_order",
        "start",
        "complete",
    ]
    issued = body["events"][0]
    assert (issued["action"], issued["device"], issued["staff"]) == ("issue", "kiosk-1", None)
    assert [e["at"] for e in body["events"]] == sorted(e["at"] for e in body["events"])
    # Nothing that identifies the visitor, nor internal ids.
    assert "tracking_token" not in body and "id" not in body


def test_a_network_admin_reads_a_cancelled_tickets_history_with_its_reason(client, day):
    response = get(client, HISTORY, day.admin, number="A002", day=DAY)
    body = check(SPEC, response, "GET", HISTORY)
    assert response.status_code == 200
    assert [
        (e["reason"], e["staff"], e["to_status"]) for e in body["events"] if e["action"] == "cancel"
    ] == [("left", "alice", "cancelled")]


def test_an_unknown_ticket_or_another_day_is_404(client, day):
    response = get(client, HISTORY, day.manager, number="A099", day=DAY)
    check(SPEC, response, "GET", HISTORY)
    assert_error(response, 404, "ticket_not_found")
    # A004 exists, but not on the next day, nor today (the default day).
    response = get(client, HISTORY, day.manager, number="A004", day="2024-03-12")
    assert_error(response, 404, "ticket_not_found")
    assert_error(get(client, HISTORY, day.manager, number="A004"), 404, "ticket_not_found")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"day": DAY}, "number"),
        ({"number": "a004", "day": DAY}, "number"),
        ({"number": "A4", "day": DAY}, "number"),
        ({"number": "A004;1", "day": DAY}, "number"),
        ({"number": "A004", "day": "2024-13-01"}, "day"),
        ({"number": "A004", "day": "2024-02-30"}, "day"),
        ({"number": "A004", "day": "11.03.2024"}, "day"),
        ({"number": "A004", "date": DAY}, "date"),
    ],
)
def test_a_bad_number_or_day_is_refused_naming_the_parameter(client, day, params, field):
    response = get(client, HISTORY, day.manager, **params)
    check(SPEC, response, "GET", HISTORY)
    assert_error(response, 422, "invalid_input", field=field)


def test_only_the_centers_managers_and_admins_may_read_a_history(client, day):
    response = get(client, HISTORY, None, number="A004", day=DAY)
    check(SPEC, response, "GET", HISTORY)
    assert_error(response, 401, "unauthorized")
    for refused in (day.staff, day.other_manager, day.other_staff, day.kiosk, day.display):
        response = get(client, HISTORY, refused, number="A004", day=DAY)
        check(SPEC, response, "GET", HISTORY)
        assert_error(response, 403, "forbidden")
    # Refused before the ticket is looked up: a clerk learns nothing of what exists.
    assert_error(get(client, HISTORY, day.staff, number="A099", day=DAY), 403, "forbidden")


# --- the day's out-of-order calls ------------------------------------------------------------


def test_out_of_order_calls_count_the_visitors_still_waiting_when_passed(client, day):
    response = get(client, OUT_OF_ORDER, day.manager, day=DAY)
    body = check(SPEC, response, "GET", OUT_OF_ORDER)
    assert response.status_code == 200 and body["day"] == DAY
    assert [
        (c["number"], c["service"]["code"], c["reason"], c["staff"], c["counter"], c["passed"])
        for c in body["calls"]
    ] == [("A004", "pension-new", "appointment", "alice", "2", 1)]
    assert body["calls"][0]["at"] == "2024-03-11T06:10:00Z"
    # Another day has none; without a day it is the center's today.
    assert get(client, OUT_OF_ORDER, day.admin, day="2024-03-12").get_json()["calls"] == []
    today = get(client, OUT_OF_ORDER, day.manager).get_json()
    assert today["calls"] == [] and today["day"] != DAY


def test_a_visitor_still_waiting_is_passed_by_every_later_out_of_order_call(db, day):
    with db.write() as s:
        alice = _actors(s)["alice"]
        a3 = s.scalar(select(Ticket).where(Ticket.prefix == "A", Ticket.number == 3))
        queue.start(s, a3.id, alice, now=at(17))
        _issue(s, 20)  # A006
        a7 = _issue(s, 21)
        # Ends A003 at counter 2, then calls A007 ahead of A005 and A006.
        queue.call_ticket(s, day.counters["2"], a7.id, "same_family", alice, now=at(30))
    with db.read() as s:
        center = s.scalar(select(Center).where(Center.code == "baku-1"))
        calls = history.out_of_order_calls(s, center, T0.date())
    assert [(c["number"], c["passed"]) for c in calls] == [("A004", 1), ("A007", 2)]


def test_only_the_centers_managers_and_admins_may_read_the_out_of_order_calls(client, day):
    response = get(client, OUT_OF_ORDER, None)
    check(SPEC, response, "GET", OUT_OF_ORDER)
    assert_error(response, 401, "unauthorized")
    for refused in (day.staff, day.other_manager, day.kiosk):
        response = get(client, OUT_OF_ORDER, refused, day=DAY)
        check(SPEC, response, "GET", OUT_OF_ORDER)
        assert_error(response, 403, "forbidden")
    for params, field in (
        ({"day": "2024-02-30"}, "day"),
        ({"day": DAY, "number": "A004"}, "number"),
    ):
        response = get(client, OUT_OF_ORDER, day.manager, **params)
        check(SPEC, response, "GET", OUT_OF_ORDER)
        assert_error(response, 422, "invalid_input", field=field)


# --- each staff member's rate ----------------------------------------------------------------


def test_out_of_order_rates_count_each_callers_calls(db, day):
    with db.read() as s:
        center = s.scalar(select(Center).where(Center.code == "baku-1"))
        rates = history.out_of_order_rates(s, center, T0.date(), T0.date())
        assert (
            history.out_of_order_rates(
                s, center, T0.date().replace(day=12), T0.date().replace(day=31)
            )
            == {}
        )
    ids = day.staff_ids
    assert rates == {
        ids["alice"]: {"calls": 2, "out_of_order": 1, "share": 0.5},
        ids["maria"]: {"calls": 1, "out_of_order": 0, "share": 0.0},
    }


def test_the_admin_staff_list_shows_each_members_rate_over_the_last_30_days(
    client, day, monkeypatch
):
    monkeypatch.setattr("server.api.admin.utcnow", lambda: at(24 * 60 * 29))  # 29 days later
    response = client.get(f"{PREFIX}/centers/baku-1/admin", headers=day.manager)
    body = check(SPEC, response, "GET", "/centers/{center_code}/admin")
    rates = {row["username"]: row["out_of_order"] for row in body["staff"]}
    assert rates["alice"] == {"calls": 2, "out_of_order": 1, "share": 0.5, "days": 30}
    assert rates["maria"] == {"calls": 1, "out_of_order": 0, "share": 0.0, "days": 30}
    assert "oscar" not in rates  # another center's
    # A day later the test day has left the window.
    monkeypatch.setattr("server.api.admin.utcnow", lambda: at(24 * 60 * 30))
    body = client.get(f"{PREFIX}/centers/baku-1/admin", headers=day.manager).get_json()
    assert {row["username"]: row["out_of_order"]["calls"] for row in body["staff"]}["alice"] == 0


def test_the_period_report_gives_each_staff_members_rate(client, day):
    response = client.get(
        f"{PREFIX}/centers/baku-1/report",
        query_string={"from": DAY, "to": DAY},
        headers=day.manager,
    )
    body = check(SPEC, response, "GET", "/centers/{center_code}/report")
    rates = {row["username"]: row["out_of_order"] for row in body["staff"]}
    assert rates["alice"] == {"calls": 2, "out_of_order": 1, "share": 0.5}
    assert rates["maria"] == {"calls": 1, "out_of_order": 0, "share": 0.0}
