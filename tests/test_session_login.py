"""The web screens' login: a session cookie, with a CSRF token for changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from server.models import utcnow

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


# --- sessions the server can revoke --------------------------------------------------------


def copy_of(client, app):
    """Another browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("novbe_session", client.get_cookie("novbe_session").value)
    return thief


def live_socket(app, client, counter_id):
    from server.extensions import socketio

    return socketio.test_client(
        app, namespace="/live", auth={"counter": counter_id}, flask_test_client=client
    )


def test_a_cookie_copied_before_logout_stops_working_everywhere(app, client, db, center):
    with db.write() as s:
        factories.make_staff(s, "alice")
        counter_id = factories.counter(s, center, "1").id
    log_in(client)
    thief = copy_of(client, app)
    assert thief.get(f"{PREFIX}/centers/baku-1/queue").status_code == 200
    socket = live_socket(app, thief, counter_id)
    assert socket.is_connected("/live")  # the copy works while the login lasts
    socket.disconnect("/live")

    assert client.delete(f"{PREFIX}/auth/session").status_code == 204
    assert thief.get(f"{PREFIX}/auth/session").status_code == 401
    assert thief.get(f"{PREFIX}/centers/baku-1/queue").status_code == 401
    assert not live_socket(app, thief, counter_id).is_connected("/live")


def test_a_password_reset_ends_existing_sessions(app, client, db, center):
    with db.write() as s:
        factories.make_staff(s, "alice")
        manager = factories.staff_token(s, factories.make_staff(s, "maria", "manager").name)
    log_in(client)
    assert client.get(f"{PREFIX}/auth/session").status_code == 200
    reset = client.post(
        f"{PREFIX}/centers/baku-1/staff/alice/password",
        json={"password": "a-new-password-456"},
        headers={"Authorization": f"Bearer {manager}"},
    )
    assert reset.status_code == 200
    assert client.get(f"{PREFIX}/auth/session").status_code == 401
    assert log_in(client, password="a-new-password-456").status_code == 201


def test_deactivation_ends_sessions_for_good(app, client, db, center):
    with db.write() as s:
        factories.make_staff(s, "alice")
        manager = factories.staff_token(s, factories.make_staff(s, "maria", "manager").name)
    log_in(client)
    thief = copy_of(client, app)
    headers = {"Authorization": f"Bearer {manager}"}
    for active in (False, True):
        response = client.patch(
            f"{PREFIX}/centers/baku-1/staff/alice", json={"active": active}, headers=headers
        )
        assert response.status_code == 200
    # Reactivated, alice logs in afresh; the sessions she had stay ended.
    assert thief.get(f"{PREFIX}/auth/session").status_code == 401
    assert log_in(client).status_code == 201


def test_logging_in_again_ends_the_browsers_previous_session(app, client, db, center):
    with db.write() as s:
        factories.make_staff(s, "alice")
    log_in(client)
    earlier = copy_of(client, app)
    log_in(client)
    assert client.get(f"{PREFIX}/auth/session").status_code == 200
    assert earlier.get(f"{PREFIX}/auth/session").status_code == 401


def test_only_a_hash_of_the_session_id_is_stored(app, client, db, center):
    import hashlib

    from server.models import StaffSession

    with db.write() as s:
        factories.make_staff(s, "alice")
    log_in(client)
    cookie = client.get_cookie("novbe_session").value
    sid = app.session_interface.get_signing_serializer(app).loads(cookie)["sid"]
    with db.read() as s:
        hashes = s.scalars(select(StaffSession.token_hash)).all()
    assert hashes == [hashlib.sha256(sid.encode()).hexdigest()]
    assert sid not in hashes


def test_expired_sessions_are_refused(client, db, center):
    from server.models import StaffSession

    with db.write() as s:
        factories.make_staff(s, "alice")
    log_in(client)
    with db.write() as s:
        s.execute(update(StaffSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert client.get(f"{PREFIX}/auth/session").status_code == 401


def test_last_seen_is_written_at_most_once_a_minute(client, db, center):
    from server.models import StaffSession

    with db.write() as s:
        factories.make_staff(s, "alice")
    log_in(client)

    def last_seen():
        with db.read() as s:
            return s.scalar(select(StaffSession.last_seen_at))

    at_login = last_seen()
    for _ in range(3):
        assert client.get(f"{PREFIX}/auth/session").status_code == 200
    assert last_seen() == at_login
    earlier = at_login - timedelta(minutes=2)
    with db.write() as s:
        s.execute(update(StaffSession).values(last_seen_at=earlier))
    assert client.get(f"{PREFIX}/auth/session").status_code == 200
    assert last_seen() > at_login


def test_a_copied_cookie_is_refused_by_the_live_server_after_logout(live_server, live_center):
    """A real server process, a real socket: the copy made before logging out opens
    neither the API nor the live channel afterwards."""
    import requests
    import socketio

    browser = requests.Session()
    response = browser.post(
        f"{live_server.url}/api/v1/auth/session",
        json={"username": live_center.staff_username, "password": live_center.password},
        timeout=10,
    )
    assert response.status_code == 201
    copied = {"novbe_session": browser.cookies["novbe_session"]}
    queue_url = f"{live_server.url}/api/v1/centers/{live_center.code}/queue"
    assert requests.get(queue_url, cookies=copied, timeout=10).status_code == 200

    assert browser.delete(f"{live_server.url}/api/v1/auth/session", timeout=10).status_code == 204
    assert requests.get(queue_url, cookies=copied, timeout=10).status_code == 401
    with pytest.raises(socketio.exceptions.ConnectionError):
        socketio.SimpleClient().connect(
            live_server.url,
            namespace="/live",
            auth={"counter": live_center.counters["2"]},
            headers={"Cookie": f"novbe_session={copied['novbe_session']}"},
            transports=["websocket"],
        )
