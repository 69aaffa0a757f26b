"""The reception role (the volunteers' tablet at the door): it issues tickets on a
visitor's behalf (with a priority class, recorded with who confirmed it), checks
bookings in, and reads the catalog with its waits; everything else is refused.

The role matrix walks every operation of openapi.json: an operation reception may use
is named in RECEPTION_MAY; every other one that needs credentials answers reception
with 403, before anything is looked up. A new operation fails the matrix until it is
classified here (public ones, without credentials, are skipped)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server.appointments.booking import book
from server.auth import staff_actor
from server.extensions import socketio
from server.models import Center, CounterStaff, StaffUser, Ticket, TicketEvent, utcnow
from server.staff_counters import counters_for, may_work_at

from . import factories
from .api_helpers import PREFIX, SCHEMAS, SPEC, assert_error, bearer, issue, setup_api

NS = "/live"
BAKU = ZoneInfo("Asia/Baku")
# (method, path) -> what reception may do there (anything but 401 or 403).
RECEPTION_MAY = {
    ("POST", "/centers/{center_code}/tickets"),  # issue on a visitor's behalf
    ("POST", "/centers/{center_code}/check-in"),  # check a booking in
    ("GET", "/centers/{center_code}/services"),  # the catalog with its waits
    ("GET", "/centers/{center_code}/appointments"),  # today's bookings at the door
}
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def api(db, center):
    return setup_api(db, center)


@pytest.fixture
def reception(db, center, api) -> dict:
    """Rita, reception of baku-1 (made as the admin page makes accounts)."""
    with db.write() as s:
        factories.make_staff(s, "rita", "reception", "baku-1")
        factories.make_staff(s, "rolf", "reception", "ganja-1")
        return {
            "rita": bearer(factories.staff_token(s, "rita")),
            "rolf": bearer(factories.staff_token(s, "rolf")),
        }


# --- the role matrix ----------------------------------------------------------------------


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


PATTERN_SAMPLES = {
    "^[a-z0-9][a-z0-9_-]{0,63}$": "pension-new",
    "^[A-Z]{1,3}$": "Z",
    "^([01]\\d|2[0-3]):[0-5]\\d$": "10:00",
    "^[A-Z]{1,3}[0-9]{3,6}$": "A001",
    "^(k|category|service|number):[A-Za-z0-9_.-]{1,64}$": "service:pension-new",
}


def sample(schema: dict) -> Any:
    """A small instance the schema accepts (required fields only), so that the request
    reaches its view: the role is checked there, after the body's shape."""
    schema = _resolve(schema)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return sample(schema[key][0])
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        props = schema.get("properties", {})
        names = list(schema.get("required", []))
        names += [n for n in props if n not in names][: schema.get("minProperties", 0) - len(names)]
        return {name: sample(props[name]) for name in names}
    if kind == "array":
        return [sample(schema["items"]) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        if schema.get("format") == "date":
            return "2026-12-05"
        pattern = schema.get("pattern")
        if pattern in PATTERN_SAMPLES:
            return PATTERN_SAMPLES[pattern]
        return "x" * max(1, schema.get("minLength", 1))
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    raise AssertionError(f"no sample for {schema}")


def operations() -> list[tuple[str, str, dict]]:
    found = []
    for path, item in SPEC["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            security = operation.get("security", SPEC.get("security", []))
            if security == [] or security == [{}]:
                continue  # public: no credentials, nothing for a role to change
            found.append((method.upper(), path, operation))
    return found


def _path(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def _query(path: str, operation: dict) -> dict[str, Any]:
    """The operation's required query parameters, each with a value its schema takes."""
    params = SPEC["paths"][path].get("parameters", []) + operation.get("parameters", [])
    query = {}
    for param in params:
        param = _resolve_parameter(param)
        if param["in"] == "query" and param.get("required"):
            query[param["name"]] = sample(param["schema"])
    return query


def _resolve_parameter(param: dict) -> dict:
    if "$ref" in param:
        return SPEC["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
    return param


def test_reception_is_refused_everything_it_is_not_named_for(client, db, api, reception):
    ticket = issue(client, api)
    values = {
        "center_code": "baku-1",
        "service_code": "pension-new",
        "category_code": "pensions",
        "counter_id": str(api.counters["1"]),
        "ticket_id": str(ticket["id"]),
        "tracking_token": ticket["tracking_token"],
        "username": "alice",
        "name": "kiosk-1",
        "day": utcnow().date().isoformat(),
        "webhook_id": "1",
        "warning_id": "1",
        "delivery_id": "1",
    }
    seen = set()
    for method, path, operation in operations():
        body = None
        if "requestBody" in operation:
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            body = sample(schema)
        actions = ["recall", "start", "complete", "no-show", "cancel", "park", "resume"]
        actions.append("transfer")
        for action in actions if "{action}" in path else [None]:
            url = PREFIX + _path(path, {**values, "action": action or ""})
            response = client.open(
                url,
                method=method,
                json=body,
                query_string=_query(path, operation),
                headers=reception["rita"],
            )
            status = response.status_code
            where = f"{method} {url}: {status} {response.get_data(as_text=True)[:300]}"
            if (method, path) in RECEPTION_MAY:
                assert status not in (401, 403), where
            else:
                assert status == 403, where
                assert response.get_json()["error"]["code"] == "forbidden", where
        seen.add((method, path))
    # Every operation reception may use still exists (a rename would pass silently).
    assert seen >= RECEPTION_MAY, RECEPTION_MAY - seen
    # Nothing reception sent changed the ticket.
    with db.read() as s:
        assert s.get(Ticket, ticket["id"]).status == "waiting"


def test_reception_of_another_center_is_refused_here(client, api, reception):
    response = client.post(
        f"{PREFIX}/centers/baku-1/tickets",
        json={"service": "pension-new", "language": "az"},
        headers=reception["rolf"],
    )
    assert_error(response, 403, "forbidden")
    response = client.get(f"{PREFIX}/centers/baku-1/services", headers=reception["rolf"])
    assert_error(response, 403, "forbidden")
    response = client.post(
        f"{PREFIX}/centers/baku-1/check-in", json={"code": "ACEFHK"}, headers=reception["rolf"]
    )
    assert_error(response, 403, "forbidden")


# --- what reception does -------------------------------------------------------------------


def test_reception_issues_with_a_priority_class_recorded_with_who_confirmed_it(
    client, db, api, reception
):
    body = issue(client, api, "job-seeker", "ru", "elderly", headers=reception["rita"])
    assert body["priority"] == "elderly" and body["language"] == "ru"
    assert body["status"] == "waiting" and body["number"].startswith("C")
    assert body["print"]["state"] is None  # no kiosk: an e-ticket, its QR on the tablet
    plain = issue(client, api, "job-seeker", headers=reception["rita"])
    with db.read() as s:
        rita = s.scalar(select(StaffUser).where(StaffUser.username == "rita"))
        event = s.scalar(
            select(TicketEvent).where(
                TicketEvent.ticket_id == body["id"], TicketEvent.action == "issue"
            )
        )
        assert event.staff_id == rita.id and event.device_id is None
        assert event.details == {"priority": "elderly", "confirmed_by": "rita"}
        other = s.scalar(select(TicketEvent).where(TicketEvent.ticket_id == plain["id"]))
        assert other.details == {"priority": None}  # nothing to confirm
        ticket = s.get(Ticket, body["id"])
        assert ticket.lane != s.get(Ticket, plain["id"]).lane  # the priority lane
    # An unknown class is refused, naming the field.
    response = client.post(
        f"{PREFIX}/centers/baku-1/tickets",
        json={"service": "job-seeker", "language": "az", "priority": "vip"},
        headers=reception["rita"],
    )
    assert_error(response, 422, "invalid_input", field="priority")


def test_reception_reads_the_catalog_with_waits_but_not_the_queue(client, api, reception):
    issue(client, api, "pension-new")
    response = client.get(f"{PREFIX}/centers/baku-1/services", headers=reception["rita"])
    assert response.status_code == 200
    services = {s["code"]: s for c in response.get_json()["categories"] for s in c["services"]}
    assert services["pension-new"]["waiting"] == 1
    assert services["pension-new"]["estimated_wait_s"] is not None
    response = client.get(f"{PREFIX}/centers/baku-1/queue", headers=reception["rita"])
    assert_error(response, 403, "forbidden")


def _bookable(db, code: str = "job-seeker") -> None:
    """``code`` bookable in 15-minute slots, the center open all day, in a zone where the
    next half hour is still today (Baku, or UTC 4 hours behind it near Baku's midnight),
    so a slot 20 minutes ahead exists at any hour the tests run."""
    with db.write() as s:
        center = s.scalar(select(Center).where(Center.code == "baku-1"))
        service = next(x for x in center.services if x.code == code)
        service.bookable, service.slot_min = True, 15
        center.opens_at, center.closes_at = time(0, 0), time(23, 59)
        center.timezone = same_day_zone(datetime.now(UTC))


def same_day_zone(now: datetime) -> str:
    """Asia/Baku, unless the next half hour there crosses midnight: then UTC."""
    local = now.astimezone(BAKU)
    if (local + timedelta(minutes=30)).date() == local.date() and local.hour != 0:
        return "Asia/Baku"
    return "UTC"


def _booking(db, start: datetime, code: str = "job-seeker") -> str:
    with db.write() as s:
        made = start - timedelta(hours=1)
        return book(s, "baku-1", code, start, "az", now=made).code


def _next_slot(minutes_ahead: int) -> datetime:
    """A 15-minute slot start about ``minutes_ahead`` from now (UTC, aware)."""
    at = datetime.now(UTC) + timedelta(minutes=minutes_ahead)
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


def test_reception_checks_a_booking_in_with_a_priority_class(client, db, api, reception):
    _bookable(db)
    code = _booking(db, _next_slot(20))
    response = client.post(
        f"{PREFIX}/centers/baku-1/check-in",
        json={"code": code.lower(), "priority": "disability"},
        headers=reception["rita"],
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["kind"] == "appointment" and body["late"] is False
    assert body["appointment"]["code"] == code and body["priority"] == "disability"
    # The same code twice: refused with its own code, which the screen words.
    again = client.post(
        f"{PREFIX}/centers/baku-1/check-in", json={"code": code}, headers=reception["rita"]
    )
    assert_error(again, 409, "already_checked_in")
    unknown = client.post(
        f"{PREFIX}/centers/baku-1/check-in", json={"code": "AAAAAA"}, headers=reception["rita"]
    )
    assert_error(unknown, 404, "appointment_not_found")


# --- never at a counter ----------------------------------------------------------------------


def test_reception_never_works_at_a_counter(app, db, api, reception):
    with db.write() as s:
        rita = s.scalar(select(StaffUser).where(StaffUser.username == "rita"))
        assert rita.counter_links == []  # a new reception account gets no counters
        # A staff account turned reception keeps its links; they give it nothing.
        alice = s.scalar(select(StaffUser).where(StaffUser.username == "alice"))
        assert alice.counter_links
        alice.role = "reception"
        s.flush()
        actor = staff_actor(alice)
        center = alice.center
        assert counters_for(s, actor, center) == []
        assert not may_work_at(s, actor, center.counters[0])
        assert s.scalar(select(CounterStaff).where(CounterStaff.staff_id == alice.id))
    token = reception["rita"]["Authorization"].removeprefix("Bearer ")
    for auth in ({"token": token}, {"token": token, "counter": api.counters["1"]}):
        sio = socketio.test_client(app, namespace=NS, auth=auth)
        assert not sio.is_connected(NS), auth
    # The public figures the reception screen follows need no credential at all.
    public = socketio.test_client(app, namespace=NS, auth={"public": "baku-1"})
    assert public.is_connected(NS)
    public.disconnect(namespace=NS)


def test_a_session_login_says_the_role_and_the_page_is_served(client, db, reception):
    response = client.post(
        f"{PREFIX}/auth/session", json={"username": "rita", "password": factories.PASSWORD}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["user"] == {
        "username": "rita",
        "role": "reception",
        "center": "baku-1",
    }
    # With the session cookie as with a token: refused at the counter, let in at the door.
    assert_error(client.get(f"{PREFIX}/centers/baku-1/counters"), 403, "forbidden")
    assert client.get(f"{PREFIX}/centers/baku-1/services").status_code == 200
    page = client.get("/reception?lang=ru")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b'id="checkin-form"' in page.data and b"reception.js" in page.data


def test_the_admin_page_makes_reception_accounts(client, db, api):
    response = client.post(
        f"{PREFIX}/centers/baku-1/staff",
        json={"username": "door", "password": "long-enough-1", "role": "reception"},
        headers=api.manager,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["role"] == "reception"
    with db.read() as s:
        door = s.scalar(select(StaffUser).where(StaffUser.username == "door"))
        assert door.role == "reception" and door.counter_links == []
