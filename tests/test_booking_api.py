"""The booking API over HTTP (server/api/appointments.py): public, no credentials, every
answer as openapi.json documents it, bad input refused naming the field.

The server's clock is real here, so days are reckoned from the center's today."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server.api.openapi import SPEC_PATH
from server.models import Appointment, Center, Service, utcnow

from . import factories
from .api_helpers import assert_error
from .test_openapi import check

PREFIX = "/api/v1"
SPEC = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
BAKU = ZoneInfo("Asia/Baku")
SLOTS = "/public/centers/{center_code}/slots"
BOOK = "/public/centers/{center_code}/appointments"
ONE = "/appointments/{token}"


@pytest.fixture
def bookable(db, center):
    """pension-new bookable, 1 place a slot; job-seeker is not bookable."""
    with db.write() as s:
        service = s.scalar(
            select(Service).where(Service.center_id == center.id, Service.code == "pension-new")
        )
        service.bookable = True
        service.booking_days_ahead = 7
    return db


def day_ahead(days: int = 2) -> str:
    return (utcnow().astimezone(BAKU).date() + timedelta(days=days)).isoformat()


def get_slots(client, day: str | None = None, service: str = "pension-new"):
    day = day or day_ahead()
    response = client.get(f"{PREFIX}/public/centers/baku-1/slots?service={service}&date={day}")
    return response


def post_booking(client, start: str, **fields):
    body = {"service": "pension-new", "start": start, "language": "ru", **fields}
    return client.post(f"{PREFIX}/public/centers/baku-1/appointments", json=body)


def first_start(client) -> str:
    return get_slots(client).get_json()["slots"][0]["start"]


def test_booking_info_lists_only_bookable_services(client, bookable):
    response = client.get(f"{PREFIX}/public/centers/baku-1/booking")
    body = check(SPEC, response, "GET", "/public/centers/{center_code}/booking")
    assert [s["code"] for s in body["services"]] == ["pension-new"]
    assert body["center"]["name"]["az"] == "Center baku-1 (az)"
    assert_error(client.get(f"{PREFIX}/public/centers/nope/booking"), 404, "center_not_found")


def test_booking_info_offers_joining_from_home_only_where_and_while_it_is_on(
    client, bookable, db, center
):
    """``join``: the services a visitor may join from home now, with their line; empty
    when the center's switch is off, the service does not offer it, or it is closed."""

    def join():
        response = client.get(f"{PREFIX}/public/centers/baku-1/booking")
        return check(SPEC, response, "GET", "/public/centers/{center_code}/booking")["join"]

    assert join() == []
    with db.write() as s:
        row = s.get(Center, center.id)
        row.opens_at, row.closes_at = time(0, 0), time(23, 59)
        service = s.scalar(
            select(Service).where(Service.center_id == center.id, Service.code == "job-seeker")
        )
        service.remote_joining = True
    assert join() == []  # the center's switch is off
    with db.write() as s:
        s.get(Center, center.id).remote_joining = True
    client.post(  # one visitor already in that line
        f"{PREFIX}/public/centers/baku-1/remote-tickets",
        json={"service": "job-seeker", "language": "az"},
    )
    [line] = join()
    assert (line["code"], line["waiting"]) == ("job-seeker", 1)
    assert line["name"]["az"] and "estimated_wait_s" in line
    with db.write() as s:
        row = s.get(Center, center.id)
        row.closed_weekdays = list(range(7))  # closed every day: not now either
    assert join() == []


def test_slots_are_local_wall_times_with_the_offset(client, bookable):
    response = get_slots(client)
    body = check(SPEC, response, "GET", SLOTS)
    assert response.headers["Cache-Control"] == "no-store"
    starts = [slot["start"] for slot in body["slots"]]
    assert starts[0] == f"{day_ahead()}T09:00:00+04:00"
    assert starts[-1] == f"{day_ahead()}T17:45:00+04:00" and len(starts) == 36
    assert {slot["free"] for slot in body["slots"]} == {1}


