"""HTTP API: counter actions (call next, call out of order, state) and staff authentication."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from server.auth import issue_staff_token, rotate_device_token
from server.models import ApiToken, Counter, CounterEvent, StaffUser, Ticket, TicketEvent

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
    ticket_status,
)

STAFF_VIEW = set(SCHEMAS["Ticket"]["properties"]) - {"tracking_token", "print"}  # issue only


@pytest.fixture
def api(db, center):
    return setup_api(db, center)


def counter_row(db, counter_id: int) -> SimpleNamespace:
    with db.read() as s:
        counter = s.get(Counter, counter_id)
        return SimpleNamespace(state=counter.state, pause_reason=counter.pause_reason)


# --- call next ---------------------------------------------------------------------------


def test_call_next_returns_the_called_ticket(client, db, api):
    ticket = issue(client, api)
    r = call_next(client, api, "1")
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == STAFF_VIEW  # no tracking token on staff screens
    assert (body["id"], body["number"], body["status"]) == (ticket["id"], "A001", "called")
    assert body["counter"] == {"id": api.counters["1"], "label": "1"}
    assert (body["position"], body["estimated_wait_s"], body["recall_count"]) == (None, None, 0)
    assert body["called_at"] is not None and body["started_at"] is None
    with db.read() as s:
        t = s.get(Ticket, ticket["id"])
        assert (t.status, t.counter_id, t.staff_id) == (
            "called",
            api.counters["1"],
            api.staff_ids["alice"],
        )
    assert counter_row(db, api.counters["1"]).state == "open"  # calling opens the counter


def test_call_next_is_204_with_an_empty_body_when_nobody_waits(client, db, api):
    r = call_next(client, api, "1")
    assert r.status_code == 204
    assert r.get_data() == b""
    # Tickets of services counter 1 does not serve do not count.
    other = issue(client, api, "job-seeker")
    r = call_next(client, api, "1")
    assert (r.status_code, r.get_data()) == (204, b"")
    assert ticket_status(db, other["id"]) == "waiting"
    assert call_next(client, api, "3").get_json()["id"] == other["id"]


def test_call_next_takes_priority_first_and_never_the_same_ticket_twice(client, db, api):
    normal = issue(client, api)
    elderly = issue(client, api, priority="elderly")
    first = call_next(client, api, "1").get_json()
    second = call_next(client, api, "2").get_json()
    assert (first["id"], second["id"]) == (elderly["id"], normal["id"])
    assert call_next(client, api, "2", headers=api.manager).status_code == 409  # 2 is busy
    assert call_next(client, api, "3").status_code == 204


def test_call_next_while_serving_completes_the_current_visitor(client, db, api):
    first = issue(client, api)
    second = issue(client, api)
    call_next(client, api)
    act(client, api, first["id"], "start")
    r = call_next(client, api)
    assert r.get_json()["id"] == second["id"]
    assert ticket_status(db, first["id"]) == "done"
    assert event_actions(db, first["id"]) == ["issue", "call", "start", "complete"]


def test_call_next_while_a_ticket_is_only_called_is_409(client, db, api):
    first = issue(client, api)
    second = issue(client, api)
    call_next(client, api)
    error = assert_error(call_next(client, api), 409, "counter_busy")
    assert error["details"] == {"ticket": "A001"}
    assert ticket_status(db, first["id"]) == "called"
    assert ticket_status(db, second["id"]) == "waiting"


def call_and_start(client, api, label: str = "1", body=None):
    return client.post(
        f"{PREFIX}/counters/{api.counters[label]}/call-next",
        json={"start": True} if body is None else body,
        headers=api.staff,
    )


def test_call_next_with_start_calls_and_starts_in_one_press(client, db, api):
    first = issue(client, api)
    second = issue(client, api)
    r = call_and_start(client, api)
    body = r.get_json()
    assert (r.status_code, body["id"], body["status"]) == (200, first["id"], "serving")
    assert body["started_at"] == body["called_at"] is not None
    # The same two transitions, and audit events, as a call followed by its start.
    assert event_actions(db, first["id"]) == ["issue", "call", "start"]
    # Serving, so the next press completes it: "done, next" stays one press.
    assert call_and_start(client, api).get_json()["id"] == second["id"]
    assert ticket_status(db, first["id"]) == "done"
    assert event_actions(db, first["id"]) == ["issue", "call", "start", "complete"]
    assert call_and_start(client, api).status_code == 204  # nobody waits: nothing started
    assert ticket_status(db, second["id"]) == "done"


def test_call_next_with_start_keeps_the_state_machine(client, db, api):
    first = issue(client, api)
    issue(client, api)
    third = issue(client, api)
    call_next(client, api)  # called, not started: the counter is busy, start or not
    assert_error(call_and_start(client, api), 409, "counter_busy")
    assert ticket_status(db, first["id"]) == "called"
    # A started visitor cannot be marked no-show: that needs the two-step call.
    act(client, api, first["id"], "start")
    started = call_and_start(client, api).get_json()
    assert_error(act(client, api, started["id"], "no-show"), 409, "invalid_transition")
    # "start": false is the two-step call.
    r = call_and_start(client, api, body={"start": False})
    assert (r.get_json()["id"], r.get_json()["status"]) == (third["id"], "called")


@pytest.mark.parametrize("body", [{"start": "yes"}, {"start": 1}, {"start": True, "x": 1}])
def test_call_next_start_must_be_true_or_false(client, db, api, body):
    ticket = issue(client, api)
    assert call_and_start(client, api, body=body).status_code == 422
    assert ticket_status(db, ticket["id"]) == "waiting"


def test_call_next_checks_its_input_and_the_counter(client, db, api):
    issue(client, api)
    r = client.post(
        f"{PREFIX}/counters/{api.counters['1']}/call-next", json={"ticket": 1}, headers=api.staff
    )
    assert_error(r, 422, "invalid_input", field="ticket")
    r = client.post(f"{PREFIX}/counters/999999/call-next", headers=api.staff)
    assert_error(r, 404, "counter_not_found")
    r = client.post(f"{PREFIX}/counters/one/call-next", headers=api.staff)
    assert_error(r, 404, "not_found")
    with db.read() as s:
        assert (
            s.scalar(select(func.count()).select_from(Ticket).where(Ticket.status != "waiting"))
            == 0
        )


@pytest.mark.parametrize(
    ("caller", "status"),
    [
        (None, 401),
        ("kiosk", 403),
        ("display", 403),
        ("other_staff", 403),
        ("other_manager", 403),
    ],
)
def test_call_next_needs_staff_of_the_counters_center(client, db, api, caller, status):
    ticket = issue(client, api)
    headers = getattr(api, caller) if caller else {}
    r = call_next(client, api, headers=headers)
    assert_error(r, status, "unauthorized" if status == 401 else "forbidden")
    assert ticket_status(db, ticket["id"]) == "waiting"
    assert counter_row(db, api.counters["1"]).state == "closed"


@pytest.mark.parametrize("caller", ["staff", "manager", "admin"])
def test_any_role_of_the_center_and_an_admin_may_call(client, api, caller):
    ticket = issue(client, api)
    r = call_next(client, api, headers=getattr(api, caller))
    assert r.status_code == 200
    assert r.get_json()["id"] == ticket["id"]


def test_staff_of_another_center_calls_their_own_counters(client, db, api):
    ticket = issue(client, api, center="ganja-1", headers=api.other_kiosk)
    r = client.post(
        f"{PREFIX}/counters/{api.other_counters['1']}/call-next", headers=api.other_staff
    )
    assert r.get_json()["id"] == ticket["id"]
    # baku-1's counters see none of ganja-1's tickets.
    issue(client, api, center="ganja-1", headers=api.other_kiosk)
    assert call_next(client, api, "1").status_code == 204


# --- call one ticket out of order -------------------------------------------------------


def call(client, api, label: str, body: dict, headers=None):
    return client.post(
        f"{PREFIX}/counters/{api.counters[label]}/call",
        json=body,
        headers=headers if headers is not None else api.staff,
    )


def test_call_a_specific_ticket_with_a_reason(client, db, api):
    first = issue(client, api)
    second = issue(client, api)
    r = call(client, api, "1", {"ticket": second["id"], "reason": "appointment"})
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == STAFF_VIEW
    assert (body["id"], body["status"], body["counter"]["label"]) == (second["id"], "called", "1")
    assert ticket_status(db, first["id"]) == "waiting"
    with db.read() as s:
        event = s.scalar(
            select(TicketEvent).where(
                TicketEvent.ticket_id == second["id"], TicketEvent.action == "call_out_of_order"
            )
        )
        assert (event.reason, event.from_status, event.to_status) == (
            "appointment",
            "waiting",
            "called",
        )
        assert (event.staff_id, event.counter_id) == (api.staff_ids["alice"], api.counters["1"])
    # The one left behind is still first in its queue.
    assert client.get(f"{PREFIX}/tickets/{first['tracking_token']}").get_json()["position"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ticket": "TICKET"}, "reason"),
        ({"ticket": "TICKET", "reason": "friend"}, "reason"),
        ({"ticket": "TICKET", "reason": None}, "reason"),
        ({"reason": "appointment"}, "ticket"),
        ({"ticket": "A001", "reason": "appointment"}, "ticket"),
        ({"ticket": True, "reason": "appointment"}, "ticket"),
        ({"ticket": "TICKET", "reason": "appointment", "note": "x"}, "note"),
    ],
)
def test_call_checks_ticket_and_reason(client, db, api, body, field):
    ticket = issue(client, api)
    body = {k: ticket["id"] if v == "TICKET" else v for k, v in body.items()}
    assert_error(call(client, api, "1", body), 422, "invalid_input", field=field)
    assert ticket_status(db, ticket["id"]) == "waiting"


def test_call_refuses_tickets_it_cannot_take(client, db, api):
    called = issue(client, api)
    waiting = issue(client, api)
    elsewhere = issue(client, api, center="ganja-1", headers=api.other_kiosk)
    call_next(client, api, "2")
    error = assert_error(
        call(client, api, "1", {"ticket": called["id"], "reason": "other"}),
        409,
        "invalid_transition",
    )
    assert error["details"]["status"] == "called"
    assert "called" in error["message"]
    assert_error(
        call(client, api, "1", {"ticket": elsewhere["id"], "reason": "other"}), 409, "wrong_center"
    )
    assert_error(
        call(client, api, "1", {"ticket": 999_999, "reason": "other"}), 404, "ticket_not_found"
    )
    # Counter 2 has a called ticket not yet started.
    error = assert_error(
        call(client, api, "2", {"ticket": waiting["id"], "reason": "other"}), 409, "counter_busy"
    )
    assert ticket_status(db, waiting["id"]) == "waiting"
    assert ticket_status(db, elsewhere["id"]) == "waiting"


def test_call_needs_staff_of_the_counters_center(client, db, api):
    ticket = issue(client, api)
    body = {"ticket": ticket["id"], "reason": "accessibility"}
    assert_error(call(client, api, "1", body, headers=api.other_staff), 403, "forbidden")
    assert_error(call(client, api, "1", body, headers=api.kiosk), 403, "forbidden")
    assert_error(call(client, api, "1", body, headers={}), 401, "unauthorized")
    assert ticket_status(db, ticket["id"]) == "waiting"


# --- counter state -----------------------------------------------------------------------


def set_state(client, api, label: str, body: dict, headers=None):
    return client.post(
        f"{PREFIX}/counters/{api.counters[label]}/state",
        json=body,
        headers=headers if headers is not None else api.staff,
    )


def counter_events(db, counter_id: int) -> list[tuple]:
    with db.read() as s:
        rows = s.execute(
            select(CounterEvent.from_state, CounterEvent.to_state, CounterEvent.reason)
            .where(CounterEvent.counter_id == counter_id)
            .order_by(CounterEvent.id)
        )
        return [tuple(row) for row in rows]


def test_open_pause_with_a_reason_and_reopen(client, db, api):
    cid = api.counters["2"]
    r = set_state(client, api, "2", {"state": "open"})
    assert r.status_code == 200
    assert r.get_json() == {"id": cid, "label": "2", "state": "open", "pause_reason": None}
    r = set_state(client, api, "2", {"state": "paused", "reason": "back_office"})
    assert r.get_json() == {
        "id": cid,
        "label": "2",
        "state": "paused",
        "pause_reason": "back_office",
    }
    row = counter_row(db, cid)
    assert (row.state, row.pause_reason) == ("paused", "back_office")
    r = set_state(client, api, "2", {"state": "open"})
    assert r.get_json()["pause_reason"] is None
    r = set_state(client, api, "2", {"state": "closed"})
    assert r.get_json()["state"] == "closed"
    assert counter_events(db, cid) == [
        ("closed", "open", None),
        ("open", "paused", "back_office"),
        ("paused", "open", None),
        ("open", "closed", None),
    ]
    with db.read() as s:
        staff = s.scalars(select(CounterEvent.staff_id).where(CounterEvent.counter_id == cid))
        assert set(staff) == {api.staff_ids["alice"]}


def test_setting_the_same_state_again_logs_nothing(client, db, api):
    set_state(client, api, "1", {"state": "paused", "reason": "break"})
    set_state(client, api, "1", {"state": "paused", "reason": "break"})
    set_state(client, api, "1", {"state": "paused", "reason": "lunch"})
    assert counter_events(db, api.counters["1"]) == [
        ("closed", "paused", "break"),
        ("paused", "paused", "lunch"),
    ]


def test_calling_from_a_paused_counter_reopens_it(client, db, api):
    issue(client, api)
    set_state(client, api, "1", {"state": "paused", "reason": "lunch"})
    assert call_next(client, api, "1").status_code == 200
    row = counter_row(db, api.counters["1"])
    assert (row.state, row.pause_reason) == ("open", None)
    assert counter_events(db, api.counters["1"])[-1] == ("paused", "open", None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"state": "paused"}, "reason"),
        ({"state": "paused", "reason": "nap"}, "reason"),
        ({"state": "open", "reason": "break"}, "reason"),
        ({"state": "closed", "reason": "other"}, "reason"),
        ({"state": "sleeping"}, "state"),
        ({"state": None}, "state"),
        ({}, "state"),
        ({"state": 1}, "state"),
        ({"state": "open", "label": "9"}, "label"),
    ],
)
def test_bad_counter_state_requests_are_422(client, db, api, body, field):
    assert_error(set_state(client, api, "1", body), 422, "invalid_input", field=field)
    row = counter_row(db, api.counters["1"])
    assert (row.state, row.pause_reason) == ("closed", None)
    assert counter_events(db, api.counters["1"]) == []


def test_a_counter_with_a_visitor_cannot_close(client, db, api):
    ticket = issue(client, api)
    call_next(client, api, "1")
    error = assert_error(set_state(client, api, "1", {"state": "closed"}), 409, "counter_busy")
    assert error["details"] == {"ticket": "A001"}
    act(client, api, ticket["id"], "start")
    assert_error(set_state(client, api, "1", {"state": "closed"}), 409, "counter_busy")
    assert counter_row(db, api.counters["1"]).state == "open"
    # A pause is allowed: the clerk may step away while the visitor fills a form.
    assert set_state(client, api, "1", {"state": "paused", "reason": "other"}).status_code == 200
    act(client, api, ticket["id"], "complete")
    assert set_state(client, api, "1", {"state": "closed"}).status_code == 200


@pytest.mark.parametrize(
    ("caller", "status"),
    [(None, 401), ("kiosk", 403), ("display", 403), ("other_staff", 403), ("other_manager", 403)],
)
def test_counter_state_needs_staff_of_the_center(client, db, api, caller, status):
    headers = getattr(api, caller) if caller else {}
    r = set_state(client, api, "1", {"state": "open"}, headers=headers)
    assert_error(r, status, "unauthorized" if status == 401 else "forbidden")
    assert counter_row(db, api.counters["1"]).state == "closed"


def test_unknown_counter_state_is_404(client, api):
    r = client.post(f"{PREFIX}/counters/999999/state", json={"state": "open"}, headers=api.staff)
    assert_error(r, 404, "counter_not_found")


# --- auth: tokens --------------------------------------------------------------------------


def login(client, username: str, password: str = factories.PASSWORD):
    return client.post(f"{PREFIX}/auth/token", json={"username": username, "password": password})


def token_count(db) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(ApiToken))


def test_login_returns_a_working_token(client, db, api):
    before = token_count(db)
    r = login(client, "maria")
    assert r.status_code == 201
    body = r.get_json()
    assert set(body) == {"token", "expires_at", "user"}
    assert body["user"] == {"username": "maria", "role": "manager", "center": "baku-1"}
    assert body["token"].startswith("st_") and len(body["token"]) >= 40
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert expires > datetime.now(UTC)
    assert token_count(db) == before + 1
    with db.read() as s:
        stored = s.scalars(select(ApiToken.token_hash)).all()
    # Only the token's SHA-256 is kept.
    assert hashlib.sha256(body["token"].encode()).hexdigest() in stored
    assert body["token"] not in stored

    issue(client, api)
    r = call_next(client, api, headers=bearer(body["token"]))
    assert r.status_code == 200
    assert r.get_json()["number"] == "A001"


def test_wrong_password_and_unknown_user_get_the_same_401(client, db, api):
    before = token_count(db)
    wrong = login(client, "alice", "not-the-password")
    unknown = login(client, "nobody-here", "not-the-password")
    with db.write() as s:
        s.scalar(select(StaffUser).where(StaffUser.username == "maria")).active = False
    inactive = login(client, "maria")  # right password, deactivated account
    errors = [assert_error(r, 401, "bad_credentials") for r in (wrong, unknown, inactive)]
    assert errors[0] == errors[1] == errors[2]  # nothing says whether the user exists
    for name in ("alice", "nobody-here", "maria"):
        assert name not in errors[0]["message"]
    assert token_count(db) == before


def test_password_check_is_exact(client, api):
    assert login(client, "alice", factories.PASSWORD.upper()).status_code == 401
    assert login(client, "alice", factories.PASSWORD + " ").status_code == 401
    assert login(client, "ALICE").status_code == 401
    assert login(client, "alice").status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "alice"}, "password"),
        ({"password": factories.PASSWORD}, "username"),
        ({"username": 5, "password": factories.PASSWORD}, "username"),
        ({"username": "alice", "password": ["x"]}, "password"),
        ({"username": "alice", "password": factories.PASSWORD, "role": "admin"}, "role"),
    ],
)
def test_login_with_bad_fields_is_422(client, db, api, body, field):
    before = token_count(db)
    r = client.post(f"{PREFIX}/auth/token", json=body)
    assert_error(r, 422, "invalid_input", field=field)
    assert token_count(db) == before


def test_login_with_a_broken_body_is_400(client, api):
    r = client.post(f"{PREFIX}/auth/token", data="username=alice", content_type="text/plain")
    assert_error(r, 400, "malformed_request")


def test_expired_and_unknown_tokens_are_refused(client, db, api, center):
    issue(client, api)
    with db.write() as s:
        alice = s.scalar(select(StaffUser).where(StaffUser.username == "alice"))
        expired, _ = issue_staff_token(s, alice, hours=1, now=datetime(2020, 1, 1, tzinfo=UTC))
        fresh, _ = issue_staff_token(s, alice, hours=1)
        old_kiosk = api.kiosk
        rotate_device_token(s, factories.device(s, center, "kiosk-1"))
    for token in (expired, "st_" + "A" * 43, fresh[:-1], "garbage", fresh.replace("st_", "dv_")):
        r = call_next(client, api, headers=bearer(token))
        assert_error(r, 401, "invalid_token")
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="novbe"'
    r = client.post(
        f"{PREFIX}/centers/baku-1/tickets",
        json={"service": "pension-new", "language": "az"},
        headers=old_kiosk,
    )
    assert_error(r, 401, "invalid_token")
    with db.read() as s:
        assert (
            s.scalar(select(func.count()).select_from(Ticket).where(Ticket.status != "waiting"))
            == 0
        )
    assert call_next(client, api, headers=bearer(fresh)).status_code == 200


def test_a_deactivated_users_token_stops_working(client, db, api):
    issue(client, api)
    with db.write() as s:
        s.scalar(select(StaffUser).where(StaffUser.username == "alice")).active = False
    assert_error(call_next(client, api), 401, "invalid_token")
    assert call_next(client, api, headers=api.manager).status_code == 200


def test_the_web_session_login_also_authenticates(client, db, api):
    issue(client, api)

    def session_login(username: str) -> dict:
        response = client.post(
            f"{PREFIX}/auth/session", json={"username": username, "password": factories.PASSWORD}
        )
        assert response.status_code == 201
        return {"X-CSRF-Token": response.get_json()["csrf_token"]}

    assert_error(call_next(client, api, headers=session_login("olga")), 403, "forbidden")
    assert call_next(client, api, headers=session_login("alice")).status_code == 200
    csrf = session_login("alice")
    with db.write() as s:
        s.get(StaffUser, api.staff_ids["alice"]).active = False
    assert_error(call_next(client, api, "2", headers=csrf), 401, "unauthorized")
