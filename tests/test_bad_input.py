"""Bad input gets a clear error naming what is wrong, never a 500, and writes nothing:
a table of every case found by attacking the API, run on SQLite and on
PostgreSQL (the fixtures run each test on both when NOVBE_TEST_POSTGRES_URL is set), and
the 100 MB body sent to a real ``novbe serve``.

Each row says who calls, what they send, and the status, error code and field of the
answer; every row also checks that the message names the field, that no table gained or
lost a row, and that nothing was logged as an error (no traceback)."""

from __future__ import annotations

import json
import logging
import select
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import func
from sqlalchemy import select as sql_select

from server import admin, limits
from server.admin.validation import MAX_DAILY_QUOTA, MAX_MINUTES
from server.api.validation import operations
from server.errors import InvalidInput
from server.importer import CenterFileError, import_center, load_center_file
from server.models import Base
from server.queue import Actor

from . import factories
from .api_helpers import PREFIX, SPEC, assert_error, issue, setup_api

MAX_ID = limits.MAX_ID  # PostgreSQL's integer
SQLITE_MAX = 2**63 - 1
NAMES = {"az": "Ad", "ru": "Имя", "en": "Name"}


@pytest.fixture
def api(db, center):
    return setup_api(db, center)


@pytest.fixture
def ticket(client, api) -> dict:
    return issue(client, api, "pension-new")


@dataclass
class Case:
    """One bad request: ``body`` is sent as JSON, ``raw`` as it is (with a JSON
    Content-Type); ``who`` is an attribute of the Api (None: no credential)."""

    method: str
    path: str
    status: int
    code: str
    field: str | None
    who: str | None = "manager"
    body: Any = None
    raw: str | bytes | None = None
    html: bool = False  # a page for people, not the API
    details: dict = field(default_factory=dict)  # expected in the error's details
    headers: dict = field(default_factory=dict)


