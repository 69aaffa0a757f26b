"""What a client sends on the live channel is held to the API's limits: a packet too
large, too deeply nested, or with a NUL or lone surrogate ends that connection (and
only that one) without a traceback in the server's log."""

from __future__ import annotations

import json

import pytest
import websocket

from server.limits import MAX_JSON_DEPTH

MAX_MESSAGE_BYTES = 64 * 1024  # server/config.py SOCKETIO_MAX_MESSAGE_BYTES
pytestmark = pytest.mark.e2e


def open_socket(live_server) -> websocket.WebSocket:
    url = live_server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    ws = websocket.create_connection(url, origin=live_server.url, timeout=5)
    assert ws.recv().startswith("0{")  # Engine.IO open
    return ws


def connect_public(live_server, code: str) -> websocket.WebSocket:
    ws = open_socket(live_server)
    ws.send("40/live," + json.dumps({"public": code}))
    frames = [ws.recv(), ws.recv()]
    assert any(f.startswith("40/live,") for f in frames), frames
    return ws


def closed_by_server(ws: websocket.WebSocket, quiet: float = 1.0) -> bool:
    """Read until the server closes the socket (True) or stays quiet for ``quiet``
    seconds with the socket open (False)."""
    ws.settimeout(quiet)
    try:
        while True:
            frame = ws.recv()
            if frame == "" or frame.startswith("41/live"):  # close, or Socket.IO disconnect
                return True
            if frame == "2":  # Engine.IO ping: the connection is alive
                return False
    except websocket.WebSocketConnectionClosedException:
        return True
    except websocket.WebSocketTimeoutException:
        return False


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param('42/live,["ticket.printed",' + nested(100_000) + "]", id="nested-100000"),
        pytest.param(
            '42/live,["ticket.printed",' + nested(MAX_JSON_DEPTH + 1) + "]", id="one-too-deep"
        ),
        pytest.param('42/live,["printer.status","\\ud800"]', id="lone-surrogate"),
        pytest.param('42/live,["printer.status",{"a\\u0000":1}]', id="nul-in-a-key"),
        pytest.param(
            '42/live,["printer.status","' + "x" * MAX_MESSAGE_BYTES + '"]', id="too-large"
        ),
        pytest.param("42/live,not json", id="not-json"),
    ],
)
def test_a_bad_packet_ends_only_that_connection(live_server, live_center, packet):
    bystander = connect_public(live_server, live_center.code)
    sender = connect_public(live_server, live_center.code)
    sender.send(packet)
    assert closed_by_server(sender)
    bystander.send('42/live,["printer.status",{}]')
    assert not closed_by_server(bystander)
    assert "Traceback" not in live_server.log()


def test_a_packet_just_within_the_depth_limit_is_decoded(live_server, live_center):
    ws = connect_public(live_server, live_center.code)
    ws.send('42/live,["printer.status",' + nested(MAX_JSON_DEPTH - 1) + "]")
    assert not closed_by_server(ws)  # refused by the handler (not a printer), not cut off


@pytest.mark.parametrize(
    "auth",
    [
        '{"public": "\\ud800"}',
        '{"public": "live\\u0000"}',
        '{"token": "st_\\ud800"}',
        '{"token": "dv_\\u0000"}',
        '{"ticket": "\\udfff"}',
        '{"token": "st_x", "counter": 1, "center": "\\u0000"}',
        '{"token": ' + nested(MAX_JSON_DEPTH + 1) + "}",
    ],
)
def test_bad_text_in_the_credential_is_refused_before_any_lookup(live_server, auth):
    ws = open_socket(live_server)
    ws.send("40/live," + auth)
    assert closed_by_server(ws)
    assert "Traceback" not in live_server.log()


@pytest.mark.parametrize("counter", [2**31, 2**63, -1, 0])
def test_a_counter_id_out_of_range_names_no_counter(live_server, live_center, counter):
    ws = open_socket(live_server)
    ws.send("40/live," + json.dumps({"token": live_center.staff_token, "counter": counter}))
    frame = ws.recv()
    assert frame.startswith("44/live,") and f"unknown counter {counter}" in frame
    assert "Traceback" not in live_server.log()
