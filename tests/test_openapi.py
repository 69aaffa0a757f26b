"""The OpenAPI document: valid, complete against the app's routes, and true to real responses."""

from __future__ import annotations

import json
import re

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate

from server.api.openapi import SPEC_PATH
from server.api.request import PUBLIC_ENDPOINTS
from server.api.tickets import ACTIONS
from server.models import CALL_POLICIES, COUNTER_STATES, LANGUAGES, ROLES, STATUSES
from server.queue import OUT_OF_ORDER_REASONS, PAUSE_REASONS

from . import factories

PREFIX = "/api/v1"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def spec() -> dict:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield method.upper(), path, op


def app_routes(app) -> dict[tuple[str, str], str]:
    """(METHOD, documented path) -> endpoint, for every API rule; HEAD/OPTIONS are automatic."""
    routes = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(PREFIX) :])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes[(method, path)] = rule.endpoint
    return routes


def schema_validator(spec: dict, schema: dict) -> Draft202012Validator:
    # Components refs are "#/components/...": make the spec's components part of the root.
    root = {**schema, "components": spec["components"]}
    return Draft202012Validator(root, format_checker=FormatChecker())


def check(spec: dict, response, method: str, path: str) -> dict | None:
    """Assert the response's status is documented for the operation, its documented
    headers are present, and its body matches the documented schema; return the body."""
    op = spec["paths"][path][method.lower()]
    documented = op["responses"].get(str(response.status_code))
    assert documented is not None, (
        f"{method} {path} answered {response.status_code}, which is not documented: "
        f"{response.get_data(as_text=True)}"
    )
    documented = resolve(spec, documented)
    for header in documented.get("headers", {}):
        assert header in response.headers, f"{method} {path}: missing header {header}"
    content = documented.get("content")
    if content is None:
        assert response.get_data() == b""
        return None
    assert response.mimetype == "application/json"
    body = response.get_json()
    errors = sorted(
        schema_validator(spec, content["application/json"]["schema"]).iter_errors(body),
        key=str,
    )
    assert not errors, f"{method} {path} {response.status_code}: " + "; ".join(
        f"{list(e.absolute_path)}: {e.message}" for e in errors
    )
    return body


def resolve(spec: dict, node: dict) -> dict:
    while "$ref" in node:
        _, *parts = node["$ref"].split("/")
        node = spec
        for part in parts:
            node = node[part]
    return node


# --- the document itself ---------------------------------------------------------


def test_served_document_is_the_file_and_a_valid_openapi_3_1(client, spec):
    response = client.get(f"{PREFIX}/openapi.json")  # no credentials needed
    assert response.status_code == 200
    served = response.get_json()
    assert served == spec
    assert served["openapi"].startswith("3.1")
    # Served in the file's order (paths grouped by topic), not alphabetically.
    assert list(json.loads(response.get_data(as_text=True))["paths"]) == list(spec["paths"])
    validate(served)  # raises on any violation of the OpenAPI 3.1 schema


def test_every_api_route_is_documented_and_nothing_else(app, spec):
    routes = app_routes(app)
    documented = {(method, path): op for method, path, op in operations(spec)}
    assert set(routes) - set(documented) == set(), "routes missing from openapi.json"
    assert set(documented) - set(routes) == set(), "documented but not in the app"
    for key, endpoint in routes.items():
        # operationId is the Flask view's name, so a moved route is easy to find.
        assert f"api.{documented[key]['operationId']}" == endpoint


def test_public_operations_are_exactly_the_unauthenticated_endpoints(app, spec):
    routes = app_routes(app)
    public = {routes[(m, p)] for m, p, op in operations(spec) if op.get("security") == []}
    assert public == PUBLIC_ENDPOINTS
    schemes = set(spec["components"]["securitySchemes"])
    for method, path, op in operations(spec):
        assert "security" in op, f"{method} {path} must say who may call it"
        for requirement in op["security"]:
            assert set(requirement) <= schemes
        if op["security"]:
            assert "401" in op["responses"] and "403" in op["responses"], (method, path)
        assert "Who may call" in op["description"]


def test_enums_match_the_code(spec):
    schemas = spec["components"]["schemas"]
    params = spec["components"]["parameters"]
    assert schemas["Language"]["enum"] == list(LANGUAGES)
    assert schemas["TicketStatus"]["enum"] == list(STATUSES)
    assert schemas["OutOfOrderReason"]["enum"] == list(OUT_OF_ORDER_REASONS)
    assert schemas["PauseReason"]["enum"] == list(PAUSE_REASONS)
    assert schemas["CounterState"]["enum"] == list(COUNTER_STATES)
    assert schemas["CallPolicy"]["enum"] == list(CALL_POLICIES)
    assert schemas["Role"]["enum"] == list(ROLES)
    assert params["TicketAction"]["schema"]["enum"] == list(ACTIONS)


