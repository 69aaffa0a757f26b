"""What server processes share (server/cluster/): in memory for one process, in Redis
for several. Two RedisCluster objects stand for two processes, on this machine's Redis
under a prefix of their own."""

from __future__ import annotations

import secrets
import threading
import time

import pytest
import redis

from server.cluster import LocalCluster
from server.cluster.redis_cluster import RedisCluster

REDIS_URL = "redis://127.0.0.1:6379/5"


def spawn(target, *args):
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def prefix():
    prefix = f"novbe-test-{secrets.token_hex(4)}"
    yield prefix
    store = redis.Redis.from_url(REDIS_URL)
    keys = list(store.scan_iter(f"{prefix}:*"))
    if keys:
        store.delete(*keys)


@pytest.fixture
def pair(prefix):
    """Two processes' views of one installation, their buses listening."""
    first, second = RedisCluster(REDIS_URL, prefix), RedisCluster(REDIS_URL, prefix)
    for cluster in (first, second):
        spawn(cluster._listen)
    time.sleep(0.3)  # both subscribed
    return first, second


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_a_message_reaches_every_process_once_and_its_own_at_once(pair):
    first, second = pair
    heard: dict[str, list] = {"first": [], "second": []}
    first.subscribe("changed", lambda body, local: heard["first"].append((body, local)))
    second.subscribe("changed", lambda body, local: heard["second"].append((body, local)))

    first.publish("changed", {"centers": [7]})
    assert heard["first"] == [({"centers": [7]}, True)]  # synchronously, before returning
    assert wait_for(lambda: heard["second"])
    time.sleep(0.2)
    assert heard["second"] == [({"centers": [7]}, False)]
    assert heard["first"] == [({"centers": [7]}, True)]  # not again from Redis


def test_a_print_agent_on_one_process_is_known_to_the_other(pair):
    first, second = pair
    first.add_agent(41, "sid-a", "http://10.0.0.5/")
    assert second.agent_connected(41) and second.agent_base_url(41) == "http://10.0.0.5/"
    assert not second.agent_connected(42)
    assert second.remove_agent("sid-a") is None  # not its socket
    assert first.remove_agent("sid-a") == 41
    assert not second.agent_connected(41)


def test_the_agents_of_a_dead_process_are_forgotten_once(pair):
    first, second = pair
    first.add_agent(51, "sid-a")
    second.add_agent(52, "sid-b")
    assert second.lost_agents() == set()  # both alive
    # kill -9: the first process's heartbeat stops and its key expires.
    redis.Redis.from_url(REDIS_URL).delete(first._key("process", first.process_id))

    assert second.lost_agents() == {51}
    assert second.lost_agents() == set()  # told once
    assert not second.agent_connected(51) and second.agent_connected(52)


def test_an_agent_with_another_live_socket_is_not_lost(pair):
    first, second = pair
    first.add_agent(61, "sid-a")
    second.add_agent(61, "sid-b")  # reconnected through another process already
    redis.Redis.from_url(REDIS_URL).delete(first._key("process", first.process_id))
    assert second.lost_agents() == set()
    assert second.agent_connected(61)


def test_of_processes_racing_on_one_edge_exactly_one_sees_it(pair):
    first, second = pair
    seen = []
    barrier = threading.Barrier(8)

    def race(cluster):
        barrier.wait()
        if cluster.swap("alert:wait:1", '["A"]') is None:
            seen.append(cluster)

    threads = [spawn(race, cluster) for cluster in (first, second) * 4]
    for thread in threads:
        thread.join()
    assert len(seen) == 1
    assert first.swap("alert:wait:1", None) == '["A"]'
    assert second.swap("alert:wait:1", None) is None


def test_a_lease_is_held_by_one_process_until_it_lapses(pair):
    first, second = pair
    assert first.lease("maintenance", 0.5)
    assert first.lease("maintenance", 0.5)  # renewed: still its own
    assert not second.lease("maintenance", 0.5)
    time.sleep(0.7)  # the holder died: nobody renewed it
    assert second.lease("maintenance", 0.5)
    assert not first.lease("maintenance", 0.5)


def test_a_lock_is_held_by_one_process_at_a_time(pair):
    first, second = pair
    inside, overlaps = [], []

    def print_job(cluster):
        with cluster.lock("printer:7", 5):
            if inside:
                overlaps.append(True)
            inside.append(True)
            time.sleep(0.05)
            inside.pop()

    threads = [spawn(print_job, cluster) for cluster in (first, second) * 3]
    for thread in threads:
        thread.join()
    assert overlaps == []


def test_one_process_keeps_it_all_in_memory():
    cluster = LocalCluster()
    heard = []
    cluster.subscribe("public", lambda body, local: heard.append((body, local)))
    cluster.publish("public", {"center": 1})
    assert heard == [({"center": 1}, True)]
    cluster.add_agent(3, "sid", "http://x/")
    assert cluster.agent_connected(3) and cluster.agent_base_url(3) == "http://x/"
    assert cluster.remove_agent("sid") == 3 and not cluster.agent_connected(3)
    assert cluster.swap("k", "v") is None and cluster.swap("k", None) == "v"
    assert cluster.lease("maintenance", 1)
    with cluster.lock("printer:1", 1):
        pass


def test_a_message_queue_other_than_redis_is_refused_with_a_reason():
    from server import create_app
    from server.config import TestConfig

    config = type("C", (TestConfig,), {"SOCKETIO_MESSAGE_QUEUE": "kafka://broker:9092"})
    with pytest.raises(ValueError, match="redis://"):
        create_app(config)


def test_one_process_makes_the_figures_passes_and_another_takes_over(pair, db, center, monkeypatch):
    """Every process hears of every change; only the holder of the figures lease computes
    and sends the centers' figures (once for the installation, not once per process that
    made a change). If it stops, another takes over, with the centers that were due
    meanwhile."""
    from server import queue
    from server.extensions import socketio
    from server.queue.changes import Change, ChangeKind
    from server.realtime import figures
    from server.realtime.emitter import RecordingEmitter
    from server.realtime.public_stats import PublicStats
    from server.realtime.publisher import Publisher

    from . import factories

    monkeypatch.setattr(figures, "LEASE_S", 0.5)
    emitters = [RecordingEmitter(), RecordingEmitter()]
    first, second = (
        Publisher(emitter, db, cluster, PublicStats(emitter, socketio, 0), interval=0)
        for emitter, cluster in zip(emitters, pair, strict=True)
    )
    with db.write() as s:
        kiosk = factories.kiosk_actor(s, center)
        ticket = queue.issue_ticket(s, "baku-1", "pension-new", "az", None, kiosk).ticket
        ticket_id, center_id = ticket.id, ticket.center_id

    first.publish([Change(ChangeKind.TICKET, "issue", ticket_id)])
    assert [sent.data["center"] for sent in emitters[0].named("queue.stats")] == ["baku-1"]
    assert wait_for(lambda: center_id in second.figures._held)  # heard it, left it
    assert emitters[1].named("queue.stats") == []

    time.sleep(0.7)  # the first process stopped: its lease lapses
    second.publish([Change(ChangeKind.TICKET, "issue", ticket_id)])
    assert [sent.data["center"] for sent in emitters[1].named("queue.stats")] == ["baku-1"]
    assert second.figures._held == set()