def test_free_days_list_the_booking_window(client, bookable):
    response = client.get(f"{PREFIX}/public/centers/baku-1/booking-days?service=pension-new")
    body = check(SPEC, response, "GET", "/public/centers/{center_code}/booking-days")
    days = [d["date"] for d in body["days"]]
    assert days[-1] == day_ahead(7) and day_ahead(1) in days and len(days) in (7, 8)


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ("service=pension-new&date=2026-02-30", 422, "invalid_input", "date"),
        ("service=pension-new&date=tomorrow", 422, "invalid_input", "date"),
        ("service=pension-new", 422, "invalid_input", "date"),
        ("date={day}", 422, "invalid_input", "service"),
        ("service=pension-new&date={far}", 422, "too_far_ahead", "date"),
        ("service=pension-new&date={past}", 422, "date_in_past", "date"),
        ("service=pension-new&date={day}&day={day}", 422, "invalid_input", "day"),
        ("service=nope&date={day}", 404, "service_not_found", "service"),
        ("service=job-seeker&date={day}", 409, "service_not_bookable", "service"),
    ],
)
def test_bad_slot_queries_name_the_field(client, bookable, query, status, code, field):
    query = query.format(day=day_ahead(), far=day_ahead(8), past=day_ahead(-1))
    response = client.get(f"{PREFIX}/public/centers/baku-1/slots?{query}")
    assert_error(response, status, code, field=field)
    check(SPEC, response, "GET", SLOTS)


def test_book_see_calendar_qr_and_cancel(client, bookable, caplog):
    caplog.set_level(logging.DEBUG)
    start = first_start(client)
    response = post_booking(client, start, contact="+994 50 555 12 34")
    body = check(SPEC, response, "POST", BOOK)
    assert response.status_code == 201
    token = body["token"]
    assert response.headers["Location"] == f"{PREFIX}/appointments/{token}"
    assert body["start"] == start and body["end"].endswith("T09:15:00+04:00")
    assert body["state"] == "booked" and body["language"] == "ru" and body["cancellable"]
    assert body["service"]["code"] == "pension-new" and body["center"]["code"] == "baku-1"
    assert body["links"]["page"] == f"http://localhost/a/{token}"

    # The slot is now full, for the next visitor.
    assert get_slots(client).get_json()["slots"][0]["free"] == 0
    assert_error(post_booking(client, start), 409, "slot_full", field="start")

    seen = client.get(f"{PREFIX}/appointments/{token}")
    assert check(SPEC, seen, "GET", ONE) == body

    ics = client.get(body["links"]["ics"])
    assert ics.status_code == 200 and ics.mimetype == "text/calendar"
    text = ics.get_data(as_text=True)
    assert "BEGIN:VEVENT\r\n" in text and f"Код записи: {body['code']}" in text
    assert "attachment" in ics.headers["Content-Disposition"]

    qr = client.get(body["links"]["qr"])
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    assert qr.get_data().lstrip().startswith(b"<?xml")

    cancelled = client.delete(f"{PREFIX}/appointments/{token}")
    assert check(SPEC, cancelled, "DELETE", ONE)["state"] == "cancelled"
    again = client.delete(f"{PREFIX}/appointments/{token}")
    assert again.status_code == 200 and again.get_json()["state"] == "cancelled"
    assert not again.get_json()["cancellable"]
    # Held: not bookable again yet (against slot trading).
    assert get_slots(client).get_json()["slots"][0]["free"] == 0

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "555" not in logged and "+994" not in logged


def test_contact_is_kept_as_a_digest_only(client, bookable, db):
    post_booking(client, first_start(client), contact="visitor@example.org")
    with db.read() as s:
        row = s.scalar(select(Appointment))
        values = [str(getattr(row, c.key)) for c in Appointment.__table__.columns]
        assert len(row.contact_digest) == 64 and len(row.client_digest) == 64
    assert not [v for v in values if "example" in v or "visitor" in v or "127.0.0.1" in v]


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"start": "tomorrow at ten"}, 422, "invalid_input", "start"),
        ({"start": "{day}T10:00:00"}, 422, "invalid_input", "start"),  # no offset
        ({"start": "{day}T10:05:00+04:00"}, 422, "slot_not_offered", "start"),
        ({"start": "{day}T13:00:00+04:00"}, 200, None, None),  # 13:00 Baku is a slot
        ({"start": "{day}T18:00:00+04:00"}, 422, "slot_not_offered", "start"),
        ({"start": "{far}T10:00:00+04:00"}, 422, "too_far_ahead", "start"),
        ({"start": "{past}T10:00:00+04:00"}, 422, "slot_in_past", "start"),
        ({"start": 5}, 422, "invalid_input", "start"),
        ({"language": "de"}, 422, "invalid_input", "language"),
        ({"language": None}, 422, "invalid_input", "language"),
        ({"service": "job-seeker"}, 409, "service_not_bookable", "service"),
        ({"service": "nope"}, 404, "service_not_found", "service"),
        ({"contact": "x" * 101}, 422, "invalid_input", "contact"),
        ({"contact": "a\u0000b"}, 422, "invalid_input", "contact"),
        ({"extra": 1}, 422, "invalid_input", "extra"),
    ],
)
def test_bad_bookings_name_the_field(client, bookable, db, change, status, code, field):
    body = {"service": "pension-new", "start": "{day}T10:00:00+04:00", "language": "az"}
    body.update(change)
    for name, value in body.items():
        if isinstance(value, str):
            body[name] = value.format(day=day_ahead(), far=day_ahead(8), past=day_ahead(-1))
    response = client.post(f"{PREFIX}/public/centers/baku-1/appointments", json=body)
    if code is None:
        assert response.status_code == 201, response.get_json()
        return
    assert_error(response, status, code, field=field)
    check(SPEC, response, "POST", BOOK)
    with db.read() as s:
        assert s.scalar(select(Appointment)) is None  # nothing half-written


