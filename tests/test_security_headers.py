"""Every answer carries the security headers (pages, API JSON, errors, static files,
the vendored client, the health check, Engine.IO's own answers), HSTS only over HTTPS,
and the session cookie is Secure over HTTPS or when NOVBE_SECURE_COOKIES says so."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests
from flask import abort

from server import queue

from . import factories
from .api_helpers import PREFIX, setup_api

HTTPS = "https://novbe.example"


def policy(headers) -> dict[str, list[str]]:
    """The Content-Security-Policy as {directive: sources}."""
    directives = {}
    for part in headers["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        assert name not in directives, f"{name} given twice"
        directives[name] = sources
    return directives


def assert_protected(headers, *, secure: bool = False) -> None:
    csp = policy(headers)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]  # no inline script, no eval
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["media-src"] == ["'self'", "blob:"]
    assert csp["connect-src"][0] == "'self'"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    features = dict(f.split("=", 1) for f in headers["Permissions-Policy"].split(", "))
    assert features["camera"] == features["microphone"] == features["geolocation"] == "()"
    assert features["autoplay"] == features["screen-wake-lock"] == "(self)"
    if secure:
        assert headers["Strict-Transport-Security"] == "max-age=31536000"
    else:
        assert "Strict-Transport-Security" not in headers


@pytest.fixture
def site(app, db, center):
    """The test center with callers, a ticket, and two routes that fail on purpose (a
    rate limit and a crash), added before the app's first request."""
    api = setup_api(db, center)
    with db.write() as s:
        kiosk = factories.kiosk_actor(s, center)
        issued = queue.issue_ticket(s, center.code, "pension-new", "az", None, kiosk)
        token = issued.ticket.tracking_token

    def crash():
        raise RuntimeError("on purpose")

    app.add_url_rule(f"{PREFIX}/test-limit", "test_limit", lambda: abort(429))
    app.add_url_rule(f"{PREFIX}/test-crash", "test_api_crash", crash)
    app.add_url_rule("/test-crash", "test_page_crash", crash)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # the crash becomes a 500, as in production
    app.config["MAX_CONTENT_LENGTH"] = 1024
    return api, token


# (method, path, who, expected status); "who" names a credential in tests.api_helpers.Api.
ANSWERS = [
    ("GET", "/", None, 200),
    ("GET", "/healthz", None, 200),
    ("GET", f"{PREFIX}/openapi.json", None, 200),
    ("GET", f"{PREFIX}/public/centers/baku-1", None, 200),
    ("GET", f"{PREFIX}/centers/baku-1/queue", "staff", 200),
    ("GET", f"{PREFIX}/centers/baku-1/charts/arrivals.svg", "manager", 200),
    ("GET", f"{PREFIX}/tickets/<token>/qr.svg", None, 200),
    ("GET", f"{PREFIX}/auth/session", None, 401),
    ("GET", f"{PREFIX}/centers/baku-1/queue", None, 401),
    ("GET", f"{PREFIX}/centers/baku-1/admin", "staff", 403),
    ("GET", f"{PREFIX}/no-such-thing", None, 404),
    ("DELETE", f"{PREFIX}/public/centers/baku-1", None, 405),
    ("POST", f"{PREFIX}/auth/token", None, 413),
    ("GET", f"{PREFIX}/test-limit", None, 429),
    ("GET", f"{PREFIX}/test-crash", None, 500),
    ("GET", "/test-crash", None, 500),
    ("GET", "/no-such-page", None, 404),
    ("POST", "/healthz", None, 405),
    ("GET", "/kiosk/kiosk-1", None, 200),
    ("GET", "/display/hall", None, 200),
    ("GET", "/counter", None, 200),
    ("GET", "/manage", None, 200),
    ("GET", "/manage/admin", None, 200),
    ("GET", "/public/baku-1", None, 200),
    ("GET", "/public/no-such-center", None, 404),
    ("GET", "/t/<token>", None, 200),
    ("GET", "/t/no-such-ticket", None, 404),
    ("GET", "/static/novbe.js", None, 200),
    ("GET", "/static/kiosk/kiosk.css", None, 200),
    ("GET", "/static/favicon.svg", None, 200),
    ("GET", "/vendor/socket.io.min.js", None, 200),
    ("GET", "/vendor/no-such-file.js", None, 404),
    # Engine.IO answers these itself, before Flask: the WSGI wrapper adds the headers.
    ("GET", "/socket.io/?EIO=4&transport=polling", None, 200),
    ("GET", "/socket.io/?EIO=4&transport=polling&sid=unknown", None, 400),
]


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_every_kind_of_answer_carries_the_headers(client, site, scheme):
    api, token = site
    base_url = HTTPS if scheme == "https" else "http://localhost"
    for method, path, who, status in ANSWERS:
        headers = getattr(api, who) if who else {}
        body = b"{" + b" " * 2048 + b"}" if status == 413 else None
        response = client.open(
            path.replace("<token>", token),
            method=method,
            headers=headers,
            data=body,
            content_type="application/json" if body else None,
            base_url=base_url,
        )
        assert response.status_code == status, (method, path, response.status_code)
        assert_protected(response.headers, secure=scheme == "https")


