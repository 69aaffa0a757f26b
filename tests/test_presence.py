"""Who works at which counter: the cluster's members (one process in memory, several
through Redis), ``counter.presence`` on the live channel, and the counters a staff
member may work at (server/staff_counters.py) as the picker's API and the channel
hold them. The browsers and real processes are in test_presence_browser.py."""

from __future__ import annotations

import secrets

import pytest
import redis
from alembic import command
from sqlalchemy import create_engine, delete, select
from sqlalchemy.pool import NullPool

from server.cluster import MEMBERS_LOST, LocalCluster
from server.cluster.redis_cluster import RedisCluster
from server.db import Database
from server.extensions import socketio
from server.migrate import alembic_config, upgrade
from server.models import CounterStaff, StaffUser
from server.realtime.emitter import RecordingEmitter
from server.realtime.presence import CounterPresence

from . import factories
from .api_helpers import PREFIX, assert_error

REDIS_URL = "redis://127.0.0.1:6379/5"
NS = "/live"


# ---- the cluster's members ------------------------------------------------------------


@pytest.fixture
def prefix():
    prefix = f"novbe-test-{secrets.token_hex(4)}"
    yield prefix
    store = redis.Redis.from_url(REDIS_URL)
    keys = list(store.scan_iter(f"{prefix}:*"))
    if keys:
        store.delete(*keys)


def test_one_process_keeps_members_by_group():
    cluster = LocalCluster()
    cluster.add_member("counter:1", "a", {"username": "aylin"})
    cluster.add_member("counter:1", "b", {"username": "bora"})
    cluster.add_member("counter:2", "c", {"username": "cavid"})
    found, first = cluster.members(["counter:1", "counter:2", "counter:3"])
    assert sorted(e["username"] for e in found["counter:1"]) == ["aylin", "bora"]
    assert found["counter:3"] == []
    assert cluster.remove_member("a") == "counter:1"
    assert cluster.remove_member("a") is None
    found, second = cluster.members(["counter:1"])
    assert [e["username"] for e in found["counter:1"]] == ["bora"]
    assert second > first


def test_processes_see_each_others_members_and_reads_are_ordered(prefix):
    first, second = RedisCluster(REDIS_URL, prefix), RedisCluster(REDIS_URL, prefix)
    first.add_member("counter:5", "sid-a", {"username": "aylin"})
    second.add_member("counter:5", "sid-b", {"username": "bora"})
    found, v1 = second.members(["counter:5", "counter:6"])
    assert sorted(e["username"] for e in found["counter:5"]) == ["aylin", "bora"]
    assert found["counter:6"] == []
    assert second.remove_member("sid-a") is None  # not this process's connection
    assert first.remove_member("sid-a") == "counter:5"
    found, v2 = first.members(["counter:5"])
    assert [e["username"] for e in found["counter:5"]] == ["bora"]
    assert v2 > v1  # the later read, on another process, has the larger version


def test_a_dead_process_members_are_swept_once_and_their_groups_named(prefix):
    first, second = RedisCluster(REDIS_URL, prefix), RedisCluster(REDIS_URL, prefix)
    first.add_member("counter:5", "sid-a", {"username": "aylin"})
    second.add_member("counter:5", "sid-b", {"username": "bora"})
    second.add_member("counter:7", "sid-c", {"username": "bora"})
    assert first.lost_members() == set()  # everyone alive
    first.redis.delete(first._key("process", second.process_id))  # second died silently
    assert first.lost_members() == {"counter:5", "counter:7"}
    assert first.lost_members() == set()  # swept already: told once
    found, _ = first.members(["counter:5", "counter:7"])
    assert [e["username"] for e in found["counter:5"]] == ["aylin"]
    assert found["counter:7"] == []


