"""The live channel in process, with Flask-SocketIO's test client, on every backend:
who may connect, which rooms they end up in, and what their snapshot holds."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server import queue
from server.auth import staff_actor
from server.extensions import socketio
from server.models import StaffUser
from server.realtime.state import live_of

from . import factories

NS = "/live"


def staff(s, username: str):
    return staff_actor(s.scalars(select(StaffUser).filter_by(username=username)).one())


def connect(app, client=None, **auth):
    return socketio.test_client(app, namespace=NS, auth=auth or None, flask_test_client=client)


def events(sio, name: str) -> list:
    return [e["args"][0] for e in sio.get_received(NS) if e["name"] == name]


@pytest.fixture
def tokens(db, center):
    with db.write() as s:
        factories.make_staff(s, "alice")
        factories.make_staff(s, "boss", role="manager")
        return {
            "kiosk": factories.device_token(s, center, "kiosk-1"),
            "display": factories.device_token(s, center, "hall"),
            "staff": factories.staff_token(s, "alice"),
            "manager": factories.staff_token(s, "boss"),
            "counter1": factories.counter(s, center, "1").id,
            "counter2": factories.counter(s, center, "2").id,
        }


@pytest.mark.parametrize(
    "auth", [{}, {"token": "dv_nope"}, {"token": "st_nope"}, {"ticket": "nope"}, {"token": 1}]
)
def test_refused_without_a_valid_credential(app, tokens, auth):
    assert not connect(app, **auth).is_connected(NS)


def test_plain_staff_must_name_a_counter_and_a_manager_need_not(app, tokens):
    assert not connect(app, token=tokens["staff"]).is_connected(NS)
    assert not connect(app, token=tokens["staff"], counter=999_999).is_connected(NS)
    assert not connect(app, token=tokens["staff"], counter="1").is_connected(NS)
    manager = connect(app, token=tokens["manager"])
    assert manager.is_connected(NS)
    assert events(manager, "snapshot")[0]["kind"] == "center"


def test_snapshots_per_kind_of_client(app, db, center, tokens):
    with db.write() as s:
        issued = queue.issue_ticket(
            s, "baku-1", "pension-new", "ru", None, factories.kiosk_actor(s, center)
        ).ticket
        tracking = issued.tracking_token

    kiosk = events(connect(app, token=tokens["kiosk"]), "snapshot")[0]
    assert kiosk["kind"] == "kiosk"
    assert kiosk["center"]["priority_classes"] == ["disability", "elderly", "veteran", "pregnant"]
    waiting = {row["service"]: row["waiting"] for row in kiosk["stats"]["services"]}
    assert waiting["pension-new"] == 1

    staff = events(connect(app, token=tokens["staff"], counter=tokens["counter1"]), "snapshot")[0]
    assert staff["counter"]["label"] == "1"
    assert staff["counter"]["ticket"] is None
    assert {s["code"] for s in staff["services"]} >= {"pension-new", "unemployment"}

    phone = events(connect(app, ticket=tracking), "snapshot")[0]
    assert phone["ticket"]["number"] == "A001"
    assert phone["ticket"]["position"] == 1
    assert "id" not in phone["ticket"] and "priority" not in phone["ticket"]


def test_a_display_never_sees_another_centers_calls(app, db, center, tokens):
    with db.write() as s:
        other = factories.make_center(s, "ganja-1")
        other_display = factories.device_token(s, other, "hall")
        factories.make_staff(s, "olga", center_code="ganja-1")
    mine, theirs = connect(app, token=tokens["display"]), connect(app, token=other_display)
    mine.get_received(NS), theirs.get_received(NS)  # drop the snapshots

    with db.write() as s:
        queue.issue_ticket(s, "ganja-1", "job-seeker", "az", None, factories.kiosk_actor(s, other))
    with db.write() as s:
        queue.call_next(s, factories.counter(s, other, "3").id, staff(s, "olga"))

    assert [e["number"] for e in events(theirs, "ticket.called")] == ["C001"]
    assert mine.get_received(NS) == []


def test_a_phone_hears_only_its_own_ticket(app, db, center, tokens):
    with db.write() as s:
        kiosk = factories.kiosk_actor(s, center)
        first = queue.issue_ticket(s, "baku-1", "pension-new", "az", None, kiosk).ticket
        second = queue.issue_ticket(s, "baku-1", "pension-new", "en", None, kiosk).ticket
        first_token, second_token = first.tracking_token, second.tracking_token
    phone = connect(app, ticket=second_token)
    phone.get_received(NS)
    with db.write() as s:
        queue.call_next(s, tokens["counter1"], staff(s, "alice"))  # calls the first ticket

    got = phone.get_received(NS)
    assert [e["name"] for e in got] == ["ticket.updated"]  # my place in line moved
    assert got[0]["args"][0]["position"] == 1
    assert first_token not in str(got)


def test_a_displays_snapshot_holds_only_calls_it_would_show(app, db, center, tokens):
    from server.models import Device

    with db.write() as s:
        s.scalars(select(Device).filter_by(name="hall")).one().settings = {"counters": ["2"]}
        kiosk = factories.kiosk_actor(s, center)
        for _ in range(3):
            queue.issue_ticket(s, "baku-1", "pension-recalc", "az", None, kiosk)
    for label in ("1", "2", "2"):
        with db.write() as s:
            counter = factories.counter(s, center, label)
            queue.call_next(s, counter.id, staff(s, "alice"))
            if label == "2":
                queue.start(s, queue.current_ticket(s, counter.id).id, staff(s, "alice"))

    snapshot = events(connect(app, token=tokens["display"]), "snapshot")[0]
    assert snapshot["settings"] == {"counters": ["2"]}
    assert [(c["number"], c["counter"]) for c in snapshot["recent_calls"]] == [
        ("B003", "2"),
        ("B002", "2"),
    ]


def test_a_counter_hears_about_its_parked_visitors_and_tickets_sent_to_it(app, db, center, tokens):
    with db.write() as s:
        kiosk = factories.kiosk_actor(s, center)
        for _ in range(2):
            queue.issue_ticket(s, "baku-1", "pension-new", "az", None, kiosk)
    sio = connect(app, token=tokens["staff"], counter=tokens["counter1"])
    sio.get_received(NS)
    with db.write() as s:
        alice = staff(s, "alice")
        first = queue.call_next(s, tokens["counter1"], alice)
        queue.start(s, first.id, alice)
        queue.park(s, first.id, alice, reason="passport copy")
    with db.write() as s:
        second = queue.call_next(s, tokens["counter1"], staff(s, "alice"))
        queue.transfer(s, second.id, staff(s, "alice"), counter_id=tokens["counter2"])
    counter_updates = events(sio, "counter.updated")
    last = counter_updates[-1]
    assert last["ticket"] is None
    assert [t["number"] for t in last["parked"]] == ["A001"]
    assert last["parked"][0]["status"] == "parked"

    two = events(connect(app, token=tokens["staff"], counter=tokens["counter2"]), "snapshot")
    assert two[0]["counter"]["waiting_for_counter"] == 1


def test_a_network_admin_follows_every_centers_row(app, db, center, tokens):
    with db.write() as s:
        factories.make_staff(s, "root", role="admin", center_code=None)
        root_token = factories.staff_token(s, "root")
    network = connect(app, token=root_token, network=True)
    assert events(network, "snapshot")[0]["kind"] == "network"
    # A center's own manager sees that center only, never the network's rows.
    assert not connect(app, token=tokens["manager"], network=True).is_connected(NS)
    display = connect(app, token=tokens["display"])
    display.get_received(NS)
    with db.write() as s:
        queue.issue_ticket(s, "baku-1", "pension-new", "az", None, factories.kiosk_actor(s, center))
        queue.issue_ticket(s, "baku-1", "pension-new", "az", None, factories.kiosk_actor(s, center))

    rows = events(network, "network.center")
    assert rows and rows[-1]["center"] == "baku-1"
    assert rows[-1]["waiting"] == 2 and rows[-1]["over_target"] is False
    assert events(display, "network.center") == []  # a screen of the center is not in it


def test_a_devices_new_settings_reach_its_screen_without_a_reconnect(app, db, center, tokens):
    from server import admin

    with db.write() as s:
        factories.make_staff(s, "root", role="admin", center_code=None)
    kiosk = connect(app, token=tokens["kiosk"])
    display = connect(app, token=tokens["display"])
    kiosk.get_received(NS), display.get_received(NS)
    with db.write() as s:
        actor = staff(s, "root")
        kiosk_device = admin.get_device_at(s, center, "kiosk-1")
        admin.update_device(s, actor, center, kiosk_device, {"printer": "tcp://10.0.0.9:9100"})

    updated = events(kiosk, "device.updated")
    assert [u["device"] for u in updated] == ["kiosk-1"]
    assert "printer" not in updated[0]["settings"]  # a printer's address stays on the server
    assert events(display, "device.updated") == []  # only that device's screen


# ---- visitors' phones: positions per center ----------------------------------------


def test_a_change_in_one_center_recomputes_only_that_centers_phones(app, db, center, tokens):
    with db.write() as s:
        other = factories.make_center(s, "ganja-1")
        here = queue.issue_ticket(s, "baku-1", "pension-new", "az", None, kiosk_actor(s, center))
        there = queue.issue_ticket(s, "ganja-1", "pension-new", "az", None, kiosk_actor(s, other))
        here_token, there_token = here.ticket.tracking_token, there.ticket.tracking_token
        other_kiosk = kiosk_actor(s, other)
    phone_here, phone_there = connect(app, ticket=here_token), connect(app, ticket=there_token)
    phone_here.get_received(NS), phone_there.get_received(NS)

    with db.write() as s:  # only baku-1's queue changes
        queue.issue_ticket(s, "baku-1", "pension-new", "az", None, kiosk_actor(s, center))

    # Baku's phone had its place pushed (no place was sent to it since its snapshot);
    # Ganja's phone, whose queue did not change, was not even recomputed.
    assert [e["position"] for e in events(phone_here, "ticket.updated")] == [1]
    assert phone_there.get_received(NS) == []

    with db.write() as s:  # now Ganja's
        queue.issue_ticket(s, "ganja-1", "pension-new", "az", None, other_kiosk)
    assert [e["position"] for e in events(phone_there, "ticket.updated")] == [1]
    assert phone_here.get_received(NS) == []


def kiosk_actor(s, center):
    return factories.kiosk_actor(s, s.merge(center))


def test_the_process_keeps_a_phone_until_its_last_connection_leaves(app, db, center, tokens):
    with db.write() as s:
        ticket = queue.issue_ticket(s, "baku-1", "pension-new", "az", None, kiosk_actor(s, center))
        token, center_id = ticket.ticket.tracking_token, ticket.ticket.center_id
    visitors = live_of(app).publisher.visitors
    first, second = connect(app, ticket=token), connect(app, ticket=token)
    assert visitors.tokens() == {center_id: [token]}
    first.disconnect(NS)
    assert visitors.tokens() == {center_id: [token]}  # the other phone still follows it
    second.disconnect(NS)
    assert visitors.tokens() == {}
    assert live_of(app).connections.counts()["visitor"] == 0


def test_a_one_press_call_is_announced_as_a_call_and_then_its_start(app, db, center, tokens):
    with db.write() as s:
        ticket = queue.issue_ticket(
            s, "baku-1", "pension-new", "az", None, factories.kiosk_actor(s, center)
        ).ticket
        tracking = ticket.tracking_token
    display = connect(app, token=tokens["display"])
    phone = connect(app, ticket=tracking)
    desk = connect(app, token=tokens["staff"], counter=tokens["counter1"])
    for sio in (display, phone, desk):
        sio.get_received(NS)  # drop the snapshots
    with db.write() as s:
        queue.call_next(s, tokens["counter1"], staff(s, "alice"), start=True)

    # The display announces the call, as for a call that is started later.
    assert [(e["number"], e["counter"]) for e in events(display, "ticket.called")] == [
        ("A001", "1")
    ]
    got = phone.get_received(NS)
    assert [e["name"] for e in got] == ["ticket.called", "ticket.updated"]
    assert got[-1]["args"][0]["status"] == "serving"
    (counter,) = events(desk, "counter.updated")  # one event for both transitions
    assert counter["ticket"]["status"] == "serving"