def test_request_body_schemas_accept_and_refuse_like_the_server(spec):
    schemas = spec["components"]["schemas"]

    def ok(name: str, body: dict) -> bool:
        return schema_validator(spec, {"$ref": f"#/components/schemas/{name}"}).is_valid(body)

    assert ok("IssueTicketRequest", {"service": "x", "language": "az"})
    assert not ok("IssueTicketRequest", {"service": "x", "language": "de"})
    assert not ok("IssueTicketRequest", {"service": "x", "language": "az", "name": "Ali"})
    assert ok("CounterStateRequest", {"state": "paused", "reason": "lunch"})
    assert not ok("CounterStateRequest", {"state": "paused"})
    assert not ok("CounterStateRequest", {"state": "open", "reason": "lunch"})
    assert ok("TicketActionRequest", {}) and ok("TicketActionRequest", {"service": "b"})
    assert not ok("TicketActionRequest", {"service": "b", "counter": 2})
    assert ok("CallTicketRequest", {"ticket": 1, "reason": "appointment"})
    assert not ok("CallTicketRequest", {"ticket": 1, "reason": "friend"})
    assert set(schemas["IssueTicketRequest"]["required"]) == {"service", "language"}


# --- real responses against the documented schemas ----------------------------------


def test_real_responses_match_the_documented_schemas(client, db, center, spec):
    with db.write() as s:
        factories.make_staff(s, "alice")
        factories.make_staff(s, "boss", role="manager")
        kiosk_token = factories.device_token(s, center, "kiosk-1")
        display_token = factories.device_token(s, center, "hall")
        c1 = factories.counter(s, center, "1").id
    kiosk = {"Authorization": f"Bearer {kiosk_token}"}
    display = {"Authorization": f"Bearer {display_token}"}

    r = client.post(
        f"{PREFIX}/auth/token", json={"username": "alice", "password": factories.PASSWORD}
    )
    assert r.status_code == 201
    staff = {"Authorization": f"Bearer {check(spec, r, 'POST', '/auth/token')['token']}"}
    r = client.post(f"{PREFIX}/auth/token", json={"username": "boss", "password": "wrong-one"})
    assert r.status_code == 401
    check(spec, r, "POST", "/auth/token")
    r = client.post(
        f"{PREFIX}/auth/token", json={"username": "boss", "password": factories.PASSWORD}
    )
    manager = {"Authorization": f"Bearer {r.get_json()['token']}"}

    issue = "/centers/{center_code}/tickets"
    url = f"{PREFIX}/centers/baku-1/tickets"
    body = {"service": "pension-new", "language": "ru", "priority": "elderly"}
    r = client.post(url, json=body, headers={**kiosk, "Idempotency-Key": "k-1"})
    assert r.status_code == 201
    ticket = check(spec, r, "POST", issue)
    assert r.headers["Location"] == f"{PREFIX}/tickets/{ticket['tracking_token']}"
    r = client.post(url, json=body, headers={**kiosk, "Idempotency-Key": "k-1"})
    assert r.status_code == 200  # a replay, same ticket
    assert check(spec, r, "POST", issue)["id"] == ticket["id"]
    r = client.post(url, json={"service": "pension-new", "language": "de"}, headers=kiosk)
    assert r.status_code == 422
    assert check(spec, r, "POST", issue)["error"]["details"]["field"] == "language"
    r = client.post(url, json=body, headers=display)
    assert r.status_code == 403
    check(spec, r, "POST", issue)
    r = client.post(url, json=body)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="novbe"'
    check(spec, r, "POST", issue)

    status = "/tickets/{tracking_token}"
    r = client.get(f"{PREFIX}/tickets/{ticket['tracking_token']}")
    assert r.status_code == 200
    public = check(spec, r, "GET", status)
    assert (public["status"], public["position"], public["counter"]) == ("waiting", 1, None)
    r = client.get(f"{PREFIX}/tickets/no-such-token")
    assert r.status_code == 404
    assert check(spec, r, "GET", status)["error"]["code"] == "ticket_not_found"

    call_next = "/counters/{counter_id}/call-next"
    r = client.post(f"{PREFIX}/counters/{c1}/call-next", headers=staff)
    assert r.status_code == 200
    called = check(spec, r, "POST", call_next)
    assert (called["id"], called["status"], called["counter"]["label"]) == (
        ticket["id"],
        "called",
        "1",
    )
    assert "tracking_token" not in called
    r = client.get(f"{PREFIX}/tickets/{ticket['tracking_token']}")
    assert check(spec, r, "GET", status)["counter"] == {"label": "1"}
    r = client.post(f"{PREFIX}/counters/{c1}/call-next", headers=staff)
    assert r.status_code == 409  # the called ticket was not started
    assert check(spec, r, "POST", call_next)["error"]["code"] == "counter_busy"
    r = client.post(f"{PREFIX}/counters/999999/call-next", headers=staff)
    assert r.status_code == 404
    assert check(spec, r, "POST", call_next)["error"]["code"] == "counter_not_found"

    action = "/tickets/{ticket_id}/{action}"
    for name in ("recall", "start", "complete"):
        r = client.post(f"{PREFIX}/tickets/{ticket['id']}/{name}", headers=staff)
        assert r.status_code == 200, r.get_json()
        check(spec, r, "POST", action)
    r = client.post(f"{PREFIX}/tickets/{ticket['id']}/cancel", headers=staff)
    assert r.status_code == 409
    assert check(spec, r, "POST", action)["error"]["details"]["status"] == "done"
    r = client.post(f"{PREFIX}/tickets/{ticket['id']}/fly", headers=staff)
    assert r.status_code == 404
    assert check(spec, r, "POST", action)["error"]["code"] == "unknown_action"

    r = client.post(f"{PREFIX}/counters/{c1}/call-next", headers=staff)
    assert r.status_code == 204  # nobody waits
    check(spec, r, "POST", call_next)

    state = "/counters/{counter_id}/state"
    r = client.post(
        f"{PREFIX}/counters/{c1}/state", json={"state": "paused", "reason": "lunch"}, headers=staff
    )
    assert r.status_code == 200
    assert check(spec, r, "POST", state)["pause_reason"] == "lunch"

    queue_path = "/centers/{center_code}/queue"
    r = client.get(f"{PREFIX}/centers/baku-1/queue", headers=display)
    assert r.status_code == 200
    check(spec, r, "GET", queue_path)
    r = client.get(f"{PREFIX}/centers/nowhere/queue", headers=staff)
    assert r.status_code == 404
    check(spec, r, "GET", queue_path)

    r = client.get(f"{PREFIX}/centers/baku-1/services", headers=kiosk)
    assert r.status_code == 200
    catalog = check(spec, r, "GET", "/centers/{center_code}/services")
    assert len(catalog["categories"]) == 2

    svc = "/centers/{center_code}/services/{service_code}"
    r = client.patch(
        f"{PREFIX}/centers/baku-1/services/unemployment",
        json={"daily_quota": None, "target_wait_min": 30},
        headers=manager,
    )
    assert r.status_code == 200
    assert check(spec, r, "PATCH", svc)["daily_quota"] is None
    r = client.patch(
        f"{PREFIX}/centers/baku-1/services/unemployment", json={"active": False}, headers=staff
    )
    assert r.status_code == 403  # a manager's job
    check(spec, r, "PATCH", svc)

    policy = "/centers/{center_code}/policy"
    r = client.patch(
        f"{PREFIX}/centers/baku-1/policy", json={"call_policy": "ratio"}, headers=manager
    )
    assert r.status_code == 200
    assert check(spec, r, "PATCH", policy)["call_policy"] == "ratio"
    r = client.patch(f"{PREFIX}/centers/baku-1/policy", json={"priority_ratio": 0}, headers=manager)
    assert r.status_code == 422
    check(spec, r, "PATCH", policy)


