"""HTTP API: a center's queue figures and catalog, the settings managers change, and the
one JSON error shape shared by every failure under /api/v1."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from server import queue
from server.models import Center, Service, utcnow

from . import factories
from .api_helpers import (
    PREFIX,
    act,
    assert_error,
    bearer,
    call_next,
    issue,
    setup_api,
)

QUEUE_URL = f"{PREFIX}/centers/baku-1/queue"
SERVICES_URL = f"{PREFIX}/centers/baku-1/services"
POLICY_URL = f"{PREFIX}/centers/baku-1/policy"
SERVICE_CODES = ["pension-new", "pension-recalc", "job-seeker", "unemployment"]


@pytest.fixture
def api(db, center):
    return setup_api(db, center)


def service_url(code: str, center: str = "baku-1") -> str:
    return f"{PREFIX}/centers/{center}/services/{code}"


def _columns(row) -> SimpleNamespace:
    return SimpleNamespace(**{c.key: getattr(row, c.key) for c in row.__table__.columns})


def service_row(db, code: str, center: str = "baku-1") -> SimpleNamespace:
    with db.read() as s:
        return _columns(
            s.scalar(
                select(Service).join(Center).where(Center.code == center, Service.code == code)
            )
        )


def center_row(db, code: str = "baku-1") -> SimpleNamespace:
    with db.read() as s:
        return _columns(s.scalar(select(Center).where(Center.code == code)))


# --- queue ---------------------------------------------------------------------------------


def test_queue_shows_each_services_waiting_and_each_counters_ticket(client, db, api):
    issue(client, api, "pension-new")
    issue(client, api, "pension-new", priority="elderly")
    issue(client, api, "job-seeker")
    called = call_next(client, api, "1").get_json()  # opens counter 1, calls the priority one
    r = client.get(QUEUE_URL, headers=api.display)
    assert r.status_code == 200
    body = r.get_json()
    assert body["center"] == "baku-1"
    services = {row["service"]: row for row in body["services"]}
    assert [row["service"] for row in body["services"]] == SERVICE_CODES
    assert {code: services[code]["waiting"] for code in SERVICE_CODES} == {
        "pension-new": 1,
        "pension-recalc": 0,
        "job-seeker": 1,
        "unemployment": 0,
    }
    new = services["pension-new"]
    assert (new["prefix"], new["active"], new["target_wait_min"]) == ("A", True, 15)
    assert new["name"] == factories.names("New pension")
    assert services["pension-recalc"]["longest_wait_s"] == 0
    # Estimated wait for a newcomer: (waiting + 1 - 0.5) * 300 s / open counters of the
    # service (at least 1). Counter 1 is open and serves pension-new.
    assert services["pension-new"]["estimated_wait_s"] == 450
    assert services["job-seeker"]["estimated_wait_s"] == 450
    assert services["unemployment"]["estimated_wait_s"] == 150

    counters = body["counters"]
    assert [(c["id"], c["label"], c["state"]) for c in counters] == [
        (api.counters["1"], "1", "open"),
        (api.counters["2"], "2", "closed"),
        (api.counters["3"], "3", "closed"),
    ]
    assert counters[0]["current_ticket"] == {
        "number": called["number"],
        "status": "called",
        "service": "pension-new",
    }
    assert counters[1]["current_ticket"] is None
    assert counters[0]["services"] == ["pension-new", "pension-recalc"]
    assert sorted(counters[1]["services"]) == ["job-seeker", "pension-new", "pension-recalc"]


def test_queue_estimate_divides_by_open_counters_and_longest_wait_counts(client, db, api):
    ten_minutes_ago = utcnow() - timedelta(minutes=10)
    with db.write() as s:
        kiosk = factories.kiosk_actor(s, s.scalar(select(Center).where(Center.code == "baku-1")))
        for _ in range(3):
            queue.issue_ticket(
                s, "baku-1", "pension-recalc", "az", None, kiosk, now=ten_minutes_ago
            )
    rows = {
        r["service"]: r for r in client.get(QUEUE_URL, headers=api.staff).get_json()["services"]
    }
    assert rows["pension-recalc"]["waiting"] == 3
    assert rows["pension-recalc"]["longest_wait_s"] >= 600
    assert rows["pension-recalc"]["estimated_wait_s"] == 1050  # 3.5 * 300 / 1
    for label in ("1", "2"):  # both serve pension-recalc
        r = client.post(
            f"{PREFIX}/counters/{api.counters[label]}/state",
            json={"state": "open"},
            headers=api.staff,
        )
        assert r.status_code == 200
    rows = {
        r["service"]: r for r in client.get(QUEUE_URL, headers=api.staff).get_json()["services"]
    }
    assert rows["pension-recalc"]["estimated_wait_s"] == 525  # 3.5 * 300 / 2


def test_queue_pause_reason_is_shown(client, api):
    r = client.post(
        f"{PREFIX}/counters/{api.counters['3']}/state",
        json={"state": "paused", "reason": "back_office"},
        headers=api.staff,
    )
    assert r.status_code == 200
    counters = client.get(QUEUE_URL, headers=api.manager).get_json()["counters"]
    assert (counters[2]["state"], counters[2]["pause_reason"]) == ("paused", "back_office")
    assert counters[0]["pause_reason"] is None


@pytest.mark.parametrize("url", [QUEUE_URL, SERVICES_URL])
def test_queue_and_catalog_access(client, api, url):
    for caller in ("kiosk", "display", "staff", "manager", "admin"):
        assert client.get(url, headers=getattr(api, caller)).status_code == 200, caller
    for caller in ("other_kiosk", "other_display", "other_staff", "other_manager"):
        assert_error(client.get(url, headers=getattr(api, caller)), 403, "forbidden")
    assert_error(client.get(url), 401, "unauthorized")
    assert_error(client.get(url, headers=bearer("dv_nothing")), 401, "invalid_token")
    error = assert_error(
        client.get(url.replace("baku-1", "nowhere"), headers=api.admin), 404, "center_not_found"
    )
    assert "nowhere" in error["message"]


# --- services catalog ------------------------------------------------------------------


def test_services_catalog(client, db, api):
    issue(client, api, "unemployment")
    r = client.get(SERVICES_URL, headers=api.kiosk)
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == {"center", "categories"}
    assert body["center"] == {
        "code": "baku-1",
        "name": factories.names("Center baku-1"),
        "timezone": "Asia/Baku",
        "hours": {"open": "09:00", "close": "18:00"},
        "priority_classes": ["disability", "elderly", "veteran", "pregnant"],
        "call_policy": "strict",
        "priority_ratio": 2,
        "recalls_before_no_show": 1,
        "breaks": [],
        "closed_weekdays": [],
        "closed_days": [],
        "hall_capacity": None,
        "remote_joining": False,
        "absent_hold_min": 15,
    }
    assert [c["code"] for c in body["categories"]] == ["pensions", "employment"]
    assert body["categories"][1]["name"] == factories.names("Employment")
    assert [[s["code"] for s in c["services"]] for c in body["categories"]] == [
        ["pension-new", "pension-recalc"],
        ["job-seeker", "unemployment"],
    ]
    unemployment = body["categories"][1]["services"][1]
    assert unemployment == {
        "code": "unemployment",
        "prefix": "D",
        "name": factories.names("Unemployment benefit"),
        "active": True,
        "target_wait_min": 20,
        "default_service_min": 5,
        "daily_quota": 3,
        "waiting": 1,
        "estimated_wait_s": 450,
    }
    assert body["categories"][0]["services"][0]["daily_quota"] is None


# --- PATCH a service -------------------------------------------------------------------


def test_manager_changes_target_wait_and_active(client, db, api):
    r = client.patch(
        service_url("pension-new"),
        json={"target_wait_min": 30, "default_service_min": 8},
        headers=api.manager,
    )
    assert r.status_code == 200
    body = r.get_json()
    assert (body["code"], body["target_wait_min"], body["default_service_min"]) == (
        "pension-new",
        30,
        8,
    )
    assert body["active"] is True and body["daily_quota"] is None
    row = service_row(db, "pension-new")
    assert (row.target_wait_min, row.default_service_min, row.active) == (30, 8, True)
    # The new default service time feeds the estimate: (1 - 0.5) * 480 s / 1.
    assert issue(client, api)["estimated_wait_s"] == 240

    r = client.patch(service_url("pension-new"), json={"active": False}, headers=api.admin)
    assert r.get_json()["active"] is False
    assert service_row(db, "pension-new").active is False
    r = client.post(
        f"{PREFIX}/centers/baku-1/tickets",
        json={"service": "pension-new", "language": "az"},
        headers=api.kiosk,
    )
    assert_error(r, 409, "service_inactive")
    # The other center's service of the same code is untouched.
    assert service_row(db, "pension-new", "ganja-1").target_wait_min == 15
    assert service_row(db, "pension-new", "ganja-1").active is True

    r = client.patch(service_url("pension-new"), json={"active": True}, headers=api.manager)
    assert r.get_json()["active"] is True
    assert issue(client, api)["number"] == "A002"


def test_daily_quota_can_be_set_and_cleared(client, db, api):
    r = client.patch(service_url("job-seeker"), json={"daily_quota": 1}, headers=api.manager)
    assert r.get_json()["daily_quota"] == 1
    issue(client, api, "job-seeker")
    r = client.post(
        f"{PREFIX}/centers/baku-1/tickets",
        json={"service": "job-seeker", "language": "az"},
        headers=api.kiosk,
    )
    assert_error(r, 409, "quota_reached")
    r = client.patch(service_url("job-seeker"), json={"daily_quota": 100_000}, headers=api.manager)
    assert r.get_json()["daily_quota"] == 100_000  # the largest allowed
    r = client.patch(service_url("job-seeker"), json={"daily_quota": None}, headers=api.manager)
    assert r.get_json()["daily_quota"] is None
    assert service_row(db, "job-seeker").daily_quota is None
    assert issue(client, api, "job-seeker")["number"] == "C002"
    # Leaving daily_quota out keeps it; only an explicit null clears it.
    client.patch(service_url("unemployment"), json={"target_wait_min": 25}, headers=api.manager)
    assert service_row(db, "unemployment").daily_quota == 3


@pytest.mark.parametrize(
    ("caller", "status", "code"),
    [
        ("staff", 403, "forbidden"),
        ("kiosk", 403, "forbidden"),
        ("display", 403, "forbidden"),
        ("other_manager", 403, "forbidden"),
        ("other_staff", 403, "forbidden"),
        (None, 401, "unauthorized"),
    ],
)
def test_patching_a_service_needs_a_manager_of_the_center(client, db, api, caller, status, code):
    headers = getattr(api, caller) if caller else {}
    r = client.patch(
        service_url("pension-new"), json={"target_wait_min": 1, "active": False}, headers=headers
    )
    assert_error(r, status, code)
    row = service_row(db, "pension-new")
    assert (row.target_wait_min, row.active) == (15, True)


def test_patching_an_unknown_service_or_center_is_404(client, api):
    r = client.patch(service_url("passports"), json={"active": False}, headers=api.manager)
    assert "passports" in assert_error(r, 404, "service_not_found")["message"]
    r = client.patch(
        service_url("pension-new", "nowhere"), json={"active": False}, headers=api.admin
    )
    assert_error(r, 404, "center_not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target_wait_min": -1}, "target_wait_min"),
        ({"target_wait_min": 1441}, "target_wait_min"),
        ({"target_wait_min": "15"}, "target_wait_min"),
        ({"target_wait_min": 15.5}, "target_wait_min"),
        ({"target_wait_min": True}, "target_wait_min"),
        ({"default_service_min": -5}, "default_service_min"),
        ({"default_service_min": 0}, "default_service_min"),  # every estimate would be 0
        ({"active": "no"}, "active"),
        ({"active": 0}, "active"),
        ({"daily_quota": -1}, "daily_quota"),
        ({"daily_quota": "ten"}, "daily_quota"),
        ({"daily_quota": 10**10}, "daily_quota"),  # was a 500 on PostgreSQL (integer overflow)
        ({"daily_quota": 100_001}, "daily_quota"),
        ({"prefix": "Z"}, "prefix"),
        ({"name": {"en": "x"}}, "name"),
        # A valid change together with a bad one: nothing is half-written.
        ({"target_wait_min": 40, "active": False, "daily_quota": -1}, "daily_quota"),
        ({"target_wait_min": 40, "daily_quota": 2.5}, "daily_quota"),
    ],
)
def test_bad_service_values_are_422_naming_the_field_and_change_nothing(
    client, db, api, body, field
):
    r = client.patch(service_url("unemployment"), json=body, headers=api.manager)
    assert_error(r, 422, "invalid_input", field=field)
    row = service_row(db, "unemployment")
    assert (row.target_wait_min, row.default_service_min, row.active, row.daily_quota) == (
        20,
        5,
        True,
        3,
    )
    assert (row.prefix, row.name) == ("D", factories.names("Unemployment benefit"))


def test_a_default_service_time_under_a_minute_is_refused_by_every_route(client, db, api):
    """One rule (server/admin/validation.py) for the figures' PATCH, the admin page's
    PATCH and a new service (and the center file: tests/test_importer.py)."""
    new = {
        "code": "passport",
        "category": "pensions",
        "prefix": "P",
        "name": factories.names("Passport"),
    }
    for method, url, body in (
        ("patch", service_url("unemployment"), {"default_service_min": 0}),
        ("patch", service_url("unemployment"), {"target_wait_min": 9, "default_service_min": 0}),
        (
            "patch",
            f"{PREFIX}/centers/baku-1/admin/services/unemployment",
            {"default_service_min": 0},
        ),
        ("post", f"{PREFIX}/centers/baku-1/services", {**new, "default_service_min": 0}),
    ):
        r = getattr(client, method)(url, json=body, headers=api.manager)
        error = assert_error(r, 422, "invalid_input", field="default_service_min")
        assert "between 1 and 1440" in error["message"], error  # openapi.json's range
    row = service_row(db, "unemployment")
    assert (row.default_service_min, row.target_wait_min) == (5, 20)
    r = client.patch(
        service_url("unemployment"), json={"default_service_min": 1}, headers=api.manager
    )
    assert r.status_code == 200 and r.get_json()["default_service_min"] == 1


# --- PATCH the policy ----------------------------------------------------------------------


def test_manager_changes_the_call_policy(client, db, api):
    r = client.patch(
        POLICY_URL,
        json={"call_policy": "ratio", "priority_ratio": 3, "recalls_before_no_show": 2},
        headers=api.manager,
    )
    assert r.status_code == 200
    assert r.get_json() == {
        "call_policy": "ratio",
        "priority_ratio": 3,
        "recalls_before_no_show": 2,
    }
    row = center_row(db)
    assert (row.call_policy, row.priority_ratio, row.recalls_before_no_show) == ("ratio", 3, 2)
    # A partial update keeps the rest.
    r = client.patch(POLICY_URL, json={"priority_ratio": 1}, headers=api.admin)
    assert r.get_json() == {
        "call_policy": "ratio",
        "priority_ratio": 1,
        "recalls_before_no_show": 2,
    }
    other = center_row(db, "ganja-1")
    assert (other.call_policy, other.priority_ratio) == ("strict", 2)


def test_recalls_before_no_show_takes_effect(client, db, api):
    ticket = issue(client, api)
    call_next(client, api)
    assert_error(act(client, api, ticket["id"], "no-show"), 409, "recall_first")
    r = client.patch(POLICY_URL, json={"recalls_before_no_show": 0}, headers=api.manager)
    assert r.status_code == 200
    assert act(client, api, ticket["id"], "no-show").get_json()["status"] == "no_show"


def test_ratio_policy_takes_effect(client, db, api):
    normal = [issue(client, api)["id"] for _ in range(2)]
    priority = issue(client, api, priority="pregnant")["id"]
    assert call_next(client, api).get_json()["id"] == priority  # strict: priority first
    act(client, api, priority, "start")
    ids = [issue(client, api)["id"] for _ in range(2)] + [
        issue(client, api, priority="veteran")["id"]
    ]
    client.patch(
        POLICY_URL, json={"call_policy": "ratio", "priority_ratio": 2}, headers=api.manager
    )
    order = []
    for _ in range(5):
        order.append(call_next(client, api).get_json()["id"])
        act(client, api, order[-1], "start")
    # After a priority visitor, two others go before the next priority one.
    assert order[:3] == normal + [ids[2]]
    assert order[3:] == ids[:2]


@pytest.mark.parametrize("caller", ["staff", "kiosk", "display", "other_manager"])
def test_patching_the_policy_needs_a_manager_of_the_center(client, db, api, caller):
    r = client.patch(POLICY_URL, json={"call_policy": "ratio"}, headers=getattr(api, caller))
    assert_error(r, 403, "forbidden")
    assert center_row(db).call_policy == "strict"
    assert_error(client.patch(POLICY_URL, json={"call_policy": "ratio"}), 401, "unauthorized")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"call_policy": "random"}, "call_policy"),
        ({"call_policy": None, "priority_ratio": 0}, "priority_ratio"),
        ({"priority_ratio": 0}, "priority_ratio"),
        ({"priority_ratio": 101}, "priority_ratio"),
        ({"priority_ratio": "2"}, "priority_ratio"),
        ({"recalls_before_no_show": -1}, "recalls_before_no_show"),
        ({"recalls_before_no_show": 11}, "recalls_before_no_show"),
        ({"recalls_before_no_show": False}, "recalls_before_no_show"),
        ({"timezone": "UTC"}, "timezone"),
        ({"call_policy": "ratio", "priority_ratio": 0}, "priority_ratio"),
    ],
)
def test_bad_policy_values_are_422_naming_the_field_and_change_nothing(
    client, db, api, body, field
):
    r = client.patch(POLICY_URL, json=body, headers=api.manager)
    assert_error(r, 422, "invalid_input", field=field)
    row = center_row(db)
    assert (row.call_policy, row.priority_ratio, row.recalls_before_no_show, row.timezone) == (
        "strict",
        2,
        1,
        "Asia/Baku",
    )


def test_patching_the_policy_of_an_unknown_center_is_404(client, api):
    r = client.patch(
        f"{PREFIX}/centers/nowhere/policy", json={"call_policy": "ratio"}, headers=api.admin
    )
    assert_error(r, 404, "center_not_found")


# --- one error shape -----------------------------------------------------------------------


def error_cases(api, ticket_id: int):
    """(method, url, kwargs, status, code) for one example of every kind of failure."""
    c1 = api.counters["1"]
    kiosk, staff, manager = api.kiosk, api.staff, api.manager
    return [
        ("get", f"{PREFIX}/no-such-thing", {"headers": staff}, 404, "not_found"),
        ("get", f"{PREFIX}/no-such-thing", {}, 404, "not_found"),
        ("get", f"{PREFIX}/centers/baku-1", {"headers": staff}, 404, "not_found"),
        ("post", f"{PREFIX}/counters/x/call-next", {"headers": staff}, 404, "not_found"),
        ("get", f"{PREFIX}/auth/token", {}, 405, "method_not_allowed"),
        ("delete", QUEUE_URL, {"headers": staff}, 405, "method_not_allowed"),
        ("put", POLICY_URL, {"headers": manager, "json": {}}, 405, "method_not_allowed"),
        ("get", f"{PREFIX}/counters/{c1}/call-next", {"headers": staff}, 405, "method_not_allowed"),
        ("get", QUEUE_URL, {}, 401, "unauthorized"),
        ("get", QUEUE_URL, {"headers": bearer("st_x")}, 401, "invalid_token"),
        ("post", f"{PREFIX}/auth/token", {"json": {"username": "x", "password": "y"}}, 401,
         "bad_credentials"),
        ("get", QUEUE_URL, {"headers": {"Authorization": "Basic x"}}, 400, "malformed_request"),
        ("patch", POLICY_URL, {"headers": manager, "data": "{", "content_type": "application/json"},
         400, "malformed_request"),
        ("patch", POLICY_URL, {"headers": staff, "json": {}}, 403, "forbidden"),
        ("get", QUEUE_URL, {"headers": api.other_display}, 403, "forbidden"),
        ("get", f"{PREFIX}/centers/nowhere/queue", {"headers": staff}, 404, "center_not_found"),
        ("post", f"{PREFIX}/counters/999999/call-next", {"headers": staff}, 404,
         "counter_not_found"),
        ("post", f"{PREFIX}/tickets/999999/start", {"headers": staff}, 404, "ticket_not_found"),
        ("get", f"{PREFIX}/tickets/unknown-token", {}, 404, "ticket_not_found"),
        ("post", f"{PREFIX}/tickets/{ticket_id}/fly", {"headers": staff}, 404, "unknown_action"),
        ("post", f"{PREFIX}/centers/baku-1/tickets",
         {"headers": kiosk, "json": {"service": "x", "language": "az", "extra": 1}}, 422,
         "invalid_input"),
        ("post", f"{PREFIX}/tickets/{ticket_id}/complete", {"headers": staff}, 409,
         "invalid_transition"),
        ("post", f"{PREFIX}/counters/{api.counters['2']}/state",
         {"headers": staff, "json": {"state": "closed"}}, 409, "counter_busy"),
    ]  # fmt: skip


def test_every_error_has_one_json_shape(client, db, api):
    ticket = issue(client, api)
    call_next(client, api, "2")
    for method, url, kwargs, status, code in error_cases(api, ticket["id"]):
        r = getattr(client, method)(url, **kwargs)
        try:
            assert_error(r, status, code)
        except AssertionError as exc:
            raise AssertionError(f"{method.upper()} {url}: {exc}") from exc
        if status == 405:
            # The methods the URL does allow (RFC 9110: a 405 must say).
            assert r.headers.get("Allow"), f"{method.upper()} {url}: no Allow header"
            assert method.upper() not in r.headers["Allow"]
        if status == 401:
            assert r.headers["WWW-Authenticate"] == 'Bearer realm="novbe"'


def test_405_lists_the_allowed_methods(client, api):
    r = client.get(f"{PREFIX}/counters/{api.counters['1']}/call-next", headers=api.staff)
    assert_error(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"].split(", ")