def test_a_malformed_body_is_400(client, bookable):
    response = client.post(
        f"{PREFIX}/public/centers/baku-1/appointments",
        data="{not json",
        content_type="application/json",
    )
    assert_error(response, 400, "malformed_request")


def test_bodies_that_are_not_json_say_why(client, bookable):
    url = f"{PREFIX}/public/centers/baku-1/appointments"
    huge = client.post(url, data='{"service": ' + "9" * 5000 + "}", content_type="application/json")
    message = assert_error(huge, 400, "malformed_request")["message"]
    assert message.startswith("request body is not valid JSON: ") and "digits" in message
    deep = client.post(url, data="[" * 100 + "]" * 100, content_type="application/json")
    assert (
        assert_error(deep, 400, "malformed_request")["message"]
        == "the JSON body may be nested at most 32 levels deep"
    )
    text = client.post(url, data="service=x", content_type="text/plain")
    assert (
        "Content-Type: application/json" in assert_error(text, 400, "malformed_request")["message"]
    )


def test_booking_info_refuses_unknown_parameters(client, bookable):
    refused = client.get(f"{PREFIX}/public/centers/baku-1/booking?x=1")
    error = assert_error(refused, 422, "invalid_input", field="x")
    assert error["message"] == "unknown parameter(s): x; it takes none"


def test_per_contact_and_per_client_limits_are_429(client, app, bookable):
    slots = [s["start"] for s in get_slots(client).get_json()["slots"]]
    for start in slots[:2]:
        assert post_booking(client, start, contact="+994501112233").status_code == 201
    refused = post_booking(client, slots[2], contact="+994 50 111 22 33")
    error = assert_error(refused, 429, "contact_limit", field="contact")
    assert "at most 2 a day" in error["message"]
    check(SPEC, refused, "POST", BOOK)
    app.config["APPOINTMENT_BOOKINGS_PER_CLIENT_PER_DAY"] = 3
    assert post_booking(client, slots[3]).status_code == 201
    refused = post_booking(client, slots[4])
    error = assert_error(refused, 429, "client_limit")
    assert "try again tomorrow" in error["message"]
    # Another address is not limited by this one's bookings.
    other = client.post(
        f"{PREFIX}/public/centers/baku-1/appointments",
        json={"service": "pension-new", "start": slots[4], "language": "en"},
        environ_base={"REMOTE_ADDR": "10.9.9.9"},
    )
    assert other.status_code == 201


@pytest.mark.parametrize("token", ["nope", "a" * 64, "a" * 65, "a%00b", "a.b"])
@pytest.mark.parametrize("suffix", ["", "/calendar.ics", "/qr.svg"])
def test_unknown_tokens_are_404(client, bookable, token, suffix):
    assert_error(client.get(f"{PREFIX}/appointments/{token}{suffix}"), 404, "appointment_not_found")
    assert "tracking" not in client.get(f"{PREFIX}/appointments/{token}{suffix}").get_data(True)
    if not suffix:
        response = client.delete(f"{PREFIX}/appointments/{token}")
        assert_error(response, 404, "appointment_not_found")


def test_no_credentials_needed_and_staff_tokens_change_nothing(client, bookable):
    start = first_start(client)
    response = post_booking(client, start)
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers
    token = response.get_json()["token"]
    assert client.get(f"{PREFIX}/appointments/{token}").status_code == 200


def test_a_started_booking_cannot_be_cancelled(client, bookable, db):
    token = post_booking(client, first_start(client)).get_json()["token"]
    with db.write() as s:
        row = s.scalar(select(Appointment).where(Appointment.token == token))
        row.start = utcnow() - timedelta(minutes=1)
    response = client.delete(f"{PREFIX}/appointments/{token}")
    assert_error(response, 409, "appointment_started")
    check(SPEC, response, "DELETE", ONE)
    assert client.get(f"{PREFIX}/appointments/{token}").get_json()["cancellable"] is False


