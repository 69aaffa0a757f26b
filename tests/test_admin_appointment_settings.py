"""The appointment settings of issue 15, as the admin page, the API and a center file
set them: per service bookable, slot length, bookings per slot, days ahead, the
check-in window, what happens after the grace, joining from home and its daily cap;
per center the breaks, closed weekdays and days, the hall's capacity, the switch for
joining from home and how long an absent ticket keeps its place.

Every change is checked whole before anything is written (a refusal names the field,
as the center file has it too) and is audited like the other admin changes (its audit
entry joins the fairness ledger)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server import admin
from server.errors import InvalidInput
from server.importer import IMPORTER, CenterFileError, import_center, load_center_file
from server.models import AuditEntry, Center, LedgerEntry, Service

from . import factories
from .api_helpers import PREFIX, assert_error, setup_api
from .test_importer import snapshot

SERVICE_URL = f"{PREFIX}/centers/baku-1/admin/services/pension-new"
SETTINGS_URL = f"{PREFIX}/centers/baku-1/settings"
BOOKING = {
    "bookable": True,
    "slot_min": 20,
    "bookings_per_slot": 2,
    "booking_days_ahead": 30,
    "checkin_early_min": 45,
    "late_grace_min": 5,
    "after_grace": "refuse",
    "remote_joining": True,
    "remote_daily_cap": 40,
}
CALENDAR = {
    "breaks": [{"from": "16:00", "to": "16:15"}, {"from": "13:00", "to": "14:00"}],
    "closed_weekdays": [6, 5],
    "closed_days": ["2027-01-02", "2026-12-31"],
    "hall_capacity": 60,
    "remote_joining": True,
    "absent_hold_min": 20,
}


@pytest.fixture
def api(db, center):
    return setup_api(db, center)


def audits(db, entity_type: str) -> list[dict]:
    """The audit entries of ``entity_type`` made by people (not the importer)."""
    with db.read() as s:
        entries = s.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity_type == entity_type, AuditEntry.username != IMPORTER.name)
            .order_by(AuditEntry.id)
        ).all()
        return [
            {"user": e.username, "action": e.action, "before": e.before, "after": e.after}
            for e in entries
        ]


# --- a service's booking settings ------------------------------------------------------------


def test_a_services_booking_settings_are_set_shown_and_audited(client, db, api):
    response = client.patch(SERVICE_URL, json=BOOKING, headers=api.manager)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert {key: response.get_json()[key] for key in BOOKING} == BOOKING
    overview = client.get(f"{PREFIX}/centers/baku-1/admin", headers=api.manager).get_json()
    shown = next(s for s in overview["services"] if s["code"] == "pension-new")
    assert {key: shown[key] for key in BOOKING} == BOOKING
    [entry] = audits(db, "service")
    assert entry["user"] == "maria" and entry["action"] == "update"
    assert set(entry["after"]) == set(BOOKING)  # only what changed
    assert entry["before"]["bookable"] is False and entry["before"]["remote_daily_cap"] is None
    with db.read() as s:  # the audit entry is in the fairness ledger too
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) >= 1
    # Sent again: nothing changed, nothing recorded.
    client.patch(SERVICE_URL, json=BOOKING, headers=api.manager)
    assert len(audits(db, "service")) == 1
    # null is "no cap"
    response = client.patch(SERVICE_URL, json={"remote_daily_cap": None}, headers=api.manager)
    assert response.get_json()["remote_daily_cap"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"slot_min": 3}, "slot_min"),
        ({"slot_min": 241}, "slot_min"),
        ({"bookings_per_slot": 0}, "bookings_per_slot"),
        ({"booking_days_ahead": -1}, "booking_days_ahead"),
        ({"booking_days_ahead": 367}, "booking_days_ahead"),
        ({"checkin_early_min": -5}, "checkin_early_min"),
        ({"late_grace_min": 1441}, "late_grace_min"),
        ({"after_grace": "maybe"}, "after_grace"),
        ({"remote_daily_cap": -1}, "remote_daily_cap"),
        ({"bookable": "yes"}, "bookable"),
        ({"remote_joining": 1}, "remote_joining"),
        ({"slot_min": 30, "after_grace": "later"}, "after_grace"),  # nothing half-written
    ],
)
def test_a_bad_booking_setting_is_refused_naming_it(client, db, api, change, field):
    before = snapshot(db)
    response = client.patch(SERVICE_URL, json=change, headers=api.manager)
    error = assert_error(response, 422, "invalid_input", field=field)
    assert field in error["message"]
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"slot_min": 4}, "slot_min"),
        ({"bookings_per_slot": 1001}, "bookings_per_slot"),
        ({"after_grace": "queue"}, "after_grace"),
        ({"remote_daily_cap": True}, "remote_daily_cap"),
        ({"checkin_early_min": 2.5}, "checkin_early_min"),
    ],
)
def test_the_admin_functions_hold_the_same_rules(db, center, change, field):
    # The center file and the API reach the same checks (the API's schema first).
    with db.write() as s:
        service = s.scalar(select(Service).where(Service.code == "pension-new"))
        with pytest.raises(InvalidInput) as refused:
            admin.update_service(s, IMPORTER, service.center, service, change)
    assert refused.value.details["field"] == field
    assert refused.value.message.startswith(f"{field}: ")


# --- the center's calendar and door ------------------------------------------------------------


def test_the_centers_calendar_and_door_are_set_in_order_and_audited(client, db, api):
    response = client.patch(SETTINGS_URL, json=CALENDAR, headers=api.manager)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["breaks"] == [{"from": "13:00", "to": "14:00"}, {"from": "16:00", "to": "16:15"}]
    assert body["closed_weekdays"] == [5, 6]
    assert body["closed_days"] == ["2026-12-31", "2027-01-02"]
    assert body["hall_capacity"] == 60 and body["remote_joining"] is True
    assert body["absent_hold_min"] == 20
    [entry] = audits(db, "center")
    assert set(entry["after"]) == set(CALENDAR)
    assert entry["before"]["hall_capacity"] is None and entry["before"]["breaks"] == []
    # The kiosk's catalog says the same.
    catalog = client.get(f"{PREFIX}/centers/baku-1/services", headers=api.kiosk).get_json()
    assert catalog["center"]["breaks"] == body["breaks"]
    # No limit again; no breaks.
    response = client.patch(
        SETTINGS_URL, json={"hall_capacity": None, "breaks": []}, headers=api.manager
    )
    assert response.get_json()["hall_capacity"] is None and response.get_json()["breaks"] == []


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"breaks": [{"from": "08:00", "to": "09:30"}]}, "breaks[0]", "opening hours"),
        ({"breaks": [{"from": "17:30", "to": "18:30"}]}, "breaks[0]", "opening hours"),
        ({"breaks": [{"from": "14:00", "to": "13:00"}]}, "breaks[0]", "later"),
        (
            {"breaks": [{"from": "13:00", "to": "14:00"}, {"from": "13:30", "to": "15:00"}]},
            "breaks[1]",
            "overlaps breaks[0]",
        ),
        # Caught by openapi.json's schema: the message names the item, the field its list.
        ({"breaks": [{"from": "13:00"}]}, "breaks.to", "breaks[0].to"),
        ({"breaks": [{"from": "25:00", "to": "26:00"}]}, "breaks.from", "breaks[0].from"),
        ({"closed_days": ["2026-02-30"]}, "closed_days", "closed_days[0]"),
        ({"closed_days": ["tomorrow"]}, "closed_days", "closed_days[0]"),
        ({"closed_days": ["2026-12-31", "2026-12-31"]}, "closed_days", None),
        ({"closed_weekdays": [7]}, "closed_weekdays", "closed_weekdays[0]"),
        ({"closed_weekdays": [0, 1, 2, 3, 4, 5, 6]}, "closed_weekdays", None),
        ({"hall_capacity": 0}, "hall_capacity", None),
        ({"absent_hold_min": -1}, "absent_hold_min", None),
        ({"remote_joining": "on"}, "remote_joining", None),
        (
            {"hours": {"open": "14:00", "close": "18:00"}, "breaks": CALENDAR["breaks"]},
            "breaks[1]",
            "opening hours",
        ),
    ],
)
def test_a_bad_calendar_is_refused_naming_the_field(client, db, api, change, field, words):
    before = snapshot(db)
    response = client.patch(SETTINGS_URL, json=change, headers=api.manager)
    error = assert_error(response, 422, "invalid_input", field=field)
    if words:
        assert words in error["message"], error
    assert snapshot(db) == before


def test_new_hours_must_still_hold_the_breaks_kept(client, db, api):
    lunch = {"breaks": [{"from": "13:00", "to": "14:00"}]}
    assert client.patch(SETTINGS_URL, json=lunch, headers=api.manager).status_code == 200
    before = snapshot(db)
    later = {"hours": {"open": "14:00", "close": "20:00"}}
    response = client.patch(SETTINGS_URL, json=later, headers=api.manager)
    error = assert_error(response, 422, "invalid_input", field="breaks[0]")
    assert "14:00 to 20:00" in error["message"]
    assert snapshot(db) == before
    earlier = {"hours": {"open": "08:00", "close": "20:00"}}
    assert client.patch(SETTINGS_URL, json=earlier, headers=api.manager).status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"breaks": [{"from": "13:00", "to": "14:00", "why": "lunch"}]}, "breaks[0].why"),
        ({"breaks": "13:00-14:00"}, "breaks"),
        ({"closed_days": ["2026-12-31T00:00"]}, "closed_days[0]"),
        ({"closed_days": ["1999-01-01"]}, "closed_days[0]"),
        ({"closed_weekdays": [True]}, "closed_weekdays"),
        ({"hall_capacity": 100_001}, "hall_capacity"),
    ],
)
def test_the_center_rules_hold_for_the_admin_functions_too(db, center, change, field):
    with db.write() as s:
        row = s.scalar(select(Center).where(Center.code == "baku-1"))
        with pytest.raises(InvalidInput) as refused:
            admin.update_center(s, IMPORTER, row, change)
    assert refused.value.details["field"] == field


def test_staff_and_reception_cannot_change_the_settings(client, db, api):
    with db.write() as s:
        factories.make_staff(s, "rita", "reception", "baku-1")
        rita = {"Authorization": f"Bearer {factories.staff_token(s, 'rita')}"}
    for headers in (api.staff, rita, api.other_manager):
        assert_error(client.patch(SETTINGS_URL, json=CALENDAR, headers=headers), 403, "forbidden")
        assert_error(client.patch(SERVICE_URL, json=BOOKING, headers=headers), 403, "forbidden")


# --- the center file -------------------------------------------------------------------------

YAML = """\
code: baku-9
name: {az: Mərkəz, ru: Центр, en: Center}
hours: {open: 09:00, close: 18:00}
breaks:
  - {from: 13:00, to: 14:00}
