"""The web screens' login: a session cookie, with a CSRF token for changes."""

from __future__ import annotations

from . import factories

PREFIX = "/api/v1"


def log_in(client, username="alice", password=factories.PASSWORD):
    return client.post(f"{PREFIX}/auth/session", json={"username": username, "password": password})


def test_session_login_sets_an_httponly_cookie_and_returns_a_csrf_token(client, db, center):
    with db.write() as s:
        factories.make_staff(s, "alice")
    response = log_in(client)
    assert response.status_code == 201
    body = response.get_json()
    assert body["user"] == {"username": "alice", "role": "staff", "center": "baku-1"}
    assert len(body["csrf_token"]) >= 32
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get(f"{PREFIX}/auth/session").get_json()["csrf_token"] == body["csrf_token"]


def test_wrong_password_sets_no_session(client, db, center):
    with db.write() as s:
        factories.make_staff(s, "alice")
    response = log_in(client, password="wrong-password-123")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "bad_credentials"
    assert client.get(f"{PREFIX}/auth/session").status_code == 401


def test_changes_with_the_cookie_need_the_csrf_header(client, db, center):
    with db.write() as s:
        factories.make_staff(s, "alice")
        counter_id = factories.counter(s, center, "1").id
    csrf = log_in(client).get_json()["csrf_token"]
    url = f"{PREFIX}/counters/{counter_id}/call-next"

    refused = client.post(url)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "csrf_failed"
    assert client.post(url, headers={"X-CSRF-Token": "forged"}).status_code == 403
    # Reading needs no CSRF token; acting with it works (204: nobody waits).
    assert client.get(f"{PREFIX}/centers/baku-1/queue").status_code == 200
    assert client.post(url, headers={"X-CSRF-Token": csrf}).status_code == 204


def test_logout_and_password_change_end_the_session(client, db, center):
    from server.auth import hash_password
    from server.models import StaffUser

    with db.write() as s:
        factories.make_staff(s, "alice")
    log_in(client)
    assert client.delete(f"{PREFIX}/auth/session").status_code == 204
    assert client.get(f"{PREFIX}/centers/baku-1/queue").status_code == 401

    log_in(client)
    with db.write() as s:
        user = s.query(StaffUser).filter_by(username="alice").one()
        user.password_hash = hash_password("a-new-password-456")
    assert client.get(f"{PREFIX}/auth/session").status_code == 401
    assert client.get(f"{PREFIX}/centers/baku-1/queue").status_code == 401