def test_a_process_puts_back_its_members_after_a_sweep_it_survived(prefix):
    """Its heartbeat missed Redis for a while: another process swept it; it is alive and
    its connections are, so they count again with its next heartbeat."""
    first, second = RedisCluster(REDIS_URL, prefix), RedisCluster(REDIS_URL, prefix)
    second.add_member("counter:5", "sid-b", {"username": "bora"})
    first.redis.delete(first._key("process", second.process_id))
    assert first.lost_members() == {"counter:5"}
    second._beat()
    second._renew_members()
    found, _ = first.members(["counter:5"])
    assert [e["username"] for e in found["counter:5"]] == ["bora"]


# ---- counter.presence -------------------------------------------------------------------


def test_presence_is_announced_to_the_counter_once_per_person_as_they_come_and_go():
    cluster, emitter = LocalCluster(), RecordingEmitter()
    presence = CounterPresence(cluster, emitter)
    presence.arrive("tab-1", 5, 11, "aylin")
    presence.arrive("tab-2", 5, 11, "aylin")  # a second tab: still one person
    presence.arrive("tab-3", 5, 12, "bora")
    sent = emitter.named("counter.presence")
    assert [s.room for s in sent] == ["counter:5"] * 3
    assert [p["username"] for p in sent[-1].data["staff"]] == ["aylin", "bora"]
    assert [s.data["version"] for s in sent] == sorted({s.data["version"] for s in sent})

    presence.leave("tab-3")
    presence.leave("a-phone")  # never at a counter: nothing to say
    assert [p["username"] for p in emitter.named("counter.presence")[-1].data["staff"]] == ["aylin"]
    assert len(emitter.named("counter.presence")) == 4


def test_the_process_that_swept_a_dead_process_announces_its_counters():
    cluster, emitter = LocalCluster(), RecordingEmitter()
    CounterPresence(cluster, emitter)
    cluster._deliver(MEMBERS_LOST, {"groups": ["counter:9", "other:1"]}, local=False)
    assert emitter.named("counter.presence") == []  # another process swept: it tells
    cluster.publish(MEMBERS_LOST, {"groups": ["counter:9", "other:1"]})
    (sent,) = emitter.named("counter.presence")
    assert sent.data["counter"] == 9 and sent.data["staff"] == [] and sent.room == "counter:9"


# ---- assigned counters: the picker's API and the live channel ------------------------------


@pytest.fixture
def people(db, center):
    with db.write() as s:
        factories.make_staff(s, "aylin")  # every counter, as new accounts get
        factories.make_staff(s, "bora")
        factories.make_staff(s, "nobody")
        factories.make_staff(s, "boss", role="manager")
        user = s.scalars(select(StaffUser).filter_by(username="nobody")).one()
        user.counter_links = []
        return {
            name: factories.staff_token(s, name) for name in ("aylin", "bora", "nobody", "boss")
        } | {f"counter{label}": factories.counter(s, center, label).id for label in "123"}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def connect(app, **auth):
    return socketio.test_client(app, namespace=NS, auth=auth)


def presences(sio) -> list[dict]:
    return [e["args"][0] for e in sio.get_received(NS) if e["name"] == "counter.presence"]


def test_the_picker_lists_only_the_counters_a_staff_member_may_work_at(client, people):
    path = f"{PREFIX}/centers/baku-1/counters"
    mine = client.get(path, headers=bearer(people["aylin"])).get_json()
    assert [c["label"] for c in mine["counters"]] == ["1", "2", "3"]
    assert all(c["staff"] == [] for c in mine["counters"])
    assert {s["service"] for s in mine["services"]} >= {"pension-new"}

    none = client.get(path, headers=bearer(people["nobody"]))
    assert none.status_code == 200 and none.get_json()["counters"] == []
    boss = client.get(path, headers=bearer(people["boss"])).get_json()
    assert len(boss["counters"]) == 3  # a manager works at any counter

    # The counter actions hold to the same.
    counter = people["counter1"]
    refused = client.post(
        f"{PREFIX}/counters/{counter}/call-next", headers=bearer(people["nobody"])
    )
    assert_error(refused, 403, "counter_not_assigned")
    allowed = client.post(f"{PREFIX}/counters/{counter}/call-next", headers=bearer(people["aylin"]))
    assert allowed.status_code == 204