def test_only_today_slots_not_started(client, bookable, db):
    """Today's slots never include one that has started (the clock is the server's)."""
    now = utcnow()
    with db.write() as s:
        center = s.scalar(select(Center).where(Center.code == "baku-1"))
        center.opens_at = datetime.min.time()
        center.closes_at = datetime.min.time()  # open around the clock
    body = get_slots(client, day_ahead(0)).get_json()
    starts = [datetime.fromisoformat(slot["start"]) for slot in body["slots"]]
    assert starts and all(start > now for start in starts)
    assert starts[0] - now <= timedelta(minutes=15)


def test_the_pages_carry_the_policy_and_no_inline_script(client, bookable):
    token = post_booking(client, first_start(client)).get_json()["token"]
    pages = [
        ("/book/baku-1", {"Accept-Language": "ru-RU,ru;q=0.9"}, 200, "ru"),
        ("/book/baku-1?lang=en", {"Accept-Language": "ru"}, 200, "en"),
        ("/book/no-such-center", {}, 404, "az"),
        (f"/a/{token}", {"Accept-Language": "en"}, 200, "ru"),  # the booking's language
        (f"/a/{token}?lang=az", {}, 200, "az"),
        ("/a/no-such-token", {"Accept-Language": "en"}, 404, "en"),
        ("/a/a%00b", {}, 404, "az"),
    ]
    for path, headers, status, lang in pages:
        response = client.get(path, headers=headers)
        assert response.status_code == status, path
        html = response.get_data(as_text=True)
        assert f'<html lang="{lang}">' in html, path
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        scripts = re.findall(r"<script([^>]*)>", html)
        assert all("src=" in attrs or 'type="application/json"' in attrs for attrs in scripts)
        assert not re.search(r"\son[a-z]+=", html), path
        assert "book.js" in html


def last_sunday(year: int, month: int):
    day = datetime(year, month + 1, 1) - timedelta(days=1)
    return (day - timedelta(days=(day.weekday() + 1) % 7)).date()


def next_clock_changes() -> list:
    """Berlin's next spring-forward and fall-back days (last Sundays of March and October),
    both within a year of the real today."""
    today = utcnow().date()
    found = []
    for month in (3, 10):
        day = last_sunday(today.year, month)
        found.append(day if day > today else last_sunday(today.year + 1, month))
    return found


def test_slots_on_berlin_clock_change_days_carry_each_instants_offset(client, db):
    with db.write() as s:
        c = factories.make_center(s, "berlin-1", timezone="Europe/Berlin")
        c.opens_at = c.closes_at = datetime.min.time()  # round the clock
        service = s.scalar(
            select(Service).where(Service.center_id == c.id, Service.code == "pension-new")
        )
        service.bookable, service.slot_min, service.booking_days_ahead = True, 60, 366
    spring, autumn = next_clock_changes()
    for day, hours, offsets in [
        (spring, [0, 1, *range(3, 24)], ["+01:00"] * 2 + ["+02:00"] * 21),
        (autumn, list(range(24)), ["+02:00"] * 3 + ["+01:00"] * 21),
    ]:
        response = client.get(
            f"{PREFIX}/public/centers/berlin-1/slots?service=pension-new&date={day}"
        )
        starts = [slot["start"] for slot in check(SPEC, response, "GET", SLOTS)["slots"]]
        assert [int(start[11:13]) for start in starts] == hours, day
        assert [start[-6:] for start in starts] == offsets, day
        instants = [datetime.fromisoformat(start) for start in starts]
        assert len(set(instants)) == len(instants)
        assert all(
            b - a >= timedelta(hours=1) for a, b in zip(instants, instants[1:], strict=False)
        )
    # A slot after the change books with its own offset; the same instant in UTC too.
    response = post_booking_at(client, "berlin-1", f"{spring}T03:00:00+02:00")
    assert response.status_code == 201 and response.get_json()["start"].endswith("+02:00")
    response = post_booking_at(client, "berlin-1", f"{spring}T00:00:00Z")  # 01:00 local
    assert response.status_code == 201
    assert response.get_json()["start"] == f"{spring}T01:00:00+01:00"
    assert_error(
        post_booking_at(client, "berlin-1", f"{spring}T02:00:00+01:00"),  # = 03:00+02:00
        409,
        "slot_full",
    )


def post_booking_at(client, center_code: str, start: str):
    body = {"service": "pension-new", "start": start, "language": "en"}
    return client.post(f"{PREFIX}/public/centers/{center_code}/appointments", json=body)