def row_counts(db) -> dict[str, int]:
    with db.read() as s:
        return {
            table.name: s.scalar(sql_select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
        }


def send(client, api, ticket: dict, case: Case):
    path = case.path.format(
        counter=api.counters["1"],
        ticket=ticket["id"],
        token=ticket["tracking_token"],
    )
    headers = {**(getattr(api, case.who) if case.who else {}), **case.headers}
    kwargs: dict[str, Any] = {"headers": headers}
    if case.raw is not None:
        kwargs["data"] = case.raw
        kwargs["content_type"] = "application/json"
    elif case.body is not None:
        kwargs["json"] = case.body
    return client.open(path if case.html else PREFIX + path, method=case.method, **kwargs)


def check_case(client, db, api, ticket, caplog, case: Case) -> None:
    before = row_counts(db)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        response = send(client, api, ticket, case)
    if case.html:
        assert response.status_code == case.status, response.get_data(as_text=True)[:500]
        assert response.mimetype == "text/html"
    else:
        error = assert_error(response, case.status, case.code, field=case.field)
        if case.field:
            assert case.field.split(".")[-1] in error["message"], error
        for key, value in case.details.items():
            assert error["details"][key] == value, error
    assert row_counts(db) == before, "a refused request wrote something"
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not logged, [r.getMessage() for r in logged]


# --- the table ---------------------------------------------------------------------------

DEEP = "[" * 60_000  # within the size limit: refused for its depth
DEEP_INSIDE = '{"name": ' + '{"a": ' * 40 + "1" + "}" * 40 + "}"
TOO_LONG = "x" * (limits.MAX_NAME_LENGTH + 1)
SURROGATE = '"\\ud800"'  # JSON text: an escaped unpaired surrogate
SURROGATE_LOW = '"a\\udfffb"'


def staff_create(username: str) -> dict:
    return {"username": username, "password": factories.PASSWORD, "role": "staff"}


CASES = {
    # Unauthenticated routes parse no deeper than 32 levels either.
    "deep JSON, login": Case(
        "POST",
        "/auth/token",
        400,
        "malformed_request",
        "body",
        None,
        raw=DEEP,
        details={"limit": limits.MAX_JSON_DEPTH},
    ),
    "deep JSON inside an object": Case(
        "POST", "/auth/session", 400, "malformed_request", "body", None, raw=DEEP_INSIDE
    ),
    "deep JSON, rating": Case(
        "POST", "/tickets/{token}/rating", 400, "malformed_request", "body", None, raw=DEEP
    ),
    # 4. No request size limit: 100,000 characters do not even fit in a body.
    "100 KB body": Case(
        "POST",
        "/auth/token",
        413,
        "body_too_large",
        None,
        None,
        raw="[" * 100_000,
        details={"limit": limits.MAX_BODY_BYTES},
    ),
    "100,000-character name": Case(
        "POST",
        "/centers/baku-1/categories",
        413,
        "body_too_large",
        None,
        body={"code": "long", "name": {**NAMES, "az": "x" * 100_000}},
    ),
    "50,000-character name": Case(
        "POST",
        "/centers/baku-1/categories",
        422,
        "invalid_input",
        "name.az",
        body={"code": "long", "name": {**NAMES, "az": "x" * 50_000}},
    ),
    "201-character service name": Case(
        "PATCH",
        "/centers/baku-1/admin/services/pension-new",
        422,
        "invalid_input",
        "name.ru",
        body={"name": {**NAMES, "ru": TOO_LONG}},
    ),
    "17-character counter label": Case(
        "POST", "/centers/baku-1/counters", 422, "invalid_input", "label", body={"label": "x" * 17}
    ),
    "1001 services for a counter": Case(
        "PUT",
        "/counters/{counter}/services",
        422,
        "invalid_input",
        "services",
        body={"services": ["pension-new"] * 1001},
    ),
    "65-character cancel reason": Case(
        "POST",
        "/tickets/{ticket}/cancel",
        422,
        "invalid_input",
        "reason",
        who="staff",
        body={"reason": "x" * 65},
    ),
    # 3. Lone surrogates: in usernames, services, labels, field names.
    "surrogate in the login username": Case(
        "POST",
        "/auth/token",
        422,
        "invalid_input",
        "username",
        None,
        raw='{"username": ' + SURROGATE + ', "password": "whatever-it-is"}',
    ),
    "surrogate in the login password": Case(
        "POST",
        "/auth/session",
        422,
        "invalid_input",
        "password",
        None,
        raw='{"username": "alice", "password": ' + SURROGATE_LOW + "}",
    ),
    "surrogate in a new username": Case(
        "POST",
        "/centers/baku-1/staff",
        422,
        "invalid_input",
        "username",
        raw=json.dumps(staff_create("x")).replace('"x"', SURROGATE),
    ),
    "surrogate in the service": Case(
        "POST",
        "/centers/baku-1/tickets",
        422,
        "invalid_input",
        "service",
        "kiosk",
        raw='{"service": ' + SURROGATE + ', "language": "az"}',
    ),
    "surrogate in a label": Case(
        "POST",
        "/centers/baku-1/counters",
        422,
        "invalid_input",
        "label",
        raw='{"label": ' + SURROGATE_LOW + "}",
    ),
    "surrogate in a name": Case(
        "PATCH",
        "/centers/baku-1/categories/pensions",
        422,
        "invalid_input",
        "name.en",
        raw='{"name": {"az": "a", "ru": "b", "en": ' + SURROGATE + "}}",
    ),
    "surrogate in a field name": Case(
        "POST",
        "/centers/baku-1/counters",
        422,
        "invalid_input",
        "\\ud800",
        raw='{"label": "9", "\\ud800": 1}',
    ),
    "raw UTF-8 surrogate bytes": Case(
        "POST",
        "/auth/token",
        422,
        "invalid_input",
        "username",
        None,
        raw=b'{"username": "\xed\xa0\x80", "password": "whatever-it-is"}',
    ),
    # 3. NUL: in path segments (DataError on PostgreSQL), usernames, labels, names, queries.
    "NUL in a public center code": Case(
        "GET", "/public/centers/%00", 404, "center_not_found", "center_code", None
    ),
    "NUL in a tracking token": Case(
        "GET", "/tickets/a%00b", 404, "ticket_not_found", "tracking_token", None
    ),
    "NUL in a token's QR code": Case(
        "GET", "/tickets/a%00b/qr.svg", 404, "ticket_not_found", "tracking_token", None
    ),
    "NUL in a token to rate": Case(
        "POST",
        "/tickets/a%00b/rating",
        404,
        "ticket_not_found",
        "tracking_token",
        None,
        body={"score": 5},
    ),
    "NUL in the phone page's token": Case("GET", "/t/a%00b", 404, "", None, None, html=True),
    "NUL in the public page's center": Case("GET", "/public/a%00b", 404, "", None, None, html=True),
    "NUL in a center code": Case(
        "GET", "/centers/baku%00/queue", 404, "center_not_found", "center_code", "kiosk"
    ),
    "NUL in a username in the path": Case(
        "PATCH",
        "/centers/baku-1/staff/al%00ice",
        404,
        "staff_not_found",
        "username",
        body={"active": False},
    ),
    "NUL in a device name": Case(
        "POST", "/centers/baku-1/devices/kiosk%00/token", 404, "device_not_found", "name"
    ),
    "NUL in a category code": Case(
        "PATCH",
        "/centers/baku-1/categories/a%00",
        404,
        "category_not_found",
        "category_code",
        body={"name": NAMES},
    ),
    "NUL in a service code": Case(
        "PATCH",
        "/centers/baku-1/services/a%00",
        404,
        "service_not_found",
        "service_code",
        body={"active": True},
    ),
    "NUL in the login username": Case(
        "POST",
        "/auth/token",
        422,
        "invalid_input",
        "username",
        None,
        body={"username": "alice\x00", "password": factories.PASSWORD},
    ),
    "NUL in a new username": Case(
        "POST",
        "/centers/baku-1/staff",
        422,
        "invalid_input",
        "username",
        body=staff_create("bob\x00"),
    ),
    "NUL in a counter label": Case(
        "POST", "/centers/baku-1/counters", 422, "invalid_input", "label", body={"label": "7\x00"}
    ),
    "NUL in a service name": Case(
        "POST",
        "/centers/baku-1/services",
        422,
        "invalid_input",
        "name.az",
        body={
            "code": "nul",
            "category": "pensions",
            "prefix": "N",
            "name": {**NAMES, "az": "a\x00b"},
        },
    ),
    "NUL in a list item": Case(
        "PUT",
        "/counters/{counter}/services",
        422,
        "invalid_input",
        "services",
        body={"services": ["pension-new", "x\x00"]},
    ),
    "NUL in a pause reason": Case(
        "POST",
        "/tickets/{ticket}/park",
        422,
        "invalid_input",
        "reason",
        who="staff",
        body={"reason": "a\x00"},
    ),
    "NUL in a printer address": Case(
        "POST",
        "/centers/baku-1/devices",
        422,
        "invalid_input",
        "printer",
        body={"kind": "kiosk", "name": "k9", "printer": "tcp://1.2.3.4\x00"},
    ),
    "NUL in a query parameter": Case(
        "GET", "/centers/baku-1/audit?user=a%00", 422, "invalid_input", "user"
    ),
    "NUL in an undocumented parameter": Case(
        "GET", "/centers/baku-1/charts/waits.svg?v=%00", 422, "invalid_input", "v"
    ),
    "NUL in the Idempotency-Key": Case(
        "POST",
        "/centers/baku-1/tickets",
        422,
        "invalid_input",
        "Idempotency-Key",
        "kiosk",
        body={"service": "pension-new", "language": "az"},
        headers={"Idempotency-Key": "k\x00"},
    ),
    # 3. Ids out of range: 404 in the path (on both databases, for any caller), 422 in a
    # body or a query.
    **{
        f"counter id {n} in the path ({who})": Case(
            "POST", f"/counters/{n}/call-next", 404, "counter_not_found", "counter_id", who
        )
        for n in (MAX_ID + 1, SQLITE_MAX, SQLITE_MAX + 1, 10**30, 0)
        for who in ("staff", "kiosk")
    },
    **{
        f"ticket id {n} in the path": Case(
            "POST", f"/tickets/{n}/start", 404, "ticket_not_found", "ticket_id", "staff"
        )
        for n in (MAX_ID + 1, SQLITE_MAX + 1)
    },
    "ticket id 2^63 to reprint": Case(
        "POST", f"/tickets/{2**63}/reprint", 404, "ticket_not_found", "ticket_id", "kiosk"
    ),
    "counter id 2^31 for services": Case(
        "PUT",
        f"/counters/{MAX_ID + 1}/services",
        404,
        "counter_not_found",
        "counter_id",
        body={"services": []},
    ),
    "ticket 2^31 in a body": Case(
        "POST",
        "/counters/{counter}/call",
        422,
        "invalid_input",
        "ticket",
        "staff",
        body={"ticket": MAX_ID + 1, "reason": "other"},
    ),
    "ticket 2^63 in a body": Case(
        "POST",
        "/counters/{counter}/call",
        422,
        "invalid_input",
        "ticket",
        "staff",
        body={"ticket": SQLITE_MAX + 1, "reason": "other"},
    ),
    "counter 2^31 to transfer to": Case(
        "POST",
        "/tickets/{ticket}/transfer",
        422,
        "invalid_input",
        "counter",
        "staff",
        body={"counter": MAX_ID + 1},
    ),
    "counter 2^63 to resume at": Case(
        "POST",
        "/tickets/{ticket}/resume",
        422,
        "invalid_input",
        "counter",
        "staff",
        body={"counter": SQLITE_MAX},
    ),
    **{
        f"page {n}": Case("GET", f"/centers/baku-1/audit?page={n}", 422, "invalid_input", "page")
        for n in (MAX_ID + 1, SQLITE_MAX, SQLITE_MAX + 1, 0, -1, "x")
    },
    **{
        f"appointments on {day!r}": Case(
            "GET", f"/centers/baku-1/appointments?date={day}", 422, "invalid_input", "date", "staff"
        )
        for day in ("2024-02-30", "1999-12-31", "x", "%00", "2024-03-11%0A")
    },
    "kiosk reading the day's appointments": Case(
        "GET", "/centers/baku-1/appointments", 403, "forbidden", None, "kiosk"
    ),
    # 5. The role is checked before any lookup: a kiosk cannot learn which counters or
    # tickets exist.
    "kiosk at an unknown counter": Case(
        "POST", f"/counters/{MAX_ID}/call-next", 403, "forbidden", None, "kiosk"
    ),
    "kiosk calling at an unknown counter": Case(
        "POST",
        f"/counters/{MAX_ID}/call",
        403,
        "forbidden",
        None,
        "kiosk",
        body={"ticket": 1, "reason": "other"},
    ),
    "display pausing an unknown counter": Case(
        "POST",
        f"/counters/{MAX_ID}/state",
        403,
        "forbidden",
        None,
        "display",
        body={"state": "open"},
    ),
    "kiosk acting on an unknown ticket": Case(
        "POST", f"/tickets/{MAX_ID}/cancel", 403, "forbidden", None, "kiosk"
    ),
    "display reprinting an unknown ticket": Case(
        "POST", f"/tickets/{MAX_ID}/reprint", 403, "forbidden", None, "display"
    ),
    "staff setting an unknown counter's services": Case(
        "PUT",
        f"/counters/{MAX_ID}/services",
        403,
        "forbidden",
        None,
        "staff",
        body={"services": []},
    ),
    "kiosk at an unknown center's settings": Case(
        "PATCH",
        "/centers/nowhere/policy",
        403,
        "forbidden",
        None,
        "kiosk",
        body={"priority_ratio": 3},
    ),
    "kiosk asking for an unknown center's voice": Case(
        "GET",
        "/centers/nowhere/announcement.wav?number=A001&counter=1&language=az",
        403,
        "forbidden",
        None,
        "kiosk",
    ),
    # 3. A category that is not a string.
    **{
        f"category {value!r} for a new service": Case(
            "POST",
            "/centers/baku-1/services",
            422,
            "invalid_input",
            "category",
            body={"code": "new", "category": value, "prefix": "Q", "name": NAMES},
        )
        for value in (5, ["pensions"], {"code": "pensions"}, None, True)
    },
    **{
        f"category {value!r} for a service": Case(
            "PATCH",
            "/centers/baku-1/admin/services/pension-new",
            422,
            "invalid_input",
            "category",
            body={"category": value},
        )
        for value in (5, ["pensions"], {"a": 1}, 1.5)
    },
    # Issue 15's settings (tests/test_admin_appointment_settings.py has every rule).
    "slot of 2 minutes": Case(
        "PATCH",
        "/centers/baku-1/admin/services/pension-new",
        422,
        "invalid_input",
        "slot_min",
        body={"slot_min": 2},
    ),
    "break outside the opening hours": Case(
        "PATCH",
        "/centers/baku-1/settings",
        422,
        "invalid_input",
        "breaks[0]",
        body={"breaks": [{"from": "07:00", "to": "08:00"}]},
    ),
    "closed day in the year 9999": Case(
        "PATCH",
        "/centers/baku-1/settings",
        422,
        "invalid_input",
        "closed_days",
        body={"closed_days": ["9999-12-31"]},
    ),
    # 3. Dates far out: the audit log, the charts and the reports.
    **{
        f"audit {name}={value}": Case(
            "GET", f"/centers/baku-1/audit?{name}={value}", 422, "invalid_input", name
        )
        for name, value in (
            ("to", "9999-12-31"),
            ("from", "0001-01-01"),
            ("to", "9999-12-31T23:59:59%2B00:00"),
            ("from", "0001-01-01T00:00:00%2B14:00"),
            ("from", "1999-12-31"),
            ("to", "2101-01-01"),
        )
    },
    **{
        f"{chart} {name}={value}": Case(
            "GET", f"/centers/baku-1/charts/{chart}?{name}={value}", 422, "invalid_input", name
        )
        for chart, name in (("arrivals.svg", "date"), ("waits.svg", "date"), ("week.svg", "end"))
        for value in ("0001-01-01", "9999-12-31", "2000-02-30")
    },
    **{
        f"report {query}": Case(
            "GET", f"/centers/baku-1/report?{query}", 422, "invalid_input", name
        )
        for query, name in (
            ("from=0001-01-01&to=2026-01-02", "from"),
            ("from=2026-01-01&to=9999-12-31", "to"),
        )
    },
    "network report to=9999-12-31": Case(
        "GET", "/report?from=2026-01-01&to=9999-12-31", 422, "invalid_input", "to"
    ),
    # Arrival (tests/test_checkin.py, test_remote_tickets.py have every rule).
    **{
        f"check-in code {value!r}": Case(
            "POST",
            "/centers/baku-1/check-in",
            422,
            "invalid_input",
            "code",
            "kiosk",
            body={"code": value},
        )
        for value in (123456, None, "", "K" * 201, ["K7MP3X"], "K7\u0000MP3X")
    },
    "check-in unknown field": Case(
        "POST",
        "/centers/baku-1/check-in",
        422,
        "invalid_input",
        "ticket",
        "kiosk",
        body={"code": "K7MP3X", "ticket": 1},
    ),
    "remote ticket without a language": Case(
        "POST",
        "/public/centers/baku-1/remote-tickets",
        422,
        "invalid_input",
        "language",
        None,
        body={"service": "pension-new"},
    ),
    "remote ticket with a service of 65 characters": Case(
        "POST",
        "/public/centers/baku-1/remote-tickets",
        422,
        "invalid_input",
        "service",
        None,
        body={"service": "a" * 65, "language": "az"},
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_is_refused_clearly_and_writes_nothing(client, db, api, ticket, caplog, case):
    check_case(client, db, api, ticket, caplog, case)


def json_routes() -> list[tuple[str, str]]:
    """Every operation that takes a JSON body, each ticket action on its own."""
    routes = []
    for path, item in SPEC["paths"].items():
        for method in item:
            if method in ("post", "put", "patch"):
                if "{action}" in path:
                    actions = SPEC["components"]["parameters"]["TicketAction"]["schema"]
                    routes += [(method, path.replace("{action}", a)) for a in actions["enum"]]
                else:
                    routes.append((method, path))
    return routes


PATH_VALUES = {
    "{center_code}": "baku-1",
    "{service_code}": "pension-new",
    "{category_code}": "pensions",
    "{username}": "alice",
    "{name}": "kiosk-1",
    "{counter_id}": "{counter}",
    "{ticket_id}": "{ticket}",
    "{tracking_token}": "{token}",
    "{day}": "2026-12-04",
    "{webhook_id}": "1",
    "{warning_id}": "1",
    "{delivery_id}": "1",
    "{contact_id}": "1",
}


@pytest.mark.parametrize(("method", "path"), json_routes())
def test_deeply_nested_json_is_400_on_every_json_route(
    client, db, api, ticket, caplog, method, path
):
    """``[`` x 60,000 was a RecursionError (500) on every one, unauthenticated included."""
    for placeholder, value in PATH_VALUES.items():
        path = path.replace(placeholder, value)
    public = (
        path in ("/auth/token", "/auth/session")
        or path.endswith("/rating")
        or path == "/public/centers/baku-1/appointments"
    )
    case = Case(
        method.upper(),
        path,
        400,
        "malformed_request",
        "body",
        None if public else "manager",
        raw=DEEP,
    )
    check_case(client, db, api, ticket, caplog, case)


@pytest.mark.parametrize(
    ("path", "who"),
    [
        ("/public/centers/%00", None),
        ("/tickets/a%00b", None),
        ("/centers/baku%00/queue", "kiosk"),
        ("/centers/baku-1/audit?user=%00", "manager"),
        ("/centers/baku-1/audit?page=9223372036854775808", "manager"),
    ],
)
def test_head_requests_are_checked_like_gets(client, db, api, path, who):
    """HEAD runs the GET view: it is held to the same rules (no body comes back)."""
    r = client.head(PREFIX + path, headers=getattr(api, who) if who else {})
    assert r.status_code in (404, 422), r.status_code
    assert (
        r.status_code
        == client.get(PREFIX + path, headers=getattr(api, who) if who else {}).status_code
    )


def test_every_json_route_is_in_the_table():
    assert len(json_routes()) >= 27  # the attack found 27


def test_json_nested_to_the_limit_is_still_parsed(client, api):
    """32 levels are fine (the body is then refused for its content, not its depth)."""
    body = '{"score": ' + "[" * 31 + "]" * 31 + "}"
    r = client.post(f"{PREFIX}/tickets/nobody/rating", data=body, content_type="application/json")
    assert_error(r, 422, "invalid_input", field="score")
    body = '{"score": ' + "[" * 32 + "]" * 32 + "}"
    r = client.post(f"{PREFIX}/tickets/nobody/rating", data=body, content_type="application/json")
    assert_error(r, 400, "malformed_request", field="body")


def test_valid_pairs_of_surrogates_are_text_like_any_other(client, db, api):
    """An emoji escaped as a surrogate pair is one character, not a lone surrogate."""
    r = client.post(
        f"{PREFIX}/centers/baku-1/categories",
        data='{"code": "smile", "name": {"az": "\\ud83d\\ude00", "ru": "б", "en": "c"}}',
        content_type="application/json",
        headers=api.manager,
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["name"]["az"] == "\U0001f600"


def test_names_at_the_limit_are_stored_whole(client, db, api):
    name = {**NAMES, "ru": "я" * limits.MAX_NAME_LENGTH}
    r = client.post(
        f"{PREFIX}/centers/baku-1/categories",
        json={"code": "long", "name": name},
        headers=api.manager,
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["name"]["ru"] == name["ru"]


def test_a_new_line_after_a_code_is_refused(client, db, api):
    """Python's ``$`` matches before a final newline: the patterns must not."""
    r = client.post(
        f"{PREFIX}/centers/baku-1/categories",
        json={"code": "abc\n", "name": NAMES},
        headers=api.manager,
    )
    assert_error(r, 422, "invalid_input", field="code")


# --- the same rules outside the API: admin changes and the center file ------------------


def network_admin() -> Actor:
    return Actor("staff", None, None, "admin", "root")


@pytest.mark.parametrize(
    ("change", "data", "field"),
    [
        ("create_counter", {"label": "5\x00"}, "label"),
        ("create_counter", {"label": "5\ud800"}, "label"),
        ("create_counter", {"label": "x" * 17}, "label"),
        ("create_category", {"code": "c", "name": {**NAMES, "en": "a\x00"}}, "name.en"),
        ("create_category", {"code": "c", "name": {**NAMES, "en": TOO_LONG}}, "name.en"),
        ("create_category", {"code": "c\n", "name": NAMES}, "code"),
        ("create_device", {"kind": "kiosk", "name": "k", "printer": "tcp://a\x00"}, "printer"),
        ("create_service", {"code": "s", "category": 5, "prefix": "S", "name": NAMES}, "category"),
        (
            "create_service",
            {"code": "s", "category": "pensions", "prefix": "S", "name": NAMES}
            | {"default_service_min": 0},
            "default_service_min",
        ),
    ],
)
def test_admin_changes_hold_to_the_same_rules(db, center, change, data, field):
    """server/admin/ refuses what the API refuses, without the API's layer in front."""
    before = row_counts(db)
    with pytest.raises(InvalidInput) as refused, db.write() as s:
        center_row = s.merge(center)
        getattr(admin, change)(s, network_admin(), center_row, data)
    assert refused.value.details["field"] == field
    assert row_counts(db) == before


@pytest.mark.parametrize(
    ("where", "value", "field"),
    [
        ("label", "5\x00", "counters[0].label"),
        ("label", "5\ud800", "counters[0].label"),
        ("name", {**NAMES, "az": "a\x00"}, "name.az"),
        ("name", {**NAMES, "az": TOO_LONG}, "name.az"),
        ("settings", {"printer": "tcp://x\x00"}, "devices[0].settings.printer"),
        ("code", "baku-2\n", "code"),
    ],
)
def test_the_center_file_holds_to_the_same_rules(db, where, value, field):
    spec = factories.center_spec("baku-2")
    if where == "label":
        spec["counters"][0]["label"] = value
    elif where == "settings":
        spec["devices"][0]["settings"] = value
    else:
        spec[where] = value
    before = row_counts(db)
    with pytest.raises(CenterFileError) as refused, db.write() as s:
        import_center(s, spec)
    assert refused.value.details["field"] == field
    assert row_counts(db) == before


def test_a_deeply_nested_center_file_is_refused(tmp_path: Path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    with pytest.raises(CenterFileError, match="nested"):
        load_center_file(deep)
    deep_yaml = tmp_path / "deep.yaml"
    deep_yaml.write_text("[" * 100_000)
    with pytest.raises(CenterFileError, match="nested"):
        load_center_file(deep_yaml)


def test_a_nul_in_a_yaml_center_file_is_refused(db, tmp_path: Path):
    path = tmp_path / "center.yaml"
    text = json.dumps(factories.center_spec("baku-3")).replace(
        '"label": "1"', '"label": "1\\u0000"'
    )
    path.write_text(text)
    data = load_center_file(path)
    assert data["counters"][0]["label"] == "1\x00"  # YAML reads the escape as a NUL
    before = row_counts(db)
    with pytest.raises(CenterFileError) as refused, db.write() as s:
        import_center(s, data)
    assert refused.value.details["field"] == "counters[0].label"
    assert row_counts(db) == before


# --- the document and the limits agree ------------------------------------------------------


BOUNDED_PATTERNS = {
    "^[a-z0-9][a-z0-9_-]{0,63}$",
    "^[A-Z]{1,3}$",
    "^([01]\\d|2[0-3]):[0-5]\\d$",
    "^[A-Z]{1,3}[0-9]{3,6}$",
    "^[A-Za-z0-9_-]{1,64}$",
    "^(20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}$",
}


def resolve(node: dict) -> dict:
    while "$ref" in node:
        _, *parts = node["$ref"].split("/")
        node = SPEC
        for part in parts:
            node = node[part]
    return node


def inputs():
    """Every schema a request is checked against: parameters and bodies."""
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            params = [*item.get("parameters", [])] + (
                op.get("parameters", []) if isinstance(op, dict) and method != "parameters" else []
            )
            for param in params:
                param = resolve(param)
                yield f"{method} {path} {param['name']}", param["schema"]
            if isinstance(op, dict) and "requestBody" in op:
                body = op["requestBody"]["content"]["application/json"]["schema"]
                yield f"{method} {path} body", body


def leaves(where: str, schema: dict, seen=()):
    schema = resolve(schema)
    yield where, schema
    for key in ("anyOf", "oneOf", "allOf"):
        for i, sub in enumerate(schema.get(key, [])):
            yield from leaves(f"{where}/{key}[{i}]", sub)
    for name, sub in schema.get("properties", {}).items():
        yield from leaves(f"{where}.{name}", sub)
    if "items" in schema:
        yield from leaves(f"{where}[]", schema["items"])


def test_every_input_the_document_allows_is_bounded():
    """Integers within a range, strings of bounded length, lists of bounded size: what the
    server enforces is what the document says (server/api/validation.py)."""
    for where, schema in (leaf for name, s in inputs() for leaf in leaves(name, s)):
        kinds = schema.get("type", [])
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if "integer" in kinds:
            assert "minimum" in schema and "maximum" in schema, where
            assert schema["maximum"] <= limits.MAX_ID, where
        if "string" in kinds and "enum" not in schema:
            assert "maxLength" in schema or schema.get("pattern") in BOUNDED_PATTERNS, where
        if "array" in kinds:
            assert "maxItems" in schema, where


def test_the_document_says_the_limits_of_server_limits():
    schemas = SPEC["components"]["schemas"]
    params = SPEC["components"]["parameters"]
    assert schemas["LocalizedText"]["properties"]["az"]["maxLength"] == limits.MAX_NAME_LENGTH
    assert schemas["CounterCreate"]["properties"]["label"]["maxLength"] == limits.MAX_LABEL_LENGTH
    for name in ("CounterId", "TicketId"):
        assert params[name]["schema"]["maximum"] == limits.MAX_ID
    reason = schemas["TicketActionRequest"]["anyOf"][1]["properties"]["reason"]
    assert reason["maxLength"] == limits.MAX_REASON_LENGTH
    assert (
        str(limits.MAX_BODY_BYTES)
        in SPEC["components"]["responses"]["PayloadTooLarge"]["description"]
    )
    # The catalog's ranges: the center file's, and the API's (the views no longer repeat them).
    for name in ("ServiceUpdate", "ServiceEdit", "ServiceCreate"):
        props = schemas[name]["properties"]
        assert props["target_wait_min"]["maximum"] == MAX_MINUTES
        assert props["default_service_min"]["maximum"] == MAX_MINUTES
        assert props["daily_quota"]["maximum"] == MAX_DAILY_QUOTA
    # A service takes at least a minute: what is sent, and so what is answered.
    for name in ("ServiceUpdate", "ServiceEdit", "ServiceCreate", "AdminService", "CatalogService"):
        assert schemas[name]["properties"]["default_service_min"]["minimum"] == 1, name


def test_every_documented_operation_is_checked_by_the_layer(app):
    """The layer's table has an entry for each API route (a new route cannot slip by)."""
    checked = operations()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX + "/"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (rule.rule, method) in checked, (rule.rule, method)


# --- the real server: gunicorn's path ---------------------------------------------------------


HUNDRED_MB = 100 * 1024 * 1024


def send_on(url: str, request_head: str, length: int, chunk: bytes) -> tuple[bytes, int]:
    """Send ``request_head`` and then ``length`` bytes of ``chunk`` repeated, as fast as
    the server takes them, reading what it answers meanwhile and sending on after the
    answer, as an attacker would, until the server closes the connection: (the answer,
    bytes of body sent)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    sock.sendall(request_head.replace("{host}", parts.netloc).encode())
    sock.setblocking(False)
    sent, answer, closed = 0, b"", False
    deadline = time.monotonic() + 120  # a bound on the test, not a timing assertion
    while not closed and time.monotonic() < deadline:
        readable, writable, _ = select.select([sock], [sock] if sent < length else [], [], 1)
        try:
            if readable:
                part = sock.recv(65536)
                answer += part
                closed = not part
            elif writable:
                sent += sock.send(chunk[: length - sent])
        except BlockingIOError:
            pass
        except (BrokenPipeError, ConnectionResetError):
            closed = True
    sock.close()
    assert closed, "the server kept reading the body"
    return answer, sent


def head(method: str, path: str, length: int | None) -> str:
    size = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {{host}}\r\nContent-Type: application/json\r\n"
        f"{size}\r\n\r\n"
    )


def answer_of(raw: bytes) -> tuple[int, dict | None]:
    head_part, _, body = raw.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ", 2)[1])
    is_json = b"application/json" in head_part.lower()
    return status, json.loads(body) if is_json else None


def test_a_100_mb_body_is_refused_before_it_is_read(live_server):
    """To /auth/token, which needs no credential: 413 from the Content-Length alone, while
    the client is still sending; then the connection closes although the client sends on
    (gunicorn would otherwise read the rest to throw it away: 100 MB took the worker
    8 s of CPU), and the server stays responsive."""
    log_start = len(live_server.log())
    raw, sent = send_on(
        live_server.url, head("POST", "/api/v1/auth/token", HUNDRED_MB), HUNDRED_MB, b"[" * 2**20
    )
    status, body = answer_of(raw)
    assert status == 413, raw[:500]
    error = body["error"]
    assert error["code"] == "body_too_large"
    assert error["details"]["limit"] == limits.MAX_BODY_BYTES
    assert str(limits.MAX_BODY_BYTES) in error["message"]
    assert sent < HUNDRED_MB, "the server read the whole body"
    assert requests.get(f"{live_server.url}/healthz", timeout=10).status_code == 200
    assert "Traceback" not in live_server.log()[log_start:]


def test_a_100_mb_body_to_a_route_that_reads_none_is_refused_too(live_server):
    """/healthz never reads a body: 413 before it runs, and the connection closes (it
    used to answer 200 and then read the 100 MB to throw them away: 10 s of CPU)."""
    raw, sent = send_on(
        live_server.url, head("GET", "/healthz", HUNDRED_MB), HUNDRED_MB, b"x" * 2**20
    )
    assert answer_of(raw)[0] == 413, raw[:300]
    assert sent < HUNDRED_MB, "the server read the whole body"


def test_an_endless_chunked_body_is_cut_off(live_server):
    """Without a Content-Length the size shows only while reading: 413 at the limit, and
    the connection closes however long the client would go on."""
    chunk = b"100000\r\n" + b"[" * 0x100000 + b"\r\n"  # 1 MiB chunks, never the last one
    raw, sent = send_on(
        live_server.url, head("POST", "/api/v1/auth/token", None), HUNDRED_MB, chunk
    )
    status, body = answer_of(raw)
    assert (status, body["error"]["code"]) == (413, "body_too_large"), raw[:300]
    assert sent < HUNDRED_MB, "the server read the whole body"


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/api/v1/auth/token", "[" * 60_000, 400, "malformed_request"),
        ("/api/v1/auth/token", '{"username": "\\ud800", "password": "x"}', 422, "invalid_input"),
        ("/api/v1/auth/session", '{"username": "a\\u0000", "password": "x"}', 422, "invalid_input"),
    ],
)
def test_bad_bodies_to_the_real_server(live_server, path, body, status, code):
    log_start = len(live_server.log())
    r = requests.post(
        live_server.url + path, data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert "Traceback" not in live_server.log()[log_start:]


def test_nul_in_paths_on_the_real_server(live_server, live_center):
    log_start = len(live_server.log())
    for path, status in (
        ("/api/v1/public/centers/%00", 404),
        ("/api/v1/tickets/a%00b", 404),
        ("/t/a%00b", 404),
        ("/public/a%00b", 404),
        (f"/api/v1/counters/{2**63}/call-next", 404),
    ):
        r = requests.request(
            "POST" if "call-next" in path else "GET",
            live_server.url + path,
            headers={"Authorization": f"Bearer {live_center.kiosk_token}"},
            timeout=10,
        )
        assert r.status_code == status, (path, r.text[:300])
    assert "Traceback" not in live_server.log()[log_start:]
