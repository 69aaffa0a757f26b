"""The admin API (server/api/admin.py, server/admin/): each change lands with its audit
entry in one transaction; role checks; bad input named and refused with nothing written."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from server import admin
from server.importer import IMPORTER
from server.models import AuditEntry, Counter, Service, StaffUser
from server.queue.actor import Actor

from . import factories
from .api_helpers import PREFIX, SPEC, bearer, setup_api
from .test_openapi import check

C = f"{PREFIX}/centers/baku-1"

NEW_SERVICE = {
    "code": "passport",
    "category": "pensions",
    "prefix": "P",
    "name": {"az": "Pasport", "ru": "Паспорт", "en": "Passport"},
    "target_wait_min": 12,
}


@pytest.fixture
def api(db, center):
    return setup_api(db, center)


def audit_rows(db, **where) -> list[SimpleNamespace]:
    """The audit entries (matching ``where``), oldest first, as plain values; not the
    fixtures' own (their centers are imported from a center file, which is audited:
    tests/test_importer.py)."""
    with db.read() as s:
        stmt = select(AuditEntry).where(AuditEntry.username != IMPORTER.name)
        stmt = stmt.order_by(AuditEntry.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(AuditEntry, key) == value)
        columns = AuditEntry.__table__.columns.keys()
        return [SimpleNamespace(**{c: getattr(e, c) for c in columns}) for e in s.scalars(stmt)]


def count(db, model) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model))


def field_of(response) -> str:
    assert response.status_code == 422, response.get_json()
    return response.get_json()["error"]["details"]["field"]


# --- services -----------------------------------------------------------------------


def test_manager_creates_a_service_and_the_audit_says_who_what_and_after(client, db, api):
    r = client.post(f"{C}/services", json=NEW_SERVICE, headers=api.manager)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["prefix"], body["active"], body["default_service_min"]) == ("P", True, 5)
    (entry,) = audit_rows(db, entity_type="service")
    assert (entry.username, entry.entity_id, entry.action, entry.before) == (
        "maria",
        "passport",
        "create",
        None,
    )
    assert entry.after["name"]["ru"] == "Паспорт" and entry.after["category"] == "pensions"
    # The kiosk's catalog now offers it.
    r = client.get(f"{C}/services", headers=api.kiosk)
    codes = [s["code"] for c in r.get_json()["categories"] for s in c["services"]]
    assert "passport" in codes


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"prefix": "A"}, "prefix"),  # taken by pension-new
        ({"prefix": "a1"}, "prefix"),
        ({"name": {"az": "x", "ru": "y"}}, "name.en"),
        ({"name": {"az": "x", "ru": "y", "en": "  "}}, "name.en"),
        ({"target_wait_min": 1441}, "target_wait_min"),
        ({"target_wait_min": "10"}, "target_wait_min"),
        ({"daily_quota": -1}, "daily_quota"),
        ({"category": "nowhere"}, "category"),
        ({"code": "Bad Code"}, "code"),
        ({"code": "pension-new"}, "code"),  # exists
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_service_is_refused_naming_the_field_and_nothing_is_written(
    client, db, api, change, field
):
    r = client.post(f"{C}/services", json={**NEW_SERVICE, **change}, headers=api.manager)
    assert field_of(r) == field
    assert count(db, Service) == 8  # two centers of four services
    assert audit_rows(db) == []


def test_edit_service_renames_reprefixes_and_deactivates_with_audit(client, db, api):
    url = f"{C}/admin/services/job-seeker"
    new_name = {"az": "İş axtaran", "ru": "Ищущий работу", "en": "Job seeker"}
    r = client.patch(url, json={"name": new_name, "prefix": "J"}, headers=api.manager)
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["prefix"], r.get_json()["name"]) == ("J", new_name)
    r = client.patch(url, json={"active": False}, headers=api.manager)
    assert r.status_code == 200 and r.get_json()["active"] is False
    rename, deactivate = audit_rows(db, entity_type="service")
    assert rename.action == "update"
    assert rename.before == {"prefix": "C", "name": factories.names("Job seeker registration")}
    assert rename.after == {"prefix": "J", "name": new_name}
    assert (deactivate.action, deactivate.before, deactivate.after) == (
        "deactivate",
        {"active": True},
        {"active": False},
    )
    # An unchanged value adds nothing to the log.
    r = client.patch(url, json={"target_wait_min": 10}, headers=api.manager)
    assert r.status_code == 200
    assert len(audit_rows(db, entity_type="service")) == 2
    # The figures-only PATCH (server/api/centers.py) is audited too.
    r = client.patch(
        f"{C}/services/job-seeker",
        json={"target_wait_min": 12, "active": True},
        headers=api.manager,
    )
    assert r.status_code == 200
    entry = audit_rows(db, entity_type="service")[-1]
    assert (entry.action, entry.username, entry.before, entry.after) == (
        "activate",
        "maria",
        {"target_wait_min": 10, "active": False},
        {"target_wait_min": 12, "active": True},
    )


def test_edit_service_with_a_taken_prefix_changes_nothing(client, db, api, center):
    r = client.patch(
        f"{C}/admin/services/job-seeker",
        json={"prefix": "A", "target_wait_min": 99},
        headers=api.manager,
    )
    assert field_of(r) == "prefix"
    with db.read() as s:
        row = s.scalar(
            select(Service).where(Service.code == "job-seeker", Service.center_id == center.id)
        )
        assert (row.prefix, row.target_wait_min) == ("C", 10)
    assert audit_rows(db) == []


def test_policy_change_is_audited(client, db, api):
    r = client.patch(
        f"{C}/policy", json={"call_policy": "ratio", "priority_ratio": 2}, headers=api.manager
    )
    assert r.status_code == 200
    (entry,) = audit_rows(db)
    assert (entry.entity_type, entry.entity_id, entry.before, entry.after) == (
        "center",
        "baku-1",
        {"call_policy": "strict"},  # the ratio did not change
        {"call_policy": "ratio"},
    )


# --- role checks ------------------------------------------------------------------------


ADMIN_CALLS = [
    ("post", f"{C}/services", NEW_SERVICE),
    ("patch", f"{C}/admin/services/job-seeker", {"prefix": "J"}),
    ("post", f"{C}/categories", {"code": "tax", "name": factories.names("Tax")}),
    ("post", f"{C}/counters", {"label": "9", "services": []}),
    ("post", f"{C}/staff", {"username": "zed", "password": "long-enough-1", "role": "staff"}),
    ("patch", f"{C}/staff/alice", {"active": False}),
    ("post", f"{C}/staff/alice/password", {}),
    ("post", f"{C}/devices", {"kind": "kiosk", "name": "kiosk-9"}),
    ("post", f"{C}/devices/kiosk-1/token", {}),
    ("patch", f"{C}/devices/kiosk-1", {"printer": "tcp://10.0.0.5"}),
    ("patch", f"{C}/settings", {"priority_classes": ["elderly"]}),
    ("get", f"{C}/audit", None),
    ("get", f"{C}/admin", None),
]


@pytest.mark.parametrize(("method", "url", "body"), ADMIN_CALLS)
def test_staff_devices_and_other_centers_managers_are_refused(client, db, api, method, url, body):
    for who in (api.staff, api.kiosk, api.other_manager):
        r = getattr(client, method)(url, json=body, headers=who)
        assert r.status_code == 403, (url, r.get_json())
    assert getattr(client, method)(url, json=body).status_code == 401
    assert audit_rows(db) == []


def test_counter_services_of_another_center_are_refused(client, db, api):
    url = f"{PREFIX}/counters/{api.other_counters['1']}/services"
    r = client.put(url, json={"services": []}, headers=api.manager)
    assert r.status_code == 403
    assert audit_rows(db) == []


def test_network_admin_may_do_it_anywhere(client, db, api):
    r = client.patch(
        f"{PREFIX}/centers/ganja-1/settings", json={"priority_classes": []}, headers=api.admin
    )
    assert r.status_code == 200
    (entry,) = audit_rows(db)
    assert (entry.username, entry.entity_id, entry.after) == (
        "root",
        "ganja-1",
        {"priority_classes": []},
    )


# --- staff ----------------------------------------------------------------------------------


def test_manager_creates_staff_in_their_center_but_never_an_admin(client, db, api):
    body = {"username": "zed", "password": "long-enough-1", "role": "staff"}
    r = client.post(f"{C}/staff", json=body, headers=api.manager)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["center"] == "baku-1" and "password" not in r.get_json()
    r = client.post(
        f"{C}/staff", json={**body, "username": "boss", "role": "admin"}, headers=api.manager
    )
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "role_not_allowed"
    r = client.patch(f"{C}/staff/zed", json={"role": "admin"}, headers=api.manager)
    assert r.status_code == 403
    # The new account logs in.
    r = client.post(f"{PREFIX}/auth/token", json={"username": "zed", "password": "long-enough-1"})
    assert r.status_code == 201
    (entry,) = audit_rows(db, entity_type="staff")
    assert entry.after == {
        "username": "zed",
        "role": "staff",
        "active": True,
        "center": "baku-1",
        "counters": ["1", "2", "3"],  # every counter of the center, as none were named
    }
    assert "long-enough-1" not in str(entry.after)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"password": "short"}, "password"),
        ({"role": "boss"}, "role"),
        ({"username": "alice"}, "username"),  # taken
        ({"username": "Has Space"}, "username"),
        ({"center": "ganja-1"}, "center"),  # the center is the path's, not the body's
    ],
)
def test_bad_staff_is_refused_naming_the_field(client, db, api, change, field):
    body = {"username": "zed", "password": "long-enough-1", "role": "staff", **change}
    r = client.post(f"{C}/staff", json=body, headers=api.manager)
    assert field_of(r) == field
    assert count(db, StaffUser) == 5
    assert audit_rows(db) == []


def test_deactivating_ends_the_tokens_and_reset_password_shows_a_new_one_once(client, db, api):
    r = client.patch(f"{C}/staff/alice", json={"active": False}, headers=api.manager)
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert client.get(f"{C}/queue", headers=api.staff).status_code == 401
    r = client.patch(f"{C}/staff/alice", json={"active": True}, headers=api.manager)
    assert r.status_code == 200

    r = client.post(f"{C}/staff/alice/password", json={}, headers=api.manager)
    assert r.status_code == 200
    new_password = r.get_json()["password"]
    assert len(new_password) >= 8
    old = client.post(
        f"{PREFIX}/auth/token", json={"username": "alice", "password": factories.PASSWORD}
    )
    assert old.status_code == 401
    new = client.post(f"{PREFIX}/auth/token", json={"username": "alice", "password": new_password})
    assert new.status_code == 201
    actions = [e.action for e in audit_rows(db, entity_type="staff")]
    assert actions == ["deactivate", "activate", "reset_password"]
    assert all(new_password not in str((e.before, e.after)) for e in audit_rows(db))


def test_a_manager_cannot_lock_out_an_admin_of_the_center_or_themselves(client, db, api, center):
    with db.write() as s:
        from .api_helpers import add_staff

        add_staff(s, "cadmin", "admin", center)
    r = client.patch(f"{C}/staff/cadmin", json={"active": False}, headers=api.manager)
    assert r.status_code == 403
    r = client.post(f"{C}/staff/cadmin/password", json={}, headers=api.manager)
    assert r.status_code == 403
    r = client.patch(f"{C}/staff/maria", json={"active": False}, headers=api.manager)
    assert r.status_code == 409
    r = client.patch(f"{C}/staff/olga", json={"active": False}, headers=api.manager)
    assert r.status_code == 404  # staff of another center is not found here
    assert audit_rows(db) == []


# --- counters ---------------------------------------------------------------------------------


def test_counter_services_are_set_in_order_and_audited(client, db, api):
    url = f"{PREFIX}/counters/{api.counters['3']}/services"
    r = client.put(url, json={"services": ["unemployment", "pension-new"]}, headers=api.manager)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["services"] == ["unemployment", "pension-new"]
    (entry,) = audit_rows(db, entity_type="counter")
    assert (entry.entity_id, entry.before, entry.after) == (
        "3",
        {"services": ["job-seeker", "unemployment"]},
        {"services": ["unemployment", "pension-new"]},
    )
    for bad in (["nope"], ["job-seeker", "job-seeker"], "job-seeker"):
        assert field_of(client.put(url, json={"services": bad}, headers=api.manager)) == "services"
    with db.read() as s:
        assert len(s.get(Counter, api.counters["3"]).service_links) == 2


def test_a_new_counter_serves_what_it_was_given(client, db, api):
    r = client.post(
        f"{C}/counters", json={"label": "4", "services": ["job-seeker"]}, headers=api.manager
    )
    assert r.status_code == 201
    assert (r.get_json()["label"], r.get_json()["state"]) == ("4", "closed")
    r = client.post(f"{C}/counters", json={"label": "4", "services": []}, headers=api.manager)
    assert field_of(r) == "label"
    assert [e.action for e in audit_rows(db, entity_type="counter")] == ["create"]


# --- devices --------------------------------------------------------------------------------


def test_device_token_is_shown_once_and_rotation_stops_the_old_one(client, db, api):
    r = client.post(
        f"{C}/devices",
        json={"kind": "kiosk", "name": "kiosk-2", "printer": "tcp://10.0.0.5:9100"},
        headers=api.manager,
    )
    assert r.status_code == 201, r.get_json()
    token = r.get_json()["token"]
    assert token.startswith("dv_") and r.get_json()["printer"] == "tcp://10.0.0.5:9100"
    assert client.get(f"{C}/services", headers=bearer(token)).status_code == 200
    r = client.get(f"{C}/admin", headers=api.manager)
    listed = {d["name"]: d for d in r.get_json()["devices"]}
    assert "token" not in listed["kiosk-2"]

    r = client.post(f"{C}/devices/kiosk-2/token", headers=api.manager)
    assert r.status_code == 200
    assert client.get(f"{C}/services", headers=bearer(token)).status_code == 401
    assert client.get(f"{C}/services", headers=bearer(r.get_json()["token"])).status_code == 200
    entries = audit_rows(db, entity_type="device")
    assert [e.action for e in entries] == ["create", "rotate_token"]
    assert all(token not in str((e.before, e.after)) for e in entries)


def test_printer_setting_is_checked_and_changed(client, db, api, center):
    url = f"{C}/devices/kiosk-1"
    assert field_of(client.patch(url, json={"printer": "lpt1"}, headers=api.manager)) == "printer"
    assert (
        field_of(
            client.patch(f"{C}/devices/hall", json={"printer": "tcp://h"}, headers=api.manager)
        )
        == "printer"
    )
    r = client.patch(url, json={"printer": "usb://04b8:0e15"}, headers=api.manager)
    assert r.status_code == 200 and r.get_json()["printer"] == "usb://04b8:0e15"
    r = client.patch(url, json={"printer": None}, headers=api.manager)
    assert r.get_json()["printer"] is None
    with db.read() as s:
        assert "printer" not in factories.device(s, center, "kiosk-1").settings
    entries = audit_rows(db, entity_type="device")
    assert [(e.before, e.after) for e in entries] == [
        ({"printer": None}, {"printer": "usb://04b8:0e15"}),
        ({"printer": "usb://04b8:0e15"}, {"printer": None}),
    ]


# --- center settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hours": {"open": "18:00", "close": "09:00"}}, "hours"),
        ({"hours": {"open": "25:00"}}, "hours.open"),
        ({"priority_classes": ["Elderly"]}, "priority_classes"),
        ({"priority_classes": ["elderly", "elderly"]}, "priority_classes"),
        ({"timezone": "Europe/Paris"}, "timezone"),
    ],
)
def test_bad_center_settings_are_refused(client, db, api, change, field):
    r = client.patch(
        f"{C}/settings", json={"priority_classes": ["x"], **change}, headers=api.manager
    )
    assert field_of(r) == field
    r = client.get(f"{C}/admin", headers=api.manager)
    assert r.get_json()["center"]["priority_classes"] == [
        "disability",
        "elderly",
        "veteran",
        "pregnant",
    ]
    assert audit_rows(db) == []


def test_hours_and_priority_classes_change_with_audit(client, db, api):
    r = client.patch(
        f"{C}/settings",
        json={"hours": {"open": "08:30", "close": "19:00"}, "priority_classes": ["elderly"]},
        headers=api.manager,
    )
    assert r.status_code == 200
    assert r.get_json()["hours"] == {"open": "08:30", "close": "19:00"}
    (entry,) = audit_rows(db)
    assert entry.before["hours"] == {"open": "09:00", "close": "18:00"}
    assert entry.after == {
        "hours": {"open": "08:30", "close": "19:00"},
        "priority_classes": ["elderly"],
    }


# --- browsing the log -----------------------------------------------------------------------------


def test_audit_is_filtered_by_type_user_and_local_date_and_paged(client, db, api, center):
    maria = Actor("staff", api.staff_ids["maria"], center.id, "manager", "maria")
    root = Actor("staff", api.staff_ids["root"], None, "admin", "root")
    with db.write() as s:
        # 2026-03-01 23:30 in Baku (UTC+4) is 19:30 UTC: the 1st locally.
        admin.record(
            s,
            maria,
            center.id,
            "service",
            "a",
            "update",
            {},
            {},
            datetime(2026, 3, 1, 19, 30, tzinfo=UTC),
        )
        # 2026-03-02 00:30 in Baku is 20:30 UTC on the 1st: the 2nd locally.
        admin.record(
            s,
            root,
            center.id,
            "device",
            "b",
            "create",
            None,
            {},
            datetime(2026, 3, 1, 20, 30, tzinfo=UTC),
        )
        for i in range(55):
            admin.record(
                s,
                maria,
                center.id,
                "staff",
                f"u{i}",
                "create",
                None,
                {},
                datetime(2026, 3, 5, 8, i, tzinfo=UTC),
            )
        admin.record(
            s,
            maria,
            2,
            "service",
            "elsewhere",
            "update",
            {},
            {},
            datetime(2026, 3, 1, 9, tzinfo=UTC),
        )

    def get(query: str):
        r = client.get(f"{C}/audit?{query}", headers=api.manager)
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    assert [e["entity_id"] for e in get("to=2026-03-01")["entries"]] == ["a"]
    assert [e["entity_id"] for e in get("from=2026-03-02&to=2026-03-02")["entries"]] == ["b"]
    assert [e["entity_id"] for e in get("user=root")["entries"]] == ["b"]
    # The other center's entry is not here (nor the fixture's import of this one).
    assert get("type=service&user=maria")["total"] == 1
    first = get("type=staff")
    assert (first["total"], len(first["entries"]), first["entries"][0]["entity_id"]) == (
        55,
        50,
        "u54",
    )
    second = get("type=staff&page=2")
    assert [e["entity_id"] for e in second["entries"]] == ["u4", "u3", "u2", "u1", "u0"]
    for query, field in (("type=ticket", "type"), ("from=yesterday", "from"), ("page=0", "page")):
        r = client.get(f"{C}/audit?{query}", headers=api.manager)
        assert field_of(r) == field


def test_audit_entries_cannot_be_rewritten(db, api, center):
    maria = Actor("staff", api.staff_ids["maria"], center.id, "manager", "maria")
    with db.write() as s:
        admin.record(s, maria, center.id, "service", "a", "update", {}, {})
    with pytest.raises(RuntimeError, match="append-only"), db.write() as s:
        s.scalar(select(AuditEntry)).action = "nothing"


# --- answers match openapi.json ----------------------------------------------------------------


def test_admin_answers_match_the_documented_schemas(client, db, api):
    def ok(method: str, path: str, url: str, status: int, body=None, headers=None):
        r = getattr(client, method.lower())(
            f"{PREFIX}{url}", json=body, headers=headers or api.manager
        )
        assert r.status_code == status, r.get_json()
        return check(SPEC, r, method, path)

    ok("GET", "/centers/{center_code}/admin", "/centers/baku-1/admin", 200)
    ok("GET", "/centers/{center_code}/admin", "/centers/baku-1/admin", 403, headers=api.staff)
    ok(
        "POST",
        "/centers/{center_code}/categories",
        "/centers/baku-1/categories",
        201,
        {"code": "tax", "name": factories.names("Tax")},
    )
    ok(
        "PATCH",
        "/centers/{center_code}/categories/{category_code}",
        "/centers/baku-1/categories/tax",
        200,
        {"name": factories.names("Taxes")},
    )
    ok("POST", "/centers/{center_code}/services", "/centers/baku-1/services", 201, NEW_SERVICE)
    ok(
        "POST",
        "/centers/{center_code}/services",
        "/centers/baku-1/services",
        422,
        {**NEW_SERVICE, "prefix": "A"},
    )
    ok(
        "PATCH",
        "/centers/{center_code}/admin/services/{service_code}",
        "/centers/baku-1/admin/services/passport",
        200,
        {"active": False},
    )
    ok(
        "POST",
        "/centers/{center_code}/counters",
        "/centers/baku-1/counters",
        201,
        {"label": "7", "services": ["passport"]},
    )
    ok(
        "PUT",
        "/counters/{counter_id}/services",
        f"/counters/{api.counters['1']}/services",
        200,
        {"services": ["passport"]},
    )
    ok(
        "POST",
        "/centers/{center_code}/staff",
        "/centers/baku-1/staff",
        201,
        {"username": "zed", "password": "long-enough-1", "role": "manager"},
    )
    ok(
        "PATCH",
        "/centers/{center_code}/staff/{username}",
        "/centers/baku-1/staff/zed",
        200,
        {"role": "staff"},
    )
    ok(
        "PATCH",
        "/centers/{center_code}/staff/{username}",
        "/centers/baku-1/staff/maria",
        409,
        {"active": False},
    )
    ok(
        "PATCH",
        "/centers/{center_code}/staff/{username}",
        "/centers/baku-1/staff/nobody",
        404,
        {"active": False},
    )
    ok(
        "POST",
        "/centers/{center_code}/staff/{username}/password",
        "/centers/baku-1/staff/zed/password",
        200,
        {},
    )
    ok(
        "POST",
        "/centers/{center_code}/devices",
        "/centers/baku-1/devices",
        201,
        {"kind": "display", "name": "hall-2"},
    )
    ok(
        "PATCH",
        "/centers/{center_code}/devices/{name}",
        "/centers/baku-1/devices/kiosk-1",
        200,
        {"printer": "dummy://"},
    )
    ok(
        "POST",
        "/centers/{center_code}/devices/{name}/token",
        "/centers/baku-1/devices/hall-2/token",
        200,
    )
    ok(
        "PATCH",
        "/centers/{center_code}/settings",
        "/centers/baku-1/settings",
        200,
        {"hours": {"close": "17:00"}},
    )
    page = ok("GET", "/centers/{center_code}/audit", "/centers/baku-1/audit?type=staff", 200)
    assert [e["action"] for e in page["entries"]] == ["reset_password", "update", "create"]
    page = ok("GET", "/centers/{center_code}/audit", "/centers/baku-1/audit?user=maria", 200)
    assert page["total"] == 13  # one entry per change above
    page = ok("GET", "/centers/{center_code}/audit", "/centers/baku-1/audit", 200)
    assert page["total"] == 13 + 12  # and the fixture's import: the center and 11 more