def test_connect_src_names_the_hosts_own_websocket_and_nothing_injected(client):
    assert policy(client.get("/healthz").headers)["connect-src"] == ["'self'", "ws://localhost"]
    over_tls = client.get("/healthz", base_url="https://novbe.example:8443")
    assert policy(over_tls.headers)["connect-src"] == ["'self'", "wss://novbe.example:8443"]
    # A Host header that is not a plain host name adds nothing to the policy.
    forged = client.get("/healthz", headers={"Host": "evil.example; script-src *"})
    assert policy(forged.headers)["connect-src"] == ["'self'"]
    assert policy(forged.headers)["script-src"] == ["'self'"]


def test_a_views_own_header_is_kept(app, client):
    app.add_url_rule(
        "/test-own-policy",
        "test_own_policy",
        lambda: ("", 200, {"Content-Security-Policy": "sandbox", "X-Frame-Options": "SAMEORIGIN"}),
    )
    response = client.get("/test-own-policy")
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["X-Content-Type-Options"] == "nosniff"  # the rest still added


def log_in(client, base_url: str):
    return client.post(
        f"{PREFIX}/auth/session",
        json={"username": "alice", "password": factories.PASSWORD},
        base_url=base_url,
    )


def session_cookie(response) -> str:
    """The one session Set-Cookie of a Flask test answer or a requests answer."""
    headers = response.raw.headers if isinstance(response, requests.Response) else response.headers
    cookies = [c for c in headers.getlist("Set-Cookie") if c.startswith("novbe_session=")]
    assert len(cookies) == 1, response.headers
    return cookies[0]


def cookie_flags(cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}


def test_the_session_cookie_is_secure_over_https_only(client, db, center):
    with db.write() as s:
        factories.make_staff(s, "alice")
    plain = log_in(client, "http://localhost")
    assert plain.status_code == 201
    assert "secure" not in cookie_flags(session_cookie(plain))
    over_tls = log_in(client, HTTPS)
    assert over_tls.status_code == 201
    assert {"secure", "httponly", "samesite"} <= cookie_flags(session_cookie(over_tls))


def test_secure_cookies_setting_marks_the_cookie_secure_over_plain_http(app, client, db, center):
    app.config["SESSION_COOKIE_SECURE"] = True
    with db.write() as s:
        factories.make_staff(s, "alice")
    response = log_in(client, "http://localhost")
    assert response.status_code == 201
    assert "secure" in cookie_flags(session_cookie(response))


@pytest.mark.parametrize(
    "value, secure", [("1", True), ("true", True), ("yes", True), ("0", False), ("", False)]
)
def test_novbe_secure_cookies_sets_the_flask_setting(value, secure):
    env = dict(os.environ, NOVBE_SECURE_COOKIES=value)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from server.config import Config; print(Config.SESSION_COOKIE_SECURE)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == str(secure)


def test_behind_a_proxy_on_this_machine_the_real_server_sees_https(live_server, live_center):
    """``novbe serve`` behind nginx on the same host: X-Forwarded-Proto from 127.0.0.1
    is trusted, so answers carry HSTS and the session cookie is Secure; without the
    header (plain HTTP) neither."""
    proxied = {"X-Forwarded-Proto": "https"}
    for path in ("/healthz", "/kiosk/kiosk-1", "/socket.io/?EIO=4&transport=polling"):
        assert_protected(requests.get(live_server.url + path, timeout=10).headers)
        over_tls = requests.get(live_server.url + path, headers=proxied, timeout=10)
        assert_protected(over_tls.headers, secure=True)

    credentials = {"username": live_center.staff_username, "password": live_center.password}
    for headers, secure in (({}, False), (proxied, True)):
        response = live_server.api("POST", "/auth/session", json=credentials, headers=headers)
        assert response.status_code == 201, response.text
        assert ("secure" in cookie_flags(session_cookie(response))) is secure