closed_weekdays: [6]
closed_days: [2026-12-31, "2027-01-01"]
hall_capacity: 50
remote_joining: true
absent_hold_min: 10
categories:
  - code: docs
    name: {az: Sənədlər, ru: Документы, en: Documents}
    services:
      - code: passport
        prefix: A
        name: {az: Pasport, ru: Паспорт, en: Passport}
        bookable: true
        slot_min: 20
        bookings_per_slot: 3
        booking_days_ahead: 7
        checkin_early_min: 30
        late_grace_min: 10
        after_grace: refuse
        remote_joining: true
        remote_daily_cap: 25
      - code: notary
        prefix: B
        name: {az: Notarius, ru: Нотариус, en: Notary}
"""


def test_a_center_file_sets_every_appointment_setting(db, tmp_path):
    path = tmp_path / "baku-9.yaml"
    path.write_text(YAML, encoding="utf-8")
    with db.write() as s:
        import_center(s, load_center_file(path))
    with db.read() as s:
        center = s.scalar(select(Center).where(Center.code == "baku-9"))
        # Unquoted YAML times (sexagesimal numbers) and dates are taken as they read.
        assert center.breaks == [{"from": "13:00", "to": "14:00"}]
        assert center.closed_weekdays == [6]
        assert center.closed_days == ["2026-12-31", "2027-01-01"]
        assert (center.hall_capacity, center.remote_joining, center.absent_hold_min) == (
            50,
            True,
            10,
        )
        passport, notary = sorted(center.services, key=lambda x: x.code == "notary")
        assert {key: admin.service_state(passport)[key] for key in BOOKING} == {
            **BOOKING,
            "slot_min": 20,
            "bookings_per_slot": 3,
            "booking_days_ahead": 7,
            "checkin_early_min": 30,
            "late_grace_min": 10,
            "remote_daily_cap": 25,
        }
        assert (passport.slot_min, passport.bookings_per_slot, passport.after_grace) == (
            20,
            3,
            "refuse",
        )
        assert (passport.remote_daily_cap, passport.booking_days_ahead) == (25, 7)
        # Left out: the defaults.
        assert (notary.bookable, notary.slot_min, notary.checkin_early_min) == (False, 15, 30)
        assert (notary.late_grace_min, notary.after_grace, notary.remote_daily_cap) == (
            10,
            "walk_in",
            None,
        )
        entries = s.scalar(select(func.count()).select_from(AuditEntry))
    # The same file again changes and records nothing.
    with db.write() as s:
        import_center(s, load_center_file(path))
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == entries
    # Left out of the file later: back to the defaults (the file is the whole center).
    plain = YAML.split("breaks:")[0] + "categories:" + YAML.split("categories:")[1]
    path.write_text(plain.replace("after_grace: refuse", "after_grace: walk_in"), "utf-8")
    with db.write() as s:
        import_center(s, load_center_file(path))
    with db.read() as s:
        center = s.scalar(select(Center).where(Center.code == "baku-9"))
        assert (center.breaks, center.closed_days, center.hall_capacity) == ([], [], None)
        assert center.remote_joining is False and center.absent_hold_min == 15


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("{from: 13:00, to: 14:00}", "{from: 17:00, to: 19:00}", "breaks[0]"),
        ("closed_days: [2026-12-31,", 'closed_days: ["2026-13-01",', "closed_days[0]"),
        ("closed_days: [2026-12-31,", "closed_days: [2026-12-31, 2026-12-31,", "closed_days[1]"),
        ("closed_weekdays: [6]", "closed_weekdays: [8]", "closed_weekdays"),
        ("hall_capacity: 50", "hall_capacity: -3", "hall_capacity"),
        ("slot_min: 20", "slot_min: 2", "categories[0].services[0].slot_min"),
        ("after_grace: refuse", "after_grace: never", "categories[0].services[0].after_grace"),
        (
            "remote_daily_cap: 25",
            "remote_daily_cap: many",
            "categories[0].services[0].remote_daily_cap",
        ),
    ],
)
def test_a_bad_center_file_names_the_field_and_writes_nothing(db, tmp_path, old, new, field):
    assert old in YAML
    path = tmp_path / "baku-9.yaml"
    path.write_text(YAML.replace(old, new), encoding="utf-8")
    before = snapshot(db)
    with pytest.raises(CenterFileError) as refused, db.write() as s:
        import_center(s, load_center_file(path))
    assert refused.value.details["field"] == field, refused.value.message
    assert refused.value.message.startswith(f"{field}: ")
    assert snapshot(db) == before


def test_an_unquoted_impossible_date_is_refused_as_such(db, tmp_path):
    path = tmp_path / "baku-9.yaml"
    path.write_text(YAML.replace("[2026-12-31,", "[2026-13-01,"), encoding="utf-8")
    with pytest.raises(CenterFileError) as refused:
        load_center_file(path)
    assert refused.value.message == f"{path}: not a date: month must be in 1..12"
