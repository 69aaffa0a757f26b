"""The live channel end to end: a real server process and real Socket.IO clients."""

from __future__ import annotations

import pytest
import socketio

NAMESPACE = "/live"
FORBIDDEN_KEYS = {"tracking_token", "priority", "staff", "staff_id", "username"}
pytestmark = pytest.mark.e2e


def connect(live_server, auth) -> socketio.SimpleClient:
    client = socketio.SimpleClient()
    client.connect(live_server.url, namespace=NAMESPACE, auth=auth, transports=["websocket"])
    return client


def next_event(client, name: str, timeout: float = 5.0, where=lambda data: True):
    """Read events until one called ``name`` that satisfies ``where``; fail on time-out."""
    seen = []
    while True:
        try:
            event, *args = client.receive(timeout=timeout)
        except socketio.exceptions.TimeoutError:
            pytest.fail(f"no {name!r} within {timeout} s; saw {seen}")
        data = args[0] if args else None
        seen.append(event)
        if event == name and where(data):
            return data


def assert_public(payload) -> None:
    """Nothing a public screen may not show, at any depth: no ticket ids (only numbers),
    no tracking tokens, no priority class, no staff."""
    if isinstance(payload, dict):
        assert not FORBIDDEN_KEYS & set(payload), payload
        if "number" in payload:
            assert "id" not in payload, payload
        for value in payload.values():
            assert_public(value)
    elif isinstance(payload, list):
        for value in payload:
            assert_public(value)


@pytest.mark.parametrize(
    "auth",
    [None, {}, {"token": "dv_not-a-real-token"}, {"ticket": "no-such-ticket"}, {"token": 5}],
)
def test_bad_or_missing_credentials_are_refused_at_connect(live_server, auth):
    client = socketio.SimpleClient()
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(live_server.url, namespace=NAMESPACE, auth=auth, transports=["websocket"])


def test_staff_cannot_join_a_counter_of_another_center(live_server):
    mine, other = live_server.new_center(), live_server.new_center()
    client = socketio.SimpleClient()
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(
            live_server.url,
            namespace=NAMESPACE,
            auth={"token": mine.staff_token, "counter": other.counters["1"]},
            transports=["websocket"],
        )


def test_display_gets_a_snapshot_then_issue_call_and_stats_events(live_server, live_center):
    display = connect(live_server, {"token": live_center.display_token})
    try:
        snapshot = next_event(display, "snapshot")
        assert snapshot["kind"] == "display"
        assert snapshot["center"]["code"] == live_center.code
        services = [s["code"] for c in snapshot["catalog"] for s in c["services"]]
        assert services == ["pension-new", "pension-recalc", "job-seeker", "unemployment"]
        assert snapshot["recent_calls"] == []
        assert_public(snapshot)

        issued = live_server.issue(live_center, "pension-new", language="ru", priority="elderly")
        event = next_event(display, "ticket.issued")
        assert event["number"] == issued["number"] == "A001"
        assert event["language"] == "ru"
        stats = next_event(display, "queue.stats")
        row = next(r for r in stats["services"] if r["service"] == "pension-new")
        assert (row["waiting"], row["priority_waiting"]) == (1, 1)

        live_server.call_next(live_center, "2")
        called = next_event(display, "ticket.called")
        assert called["number"] == "A001"
        assert called["counter"] == "2"
        assert called["language"] == "ru"
        assert called["service_name"]["ru"] == "New pension (ru)"
        assert called["recall_count"] == 0
        for payload in (event, stats, called):
            assert_public(payload)
    finally:
        display.disconnect()


def test_recall_is_announced_again_with_its_count(live_server, live_center):
    display = connect(live_server, {"token": live_center.display_token})
    try:
        next_event(display, "snapshot")
        live_server.issue(live_center, "job-seeker")
        ticket = live_server.call_next(live_center, "3")
        next_event(display, "ticket.called", where=lambda d: d["recall_count"] == 0)
        response = live_server.api(
            "POST", f"/tickets/{ticket['id']}/recall", live_center.staff_token
        )
        assert response.status_code == 200
        recalled = next_event(display, "ticket.called", where=lambda d: d["recall_count"] == 1)
        assert (recalled["number"], recalled["counter"]) == ("C001", "3")
    finally:
        display.disconnect()


def test_phone_follows_its_own_ticket_only(live_server, live_center):
    first = live_server.issue(live_center, "pension-new")
    mine = live_server.issue(live_center, "pension-new", language="en")
    phone = connect(live_server, {"ticket": mine["tracking_token"]})
    try:
        snapshot = next_event(phone, "snapshot")
        assert snapshot["ticket"]["number"] == "A002"
        assert snapshot["ticket"]["position"] == 2
        assert snapshot["ticket"]["language"] == "en"
        assert_public(snapshot)

        live_server.call_next(live_center, "1")  # calls A001, ahead of me
        moved = next_event(phone, "ticket.updated", where=lambda d: d.get("position") == 1)
        assert moved["status"] == "waiting"
        assert moved["estimated_wait_s"] is not None

        live_server.api("POST", f"/tickets/{first['id']}/start", live_center.staff_token)
        live_server.call_next(live_center, "1")  # completes A001, calls me
        called = next_event(phone, "ticket.called")
        assert (called["number"], called["counter"]) == ("A002", "1")
        assert_public(called)
    finally:
        phone.disconnect()


