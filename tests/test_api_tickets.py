"""HTTP API: issuing tickets, the visitor's public status, and staff actions on a ticket."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import func, select

from server.auth import rotate_device_token
from server.models import Device, IdempotencyKey, Service, Ticket, TicketEvent

from . import factories
from .api_helpers import (
    PREFIX,
    SCHEMAS,
    act,
    assert_error,
    bearer,
    call_next,
    event_actions,
    issue,
    setup_api,
    ticket_count,
    ticket_status,
)

ISSUE_URL = f"{PREFIX}/centers/baku-1/tickets"
# The fields the issuing response must carry; the OpenAPI Ticket schema adds
# counter, recall_count and the call/start/end times.
ISSUE_FIELDS = {
    "id",
    "number",
    "service",
    "status",
    "priority",
    "language",
    "position",
    "estimated_wait_s",
    "tracking_token",
    "created_at",
}
TICKET_FIELDS = set(SCHEMAS["Ticket"]["properties"])  # tracking_token included
PUBLIC_FIELDS = set(SCHEMAS["PublicTicket"]["properties"])


@pytest.fixture
def api(db, center):
    return setup_api(db, center)


def parse_time(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- issuing ---------------------------------------------------------------------------


def test_issue_returns_201_with_exactly_the_documented_fields(client, db, api):
    assert ISSUE_FIELDS <= TICKET_FIELDS
    r = client.post(
        ISSUE_URL, json={"service": "pension-new", "language": "en", "priority": None}, **_k(api)
    )
    assert r.status_code == 201
    body = r.get_json()
    assert set(body) == TICKET_FIELDS
    assert {k: body[k] for k in ("number", "service", "status", "priority", "language")} == {
        "number": "A001",
        "service": "pension-new",
        "status": "waiting",
        "priority": None,
        "language": "en",
    }
    # First in line; no service history yet, so 5 default minutes over one counter:
    # (1 - 0.5) * 300 s / 1.
    assert (body["position"], body["estimated_wait_s"]) == (1, 150)
    assert (body["counter"], body["recall_count"], body["called_at"]) == (None, 0, None)
    parse_time(body["created_at"])
    assert r.headers["Location"] == f"{PREFIX}/tickets/{body['tracking_token']}"
    with db.read() as s:
        ticket = s.get(Ticket, body["id"])
        assert ticket.display_number == "A001"
        kiosk = s.scalar(
            select(Device).where(Device.name == "kiosk-1", Device.center_id == ticket.center_id)
        )
        assert ticket.device_id == kiosk.id
        assert ticket.service.center.code == "baku-1"

    second = issue(client, api, priority="elderly", language="ru")
    assert (second["number"], second["priority"], second["language"]) == ("A002", "elderly", "ru")
    # A priority ticket goes ahead of the normal one.
    assert (second["position"], second["estimated_wait_s"]) == (1, 150)
    third = issue(client, api)
    assert (third["number"], third["position"], third["estimated_wait_s"]) == ("A003", 3, 750)
    assert event_actions(db, body["id"]) == ["issue"]


def _k(api) -> dict:
    return {"headers": api.kiosk}


def test_staff_manager_and_admin_may_issue_on_a_visitors_behalf(client, db, api):
    numbers = [
        issue(client, api, "job-seeker", headers=headers)["number"]
        for headers in (api.staff, api.manager, api.admin)
    ]
    assert numbers == ["C001", "C002", "C003"]
    with db.read() as s:
        assert s.scalars(select(Ticket.device_id)).all() == [None, None, None]
        issuers = s.scalars(
            select(TicketEvent.staff_id).where(TicketEvent.action == "issue").order_by("id")
        ).all()
    assert issuers == [api.staff_ids["alice"], api.staff_ids["maria"], api.staff_ids["root"]]


# --- idempotency -------------------------------------------------------------------------


def test_idempotency_key_retry_returns_the_same_ticket(client, db, api):
    body = {"service": "pension-new", "language": "az", "priority": "veteran"}
    headers = {**api.kiosk, "Idempotency-Key": "kiosk-1-0001"}
    first = client.post(ISSUE_URL, json=body, headers=headers)
    assert first.status_code == 201
    again = client.post(ISSUE_URL, json=body, headers=headers)
    assert again.status_code == 200  # a replay, not a new ticket
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert ticket_count(db) == 1
    assert event_actions(db, first.get_json()["id"]) == ["issue"]

    # A different key is a different visitor.
    other = client.post(ISSUE_URL, json=body, headers={**api.kiosk, "Idempotency-Key": "k-2"})
    assert other.status_code == 201
    assert other.get_json()["number"] == "A002"
    assert ticket_count(db) == 2


def test_idempotent_replay_shows_the_ticket_as_it_is_now(client, api):
    body = {"service": "pension-new", "language": "az"}
    headers = {**api.kiosk, "Idempotency-Key": "abc"}
    ticket = client.post(ISSUE_URL, json=body, headers=headers).get_json()
    assert call_next(client, api).status_code == 200
    replay = client.post(ISSUE_URL, json=body, headers=headers)
    assert replay.status_code == 200
    replayed = replay.get_json()
    assert (replayed["id"], replayed["status"]) == (ticket["id"], "called")
    assert replayed["tracking_token"] == ticket["tracking_token"]


@pytest.mark.parametrize(
    "changed",
    [
        {"language": "ru"},
        {"service": "pension-recalc"},
        {"priority": "elderly"},
    ],
)
def test_same_idempotency_key_with_a_different_body_is_refused(client, db, api, changed):
    body = {"service": "pension-new", "language": "az", "priority": None}
    headers = {**api.kiosk, "Idempotency-Key": "retry-me"}
    first = client.post(ISSUE_URL, json=body, headers=headers)
    assert first.status_code == 201
    r = client.post(ISSUE_URL, json={**body, **changed}, headers=headers)
    assert_error(r, 422, "idempotency_key_reused", field="Idempotency-Key")
    assert ticket_count(db) == 1
    # The original request still replays.
    assert (
        client.post(ISSUE_URL, json=body, headers=headers).get_json()["id"]
        == (first.get_json()["id"])
    )


def test_idempotency_keys_belong_to_the_caller(client, db, api, center):
    with db.write() as s:
        s.add(Device(center_id=center.id, kind="kiosk", name="kiosk-2", settings={}))
        s.flush()
        kiosk2 = bearer(factories.device_token(s, center, "kiosk-2"))
    body = {"service": "pension-new", "language": "az"}
    numbers = []
    for headers in (api.kiosk, kiosk2, api.staff):
        r = client.post(ISSUE_URL, json=body, headers={**headers, "Idempotency-Key": "same"})
        assert r.status_code == 201  # another kiosk's (or person's) key is not ours
        numbers.append(r.get_json()["number"])
    assert numbers == ["A001", "A002", "A003"]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyKey)) == 3


@pytest.mark.parametrize("key", ["", "k" * 129])
def test_empty_or_overlong_idempotency_key_is_refused(client, db, api, key):
    r = client.post(
        ISSUE_URL,
        json={"service": "pension-new", "language": "az"},
        headers={**api.kiosk, "Idempotency-Key": key},
    )
    assert_error(r, 422, "invalid_input", field="Idempotency-Key")
    assert ticket_count(db) == 0


def test_longest_allowed_idempotency_key_works(client, api):
    headers = {**api.kiosk, "Idempotency-Key": "k" * 128}
    body = {"service": "pension-new", "language": "az"}
    assert client.post(ISSUE_URL, json=body, headers=headers).status_code == 201
    assert client.post(ISSUE_URL, json=body, headers=headers).status_code == 200


# --- who may issue -----------------------------------------------------------------------


def test_issue_without_credentials_is_401(client, db, api):
    r = client.post(ISSUE_URL, json={"service": "pension-new", "language": "az"})
    assert_error(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="novbe"'
    assert ticket_count(db) == 0


@pytest.mark.parametrize(
    "token",
    ["nonsense", "st_" + "x" * 43, "dv_" + "x" * 43, "st_", "dv_"],
)
def test_issue_with_an_unknown_token_is_401(client, db, api, token):
    r = client.post(
        ISSUE_URL, json={"service": "pension-new", "language": "az"}, headers=bearer(token)
    )
    assert_error(r, 401, "invalid_token")
    assert ticket_count(db) == 0


def test_a_rotated_kiosk_token_stops_working(client, db, api, center):
    with db.write() as s:
        rotate_device_token(s, factories.device(s, center, "kiosk-1"))
    r = client.post(ISSUE_URL, json={"service": "pension-new", "language": "az"}, **_k(api))
    assert_error(r, 401, "invalid_token")
    assert ticket_count(db) == 0


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Token abc"])
def test_a_malformed_authorization_header_is_400(client, db, api, header):
    r = client.post(
        ISSUE_URL,
        json={"service": "pension-new", "language": "az"},
        headers={"Authorization": header},
    )
    assert_error(r, 400, "malformed_request", field="Authorization")
    assert ticket_count(db) == 0


@pytest.mark.parametrize("caller", ["display", "other_kiosk", "other_staff", "other_manager"])
def test_issue_by_a_display_or_another_centers_caller_is_403(client, db, api, caller):
    r = client.post(
        ISSUE_URL,
        json={"service": "pension-new", "language": "az"},
        headers=getattr(api, caller),
    )
    assert_error(r, 403, "forbidden")
    assert ticket_count(db) == 0


# --- bad requests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ('{"service": "pension-new", "language": ', "application/json"),
        ('["pension-new", "az"]', "application/json"),
        ('"pension-new"', "application/json"),
        ("null", "application/json"),
        ("service=pension-new&language=az", "application/x-www-form-urlencoded"),
        ('{"service": "pension-new", "language": "az"}', "text/plain"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(client, db, api, data, content_type):
    r = client.post(ISSUE_URL, data=data, content_type=content_type, headers=api.kiosk)
    assert_error(r, 400, "malformed_request")
    assert ticket_count(db) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"service": "pension-new", "language": "az", "name": "Ali Aliyev"}, "name"),
        ({"service": "pension-new", "language": "az", "fin": "5XK2L1"}, "fin"),
        ({"service": "pension-new", "language": "de"}, "language"),
        ({"service": "pension-new", "language": "AZ"}, "language"),
        ({"service": "pension-new"}, "language"),
        ({"service": "pension-new", "language": None}, "language"),
        ({"service": "pension-new", "language": 1}, "language"),
        ({"language": "az"}, "service"),
        ({"service": 7, "language": "az"}, "service"),
        ({"service": ["pension-new"], "language": "az"}, "service"),
        ({"service": "pension-new", "language": "az", "priority": "vip"}, "priority"),
        ({"service": "pension-new", "language": "az", "priority": ""}, "priority"),
        ({"service": "pension-new", "language": "az", "priority": True}, "priority"),
        ({}, "service"),
    ],
)
def test_invalid_fields_are_422_naming_the_field(client, db, api, body, field):
    r = client.post(ISSUE_URL, json=body, headers=api.kiosk)
    error = assert_error(r, 422, "invalid_input", field=field)
    assert field in error["message"]
    assert ticket_count(db) == 0


def test_an_empty_body_is_422_naming_the_first_missing_field(client, db, api):
    r = client.post(ISSUE_URL, headers=api.kiosk)
    assert_error(r, 422, "invalid_input", field="service")


def test_unknown_service_or_center_is_404(client, db, api):
    # The issue and openapi.json give 404 (not 422) for an unknown service or center.
    r = client.post(ISSUE_URL, json={"service": "passports", "language": "az"}, **_k(api))
    error = assert_error(r, 404, "service_not_found")
    assert "passports" in error["message"]
    r = client.post(
        f"{PREFIX}/centers/nowhere/tickets",
        json={"service": "pension-new", "language": "az"},
        headers=api.kiosk,
    )
    error = assert_error(r, 404, "center_not_found")
    assert "nowhere" in error["message"]
    assert ticket_count(db) == 0


def test_inactive_service_is_409(client, db, api, center):
    with db.write() as s:
        _service(s, center, "pension-recalc").active = False
    r = client.post(ISSUE_URL, json={"service": "pension-recalc", "language": "az"}, **_k(api))
    assert_error(r, 409, "service_inactive")
    assert ticket_count(db) == 0


def _service(session, center, code: str) -> Service:
    return session.scalar(
        select(Service).where(Service.center_id == center.id, Service.code == code)
    )


def test_daily_quota_refuses_without_using_up_a_number(client, db, api, center):
    numbers = [issue(client, api, "unemployment")["number"] for _ in range(3)]
    assert numbers == ["D001", "D002", "D003"]
    r = client.post(ISSUE_URL, json={"service": "unemployment", "language": "az"}, **_k(api))
    assert_error(r, 409, "quota_reached")
    assert ticket_count(db) == 3
    with db.write() as s:
        _service(s, center, "unemployment").daily_quota = 4
    assert issue(client, api, "unemployment")["number"] == "D004"  # no gap


# --- tracking token and the public view --------------------------------------------------


def test_tracking_tokens_are_long_random_and_not_the_id(client, db, api):
    tickets = [issue(client, api) for _ in range(6)]
    tokens = [t["tracking_token"] for t in tickets]
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        # token_urlsafe(16): 22 URL-safe characters = 128 random bits
        assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", token), token
    # Sequential handles do not work on the public page.
    for handle in (str(tickets[0]["id"]), tickets[0]["number"], "A001"):
        assert_error(client.get(f"{PREFIX}/tickets/{handle}"), 404, "ticket_not_found")
    # Only the stored token opens it, exactly.
    token = tokens[0]
    assert client.get(f"{PREFIX}/tickets/{token}").status_code == 200
    assert_error(client.get(f"{PREFIX}/tickets/{token[:-1]}"), 404, "ticket_not_found")
    assert_error(client.get(f"{PREFIX}/tickets/{token.swapcase()}"), 404, "ticket_not_found")


def test_public_view_has_no_id_or_priority(client, db, api):
    ticket = issue(client, api, priority="disability", language="ru")
    r = client.get(f"{PREFIX}/tickets/{ticket['tracking_token']}")  # no credentials
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    public = r.get_json()
    assert set(public) == PUBLIC_FIELDS
    assert not {"id", "priority", "tracking_token", "recall_count"} & set(public)
    assert "disability" not in r.get_data(as_text=True)
    assert public["number"] == "A001"
    assert public["service"] == {"code": "pension-new", "name": factories.names("New pension")}
    assert (public["status"], public["language"], public["position"]) == ("waiting", "ru", 1)
    assert (public["estimated_wait_s"], public["counter"], public["called_at"]) == (150, None, None)
    assert public["created_at"] == ticket["created_at"]


def test_public_view_follows_the_ticket_to_the_counter(client, db, api):
    ticket = issue(client, api)
    url = f"{PREFIX}/tickets/{ticket['tracking_token']}"
    assert call_next(client, api, "2").status_code == 200
    public = client.get(url).get_json()
    assert (public["status"], public["counter"], public["position"]) == (
        "called",
        {"label": "2"},
        None,
    )
    assert public["estimated_wait_s"] is None
    assert public["called_at"] is not None
    assert act(client, api, ticket["id"], "start").status_code == 200
    public = client.get(url).get_json()
    assert (public["status"], public["counter"]) == ("serving", {"label": "2"})
    assert act(client, api, ticket["id"], "complete").status_code == 200
    public = client.get(url).get_json()
    assert (public["status"], public["counter"]) == ("done", None)


def test_public_view_ignores_credentials(client, api):
    ticket = issue(client, api)
    url = f"{PREFIX}/tickets/{ticket['tracking_token']}"
    # A public page works with a stale token in the browser too.
    assert client.get(url, headers=bearer("st_expired")).status_code == 200


# --- ticket actions ----------------------------------------------------------------------

STAFF_VIEW = TICKET_FIELDS - {"tracking_token", "print"}  # both only in the issue response


def test_full_lifecycle_through_the_action_endpoints(client, db, api):
    ticket = issue(client, api)
    tid = ticket["id"]
    called = call_next(client, api, "1").get_json()
    assert (called["id"], called["status"]) == (tid, "called")

    r = act(client, api, tid, "recall")
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == STAFF_VIEW
    assert (body["status"], body["recall_count"]) == ("called", 1)

    body = act(client, api, tid, "start").get_json()
    assert body["status"] == "serving" and body["started_at"] is not None

    body = act(client, api, tid, "park", {"reason": "fetching passport"}).get_json()
    assert (body["status"], body["position"]) == ("parked", None)

    body = act(client, api, tid, "resume").get_json()
    assert (body["status"], body["counter"], body["position"]) == ("waiting", None, 1)

    issue(client, api)  # a newer visitor does not jump the resumed one
    again = call_next(client, api, "1").get_json()
    assert (again["id"], again["status"], again["recall_count"]) == (tid, "called", 0)
    assert act(client, api, tid, "start").status_code == 200
    body = act(client, api, tid, "complete").get_json()
    assert (body["status"], body["position"], body["estimated_wait_s"]) == ("done", None, None)
    assert body["ended_at"] is not None

    assert event_actions(db, tid) == [
        "issue",
        "call",
        "recall",
        "start",
        "park",
        "resume",
        "call",
        "start",
        "complete",
    ]
    with db.read() as s:
        park = s.scalar(
            select(TicketEvent).where(TicketEvent.ticket_id == tid, TicketEvent.action == "park")
        )
        assert (park.reason, park.staff_id) == ("fetching passport", api.staff_ids["alice"])


def test_no_show_needs_the_configured_recalls(client, db, api):
    tid = issue(client, api)["id"]
    call_next(client, api)
    r = act(client, api, tid, "no-show")
    error = assert_error(r, 409, "recall_first")
    assert error["details"] == {"recalls": 0, "required": 1}
    assert ticket_status(db, tid) == "called"
    assert act(client, api, tid, "recall").status_code == 200
    body = act(client, api, tid, "no-show").get_json()
    assert (body["status"], body["recall_count"]) == ("no_show", 1)
    assert body["ended_at"] is not None
    assert event_actions(db, tid) == ["issue", "call", "recall", "no_show"]


def test_cancel_a_waiting_and_a_parked_ticket(client, db, api):
    waiting = issue(client, api)["id"]
    parked = issue(client, api, "job-seeker")["id"]
    call_next(client, api, "3")
    act(client, api, parked, "start")
    act(client, api, parked, "park")
    body = act(client, api, waiting, "cancel", {"reason": "left the building"}).get_json()
    assert (body["status"], body["position"]) == ("cancelled", None)
    assert act(client, api, parked, "cancel").get_json()["status"] == "cancelled"
    with db.read() as s:
        events = s.execute(
            select(TicketEvent.ticket_id, TicketEvent.from_status, TicketEvent.reason)
            .where(TicketEvent.action == "cancel")
            .order_by(TicketEvent.id)
        ).all()
    assert [tuple(e) for e in events] == [
        (waiting, "waiting", "left the building"),
        (parked, "parked", None),
    ]


def test_transfer_to_a_service_keeps_the_number_and_goes_to_the_front(client, db, api):
    earlier = issue(client, api, "job-seeker")
    ticket = issue(client, api, "pension-new")
    call_next(client, api, "1")
    act(client, api, ticket["id"], "start")
    r = act(client, api, ticket["id"], "transfer", {"service": "job-seeker"})
    assert r.status_code == 200
    body = r.get_json()
    assert (body["number"], body["service"], body["status"]) == ("A001", "job-seeker", "waiting")
    assert (body["counter"], body["position"]) == (None, 1)
    # Counter 3 serves job-seeker: the transferred visitor comes before the earlier C001.
    assert call_next(client, api, "3").get_json()["id"] == ticket["id"]
    assert ticket_status(db, earlier["id"]) == "waiting"


def test_transfer_not_to_the_front_joins_the_queue_by_due_time(client, db, api):
    issue(client, api, "job-seeker")
    ticket = issue(client, api, "pension-new")
    call_next(client, api, "1")
    body = act(
        client, api, ticket["id"], "transfer", {"service": "job-seeker", "front": False}
    ).get_json()
    assert (body["status"], body["service"], body["position"]) == ("waiting", "job-seeker", 2)


def test_transfer_to_a_named_counter(client, db, api):
    ticket = issue(client, api, "pension-new")
    call_next(client, api, "1")
    body = act(client, api, ticket["id"], "transfer", {"counter": api.counters["3"]}).get_json()
    assert (body["status"], body["service"], body["position"]) == ("waiting", "pension-new", 1)
    # Counter 3 does not serve pension-new but takes the visitor sent to it by name.
    assert call_next(client, api, "2").status_code == 204
    assert call_next(client, api, "3").get_json()["id"] == ticket["id"]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({}, 422, "invalid_input", "service"),
        ({"service": "job-seeker", "counter": 3}, 422, "invalid_input", "service"),
        ({"service": "job-seeker", "front": "yes"}, 422, "invalid_input", "front"),
        ({"counter": "3"}, 422, "invalid_input", "counter"),
        ({"service": "job-seeker", "reason": "x"}, 422, "invalid_input", "reason"),
        ({"service": "passports"}, 404, "service_not_found", None),
        ({"counter": 999_999}, 404, "counter_not_found", None),
        ({"counter": "OTHER"}, 409, "wrong_center", None),
        ({"service": "INACTIVE"}, 409, "service_inactive", None),
    ],
)
def test_refused_transfers_change_nothing(client, db, api, center, body, status, code, field):
    ticket = issue(client, api, "pension-new")
    call_next(client, api, "1")
    act(client, api, ticket["id"], "start")
    if body.get("counter") == "OTHER":
        body = {"counter": api.other_counters["3"]}
    if body.get("service") == "INACTIVE":
        with db.write() as s:
            _service(s, center, "unemployment").active = False
        body = {"service": "unemployment"}
    r = act(client, api, ticket["id"], "transfer", body)
    assert_error(r, status, code, field=field)
    with db.read() as s:
        t = s.get(Ticket, ticket["id"])
        assert (t.status, t.service.code, t.counter_id) == (
            "serving",
            "pension-new",
            api.counters["1"],
        )
    assert event_actions(db, ticket["id"]) == ["issue", "call", "start"]


# Which actions each state allows (docs/queue.md); every other action is a 409.
ALLOWED = {
    "waiting": {"cancel"},
    "called": {"recall", "start", "no-show", "transfer"},
    "serving": {"complete", "park", "transfer"},
    "parked": {"resume", "cancel"},
    "done": set(),
    "no_show": set(),
    "cancelled": set(),
}
ACTIONS = ["recall", "start", "complete", "no-show", "cancel", "park", "resume", "transfer"]
PATHS = {  # how to bring a fresh ticket to each state through the API
    "waiting": [],
    "called": ["CALL"],
    "serving": ["CALL", "start"],
    "parked": ["CALL", "start", "park"],
    "done": ["CALL", "start", "complete"],
    "no_show": ["CALL", "recall", "no-show"],
    "cancelled": ["cancel"],
}


def _ticket_in(client, api, state: str) -> int:
    tid = issue(client, api)["id"]
    for step in PATHS[state]:
        r = call_next(client, api) if step == "CALL" else act(client, api, tid, step)
        assert r.status_code == 200, r.get_json()
    return tid


@pytest.mark.parametrize(
    ("state", "action"),
    [(state, action) for state in ALLOWED for action in ACTIONS if action not in ALLOWED[state]],
)
def test_an_action_the_state_does_not_allow_is_409_naming_the_state(client, db, api, state, action):
    tid = _ticket_in(client, api, state)
    events = event_actions(db, tid)
    body = {"service": "job-seeker"} if action == "transfer" else {}
    r = act(client, api, tid, action, body)
    error = assert_error(r, 409, "invalid_transition")
    assert error["details"]["status"] == state
    assert f"it is {state}" in error["message"]
    assert ticket_status(db, tid) == state
    assert event_actions(db, tid) == events


@pytest.mark.parametrize(
    ("state", "action", "result"),
    [
        ("waiting", "cancel", "cancelled"),
        ("called", "recall", "called"),
        ("called", "start", "serving"),
        ("called", "transfer", "waiting"),
        ("serving", "complete", "done"),
        ("serving", "park", "parked"),
        ("serving", "transfer", "waiting"),
        ("parked", "resume", "waiting"),
        ("parked", "cancel", "cancelled"),
    ],
)
def test_each_allowed_action_moves_the_ticket(client, db, api, state, action, result):
    tid = _ticket_in(client, api, state)
    body = {"service": "job-seeker"} if action == "transfer" else {}
    r = act(client, api, tid, action, body)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == result
    assert ticket_status(db, tid) == result
    assert event_actions(db, tid)[-1] == action.replace("-", "_")


def test_ticket_actions_need_staff_of_the_tickets_center(client, db, api):
    tid = _ticket_in(client, api, "called")
    for headers, status in (
        ({}, 401),
        (bearer("st_unknown"), 401),
        (api.kiosk, 403),
        (api.display, 403),
        (api.other_staff, 403),
        (api.other_manager, 403),
    ):
        r = act(client, api, tid, "start", headers=headers)
        assert r.status_code == status, (headers, r.get_json())
        assert_error(r, status, r.get_json()["error"]["code"])
    assert ticket_status(db, tid) == "called"
    # Any role of the center, and a network admin, may act.
    assert act(client, api, tid, "recall", headers=api.manager).status_code == 200
    assert act(client, api, tid, "start", headers=api.admin).status_code == 200
    assert ticket_status(db, tid) == "serving"


def test_unknown_ticket_or_action_is_404(client, db, api):
    tid = _ticket_in(client, api, "called")
    assert_error(act(client, api, 999_999, "start"), 404, "ticket_not_found")
    error = assert_error(act(client, api, tid, "teleport"), 404, "unknown_action")
    assert "recall" in error["message"]  # lists the real actions
    assert_error(act(client, api, tid, "no_show"), 404, "unknown_action")  # it is no-show
    r = client.post(f"{PREFIX}/tickets/A001/start", headers=api.staff)
    assert_error(r, 404, "not_found")
    assert ticket_status(db, tid) == "called"


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("start", {"reason": "x"}, "reason"),
        ("recall", {"counter": 1}, "counter"),
        ("cancel", {"reason": 5}, "reason"),
        ("cancel", {"reason": "x" * 65}, "reason"),
        ("cancel", {"service": "job-seeker"}, "service"),
        ("resume", {"counter": "one"}, "counter"),
    ],
)
def test_action_bodies_are_checked(client, db, api, action, body, field):
    tid = _ticket_in(client, api, "called" if action in ("start", "recall") else "waiting")
    before = ticket_status(db, tid)
    assert_error(act(client, api, tid, action, body), 422, "invalid_input", field=field)
    assert ticket_status(db, tid) == before


def test_action_with_a_broken_json_body_is_400(client, db, api):
    tid = _ticket_in(client, api, "called")
    r = client.post(
        f"{PREFIX}/tickets/{tid}/start",
        data="{oops",
        content_type="application/json",
        headers=api.staff,
    )
    assert_error(r, 400, "malformed_request")
    assert ticket_status(db, tid) == "called"