def test_a_manager_assigns_counters_and_the_picker_follows(client, people):
    patch = client.patch(
        f"{PREFIX}/centers/baku-1/staff/nobody",
        json={"counters": ["3", "1"]},
        headers=bearer(people["boss"]),
    )
    assert patch.status_code == 200, patch.get_json()
    assert patch.get_json()["counters"] == ["1", "3"]  # the center's order
    mine = client.get(f"{PREFIX}/centers/baku-1/counters", headers=bearer(people["nobody"]))
    assert [c["label"] for c in mine.get_json()["counters"]] == ["1", "3"]
    unknown = client.patch(
        f"{PREFIX}/centers/baku-1/staff/nobody",
        json={"counters": ["9"]},
        headers=bearer(people["boss"]),
    )
    assert_error(unknown, 422, "invalid_input", field="counters")


def test_two_staff_at_one_counter_hear_of_each_other_and_the_picker_says_who(app, client, people):
    counter = people["counter2"]
    aylin = connect(app, token=people["aylin"], counter=counter)
    assert aylin.is_connected(NS)
    assert [p["username"] for p in presences(aylin)[-1]["staff"]] == ["aylin"]

    bora = connect(app, token=people["bora"], counter=counter)
    for sio in (aylin, bora):
        latest = presences(sio)[-1]
        assert latest["counter"] == counter
        assert [p["username"] for p in latest["staff"]] == ["aylin", "bora"]
    picker = client.get(f"{PREFIX}/centers/baku-1/counters", headers=bearer(people["boss"]))
    by_id = {c["id"]: c for c in picker.get_json()["counters"]}
    assert [p["username"] for p in by_id[counter]["staff"]] == ["aylin", "bora"]
    assert by_id[people["counter1"]]["staff"] == []

    bora.disconnect(NS)
    assert [p["username"] for p in presences(aylin)[-1]["staff"]] == ["aylin"]
    aylin.disconnect(NS)
    picker = client.get(f"{PREFIX}/centers/baku-1/counters", headers=bearer(people["boss"]))
    assert all(c["staff"] == [] for c in picker.get_json()["counters"])


def test_the_live_channel_refuses_a_counter_not_assigned(app, people):
    sio = connect(app, token=people["nobody"], counter=people["counter1"])
    assert not sio.is_connected(NS)
    assert connect(app, token=people["boss"], counter=people["counter1"]).is_connected(NS)


def test_the_upgrade_leaves_every_existing_account_at_every_counter_of_its_center(tmp_path):
    """Before assignments existed every staff member worked anywhere in their center:
    migration 0009 keeps it so, and locks nobody out."""
    url = f"sqlite:///{tmp_path / 'before.db'}"
    engine = create_engine(url, poolclass=NullPool)
    upgrade(engine)
    database = Database(url)
    with database.write() as s:
        factories.make_center(s, "baku-1")
        factories.make_center(s, "ganja-1")
        factories.make_staff(s, "aylin", center_code="baku-1")
        factories.make_staff(s, "root", role="admin", center_code=None)
        s.execute(delete(CounterStaff))
    config = alembic_config(url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0008")
    upgrade(engine)
    with database.read() as s:
        aylin = s.scalars(select(StaffUser).filter_by(username="aylin")).one()
        assert [link.counter.label for link in aylin.counter_links] == ["1", "2", "3"]
        assert {link.counter.center.code for link in aylin.counter_links} == {"baku-1"}
        root = s.scalars(select(StaffUser).filter_by(username="root")).one()
        assert root.counter_links == []  # a network admin works at any counter anyway
    database.dispose()
    engine.dispose()