def test_two_counter_tabs_see_the_same_current_ticket(live_server, live_center):
    auth = {"token": live_center.staff_token, "counter": live_center.counters["1"]}
    tabs = [connect(live_server, auth), connect(live_server, auth)]
    try:
        for tab in tabs:
            snapshot = next_event(tab, "snapshot")
            assert snapshot["counter"]["label"] == "1"
            assert snapshot["counter"]["ticket"] is None
        live_server.issue(live_center, "pension-recalc")
        live_server.call_next(live_center, "1")
        for tab in tabs:
            update = next_event(tab, "counter.updated", where=lambda d: d["ticket"] is not None)
            assert update["state"] == "open"
            assert update["ticket"]["number"] == "B001"
            assert update["ticket"]["status"] == "called"
    finally:
        for tab in tabs:
            tab.disconnect()


def test_a_reconnecting_display_gets_what_it_missed_in_a_fresh_snapshot(live_server, live_center):
    display = connect(live_server, {"token": live_center.display_token})
    next_event(display, "snapshot")
    display.disconnect()

    live_server.issue(live_center, "pension-new")
    live_server.issue(live_center, "job-seeker")
    live_server.call_next(live_center, "1")
    live_server.call_next(live_center, "3")

    display = connect(live_server, {"token": live_center.display_token})
    try:
        snapshot = next_event(display, "snapshot")
        calls = [(c["number"], c["counter"]) for c in snapshot["recent_calls"]]
        assert calls == [("C001", "3"), ("A001", "1")]  # newest first
        counters = {c["label"]: c["current_ticket"] for c in snapshot["stats"]["counters"]}
        assert counters["1"]["number"] == "A001"
    finally:
        display.disconnect()


def test_other_centers_events_do_not_reach_a_display(live_server):
    mine, other = live_server.new_center(), live_server.new_center()
    display = connect(live_server, {"token": mine.display_token})
    try:
        next_event(display, "snapshot")
        live_server.issue(other, "pension-new")
        live_server.issue(mine, "job-seeker")
        event = next_event(display, "ticket.issued")
        assert event["number"] == "C001"  # the other center's A001 never arrived
    finally:
        display.disconnect()


def test_session_login_opens_the_live_channel_for_a_counter(live_server, live_center):
    """The web screens log in with a session cookie; the socket accepts the cookie."""
    import requests

    web = requests.Session()
    response = web.post(
        f"{live_server.url}/api/v1/auth/session",
        json={"username": live_center.staff_username, "password": live_center.password},
        timeout=10,
    )
    assert response.status_code == 201
    cookie = f"novbe_session={web.cookies['novbe_session']}"
    client = socketio.SimpleClient()
    client.connect(
        live_server.url,
        namespace=NAMESPACE,
        auth={"counter": live_center.counters["2"]},
        headers={"Cookie": cookie},
        transports=["websocket"],
    )
    try:
        snapshot = next_event(client, "snapshot")
        assert snapshot["counter"]["label"] == "2"
        assert snapshot["user"]["username"] == live_center.staff_username
    finally:
        client.disconnect()

    web.delete(f"{live_server.url}/api/v1/auth/session", timeout=10)
    with pytest.raises(socketio.exceptions.ConnectionError):
        socketio.SimpleClient().connect(
            live_server.url,
            namespace=NAMESPACE,
            auth={"counter": live_center.counters["2"]},
            headers={"Cookie": f"novbe_session={web.cookies.get('novbe_session', '')}"},
            transports=["websocket"],
        )


@pytest.mark.slow
def test_two_server_processes_share_the_live_channel_through_redis(tmp_path):
    """With NOVBE_MESSAGE_QUEUE, a call made through one process reaches a display
    connected to another (Redis on this machine, for real)."""
    from .live import start_live_server

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = start_live_server(tmp_path, url, message_queue="redis://127.0.0.1:6379/0")
    second = start_live_server(tmp_path, url, message_queue="redis://127.0.0.1:6379/0")
    try:
        center = first.new_center()
        display = connect(first, {"token": center.display_token})
        try:
            next_event(display, "snapshot")
            second.issue(center, "job-seeker")
            assert next_event(display, "ticket.issued")["number"] == "C001"
            second.call_next(center, "3")
            called = next_event(display, "ticket.called")
            assert (called["number"], called["counter"]) == ("C001", "3")
        finally:
            display.disconnect()
    finally:
        first.stop()
        second.stop()


def test_a_page_of_another_site_cannot_open_the_socket(live_server):
    """The browser sends the login cookie with a cross-site WebSocket too; the server
    accepts sockets only from pages it served itself (checked on the Origin header)."""
    import websocket

    address = live_server.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(address, origin="http://attacker.example", timeout=5)
    assert refused.value.status_code == 400

    same_site = websocket.create_connection(address, origin=live_server.url, timeout=5)
    try:
        assert same_site.recv().startswith("0{")  # the Engine.IO open packet
    finally:
        same_site.close()