def test_out_of_order_call_and_transfer_match_the_schemas(client, db, center, spec):
    with db.write() as s:
        factories.make_staff(s, "alice")
        staff = {"Authorization": f"Bearer {factories.staff_token(s, 'alice')}"}
        kiosk = {"Authorization": f"Bearer {factories.device_token(s, center, 'kiosk-1')}"}
        c2 = factories.counter(s, center, "2").id
        c3 = factories.counter(s, center, "3").id
    ids = []
    for service in ("pension-new", "job-seeker"):
        r = client.post(
            f"{PREFIX}/centers/baku-1/tickets",
            json={"service": service, "language": "az"},
            headers=kiosk,
        )
        ids.append(r.get_json()["id"])

    call = "/counters/{counter_id}/call"
    r = client.post(
        f"{PREFIX}/counters/{c2}/call", json={"ticket": ids[1], "reason": "other"}, headers=staff
    )
    assert r.status_code == 200
    assert check(spec, r, "POST", call)["id"] == ids[1]
    r = client.post(
        f"{PREFIX}/counters/{c3}/call", json={"ticket": ids[0], "reason": "friend"}, headers=staff
    )
    assert r.status_code == 422
    check(spec, r, "POST", call)

    action = "/tickets/{ticket_id}/{action}"
    r = client.post(f"{PREFIX}/tickets/{ids[1]}/transfer", json={"counter": c3}, headers=staff)
    assert r.status_code == 200
    moved = check(spec, r, "POST", action)
    assert (moved["status"], moved["counter"], moved["position"]) == ("waiting", None, 1)
    r = client.post(f"{PREFIX}/tickets/{ids[0]}/cancel", json={"counter": c3}, headers=staff)
    assert r.status_code == 422  # cancel takes no counter
    check(spec, r, "POST", action)
    r = client.post(f"{PREFIX}/tickets/{ids[0]}/cancel", json={"reason": "x" * 65}, headers=staff)
    assert r.status_code == 422  # longer than the audit log keeps
    check(spec, r, "POST", action)
    r = client.post(f"{PREFIX}/tickets/{ids[0]}/cancel", json={"reason": "x" * 64}, headers=staff)
    assert r.status_code == 200
    assert check(spec, r, "POST", action)["status"] == "cancelled"
