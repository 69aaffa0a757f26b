"""Several server processes: shared through Redis (the live channel's message queue).

Keys, all under ``<prefix>:`` (NOVBE_MESSAGE_CHANNEL, "novbe" by default):

* ``bus``: the pub/sub channel of the bus, JSON ``{"topic", "body", "from"}``;
* ``process:<id>``: a process's heartbeat, expiring after ``LIVENESS_S``;
* ``agents:<device>``: hash, an agent's socket id -> ``{"process", "base_url"}``;
  ``agent-devices``: the set of kiosks that ever had one (swept for dead processes);
* ``members:<group>``: hash, a connection's socket id -> ``{"process", ...entry}``;
  ``members-of:<process>``: the set of ``[group, sid]`` a process holds, and
  ``member-processes`` the processes that hold any (swept for dead processes);
* ``state:<key>``: ``swap``'s values (a day's life: alert state is about today);
* ``lease:<name>``, ``lock:<name>``: held by one process at a time.

Redis keeps nothing here that must survive it: after a Redis restart the agents and
the processes announce themselves again within a heartbeat, and alerts may be told once
more.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis

from .base import MEMBERS_LOST, Cluster, Spawn

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
# A process silent this long is dead: its agents are forgotten (kill -9, a lost machine).
LIVENESS_S = 15.0
STATE_TTL_S = 24 * 3600

# Renew a lease only if this process holds it (one round trip, atomic).
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


class RedisCluster(Cluster):
    def __init__(self, url: str, prefix: str = "novbe") -> None:
        super().__init__()
        self.url = url
        self.prefix = prefix
        self.process_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        # Short timeouts for commands: a request must not hang on a lost Redis.
        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._renew = self.redis.register_script(_RENEW)
        self._lock = threading.Lock()
        self._own: dict[str, int] = {}  # this process's agents: sid -> device id
        self._own_members: dict[str, tuple[str, str]] = {}  # sid -> (group, entry JSON)

    def _key(self, *parts: object) -> str:
        return ":".join([self.prefix, *map(str, parts)])

    # ---- the bus --------------------------------------------------------------------------

    def _send(self, topic: str, body: dict) -> None:
        message = json.dumps({"topic": topic, "body": body, "from": self.process_id})
        try:
            self.redis.publish(self._key("bus"), message)
        except redis.RedisError as exc:
            log.warning("cluster: could not publish %r: %s", topic, exc)

    def _receive(self, raw: bytes) -> None:
        try:
            message = json.loads(raw)
            topic, body, sender = message["topic"], message["body"], message["from"]
        except (ValueError, KeyError, TypeError):
            log.warning("cluster: dropped a malformed bus message")
            return
        if sender != self.process_id:  # this process's own ran when it published
            self._deliver(topic, body, local=False)

    def _listen(self) -> None:
        delay = 1.0
        while True:
            # Its own connection, with no read timeout: a quiet bus is not an error.
            listener = redis.Redis.from_url(
                self.url, socket_connect_timeout=5, health_check_interval=30
            )
            try:
                pubsub = listener.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self._key("bus"))
                delay = 1.0
                for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._receive(message["data"])
            except Exception as exc:
                # Messages sent meanwhile are lost: caches age out (ESTIMATE_CACHE_S)
                # and figures are sent again on the next change.
                log.warning("cluster: bus connection lost (%s); again in %.0f s", exc, delay)
            finally:
                listener.close()
            time.sleep(delay)
            delay = min(delay * 2, 30.0)

    # ---- liveness and print agents ----------------------------------------------------------

    def _beat(self) -> None:
        self.redis.set(self._key("process", self.process_id), "1", px=int(LIVENESS_S * 1000))

    def _heartbeat(self, on_agents_lost: Callable[[set[int]], None]) -> None:
        while True:
            try:
                self._beat()
                if lost := self.lost_agents():
                    on_agents_lost(lost)
                self._renew_members()
                if groups := self.lost_members():
                    self.publish(MEMBERS_LOST, {"groups": sorted(groups)})
            except Exception as exc:
                log.warning("cluster: heartbeat failed: %s", exc)
            time.sleep(HEARTBEAT_S)

    def add_agent(self, device_id: int, sid: str, base_url: str = "") -> None:
        entry = json.dumps({"process": self.process_id, "base_url": base_url})
        with self._lock:
            self._own[sid] = device_id
        self._beat()  # alive before anyone may judge this agent
        pipe = self.redis.pipeline()
        pipe.hset(self._key("agents", device_id), sid, entry)
        pipe.sadd(self._key("agent-devices"), device_id)
        pipe.execute()

    def remove_agent(self, sid: str) -> int | None:
        with self._lock:
            device_id = self._own.pop(sid, None)
        if device_id is not None:
            try:
                self.redis.hdel(self._key("agents", device_id), sid)
            except redis.RedisError as exc:  # the sweep forgets it when this process dies
                log.warning("cluster: could not forget agent %s: %s", sid, exc)
        return device_id

    def _entries(self, device_id: int) -> dict[str, dict]:
        raw = self.redis.hgetall(self._key("agents", device_id))
        return {sid.decode(): json.loads(value) for sid, value in raw.items()}

    def agent_connected(self, device_id: int | None) -> bool:
        if device_id is None:
            return False
        try:
            # An agent of a dead process counts until the sweep (LIVENESS_S): jobs sent
            # meanwhile stay pending and reach the agent when it connects again.
            return bool(self.redis.hlen(self._key("agents", device_id)))
        except redis.RedisError as exc:
            log.warning("cluster: agent presence unknown (%s): e-tickets meanwhile", exc)
            return False

    def agent_base_url(self, device_id: int) -> str:
        try:
            urls = [e.get("base_url") for e in self._entries(device_id).values()]
        except redis.RedisError:
            return ""
        urls = [url for url in urls if url]
        return urls[-1] if urls else ""

    def lost_agents(self) -> set[int]:
        devices = [int(d) for d in self.redis.smembers(self._key("agent-devices"))]
        if not devices:
            return set()
        entries = {device: self._entries(device) for device in devices}
        processes = sorted({e["process"] for es in entries.values() for e in es.values()})
        pipe = self.redis.pipeline()
        for process in processes:
            pipe.exists(self._key("process", process))
        alive = {p for p, exists in zip(processes, pipe.execute(), strict=True) if exists}
        lost = set()
        for device, agents in entries.items():
            dead = [sid for sid, e in agents.items() if e["process"] not in alive]
            # Of several processes sweeping at once, the one whose HDEL removed them says so.
            key = self._key("agents", device)
            if dead and self.redis.hdel(key, *dead) and not self.redis.hlen(key):
                lost.add(device)
        return lost

    def clear_agents(self) -> None:
        with self._lock:
            own, self._own = self._own, {}
        for sid, device_id in own.items():
            self.redis.hdel(self._key("agents", device_id), sid)

    # ---- members ----------------------------------------------------------------------------

    def _member_item(self, group: str, sid: str) -> str:
        return json.dumps([group, sid])

    def add_member(self, group: str, sid: str, entry: dict) -> None:
        value = json.dumps({**entry, "process": self.process_id})
        with self._lock:
            self._own_members[sid] = (group, value)
        self._beat()  # alive before anyone may judge this member
        pipe = self.redis.pipeline()
        pipe.hset(self._key("members", group), sid, value)
        pipe.sadd(self._key("members-of", self.process_id), self._member_item(group, sid))
        pipe.sadd(self._key("member-processes"), self.process_id)
        pipe.execute()

    def remove_member(self, sid: str) -> str | None:
        with self._lock:
            group, _ = self._own_members.pop(sid, (None, None))
        if group is None:
            return None
        try:
            pipe = self.redis.pipeline()
            pipe.hdel(self._key("members", group), sid)
            pipe.srem(self._key("members-of", self.process_id), self._member_item(group, sid))
            pipe.execute()
        except redis.RedisError as exc:  # the sweep forgets it when this process dies
            log.warning("cluster: could not forget member %s: %s", sid, exc)
        return group

    def members(self, groups: list[str]) -> tuple[dict[str, list[dict]], int]:
        # One transaction: the clock read with the entries orders this read among all
        # processes' reads (Redis runs one command at a time).
        pipe = self.redis.pipeline(transaction=True)
        for group in groups:
            pipe.hgetall(self._key("members", group))
        pipe.time()
        *found, (seconds, micros) = pipe.execute()
        entries = {
            group: [json.loads(value) for value in raw.values()]
            for group, raw in zip(groups, found, strict=True)
        }
        return entries, seconds * 1_000_000 + micros

    def _renew_members(self) -> None:
        """This process's members again, should a sweep have taken them while its
        heartbeat could not reach Redis (or Redis restarted empty)."""
        with self._lock:
            own = dict(self._own_members)
        if not own:
            return
        pipe = self.redis.pipeline()
        for sid, (group, value) in own.items():
            pipe.hset(self._key("members", group), sid, value)
            pipe.sadd(self._key("members-of", self.process_id), self._member_item(group, sid))
        pipe.sadd(self._key("member-processes"), self.process_id)
        pipe.execute()

    def lost_members(self) -> set[str]:
        processes = [p.decode() for p in self.redis.smembers(self._key("member-processes"))]
        processes = [p for p in processes if p != self.process_id]
        if not processes:
            return set()
        pipe = self.redis.pipeline()
        for process in processes:
            pipe.exists(self._key("process", process))
        dead = [p for p, alive in zip(processes, pipe.execute(), strict=True) if not alive]
        lost: set[str] = set()
        for process in dead:
            # Of several processes sweeping at once, the one whose SREM removed it sweeps.
            if not self.redis.srem(self._key("member-processes"), process):
                continue
            held = self._key("members-of", process)
            items = [json.loads(item) for item in self.redis.smembers(held)]
            pipe = self.redis.pipeline()
            for group, sid in items:
                pipe.hdel(self._key("members", group), sid)
            removed = pipe.execute()
            self.redis.delete(held)
            lost |= {group for (group, _), gone in zip(items, removed, strict=True) if gone}
        return lost

    # ---- agreement ------------------------------------------------------------------------

    def swap(self, key: str, value: str | None) -> str | None:
        name = self._key("state", key)
        if value is None:
            before = self.redis.getdel(name)
        else:
            before = self.redis.set(name, value, ex=STATE_TTL_S, get=True)
        return before.decode() if before is not None else None

    def lease(self, name: str, seconds: float) -> bool:
        key, ms = self._key("lease", name), max(int(seconds * 1000), 1)
        if self.redis.set(key, self.process_id, nx=True, px=ms):
            return True
        return bool(self._renew(keys=[key], args=[self.process_id, ms]))

    @contextmanager
    def lock(self, name: str, timeout_s: float) -> Iterator[None]:
        with self.redis.lock(
            self._key("lock", name), timeout=timeout_s, blocking_timeout=timeout_s
        ):
            yield

    # ---- lifetime ---------------------------------------------------------------------------

    def start(self, spawn: Spawn, on_agents_lost: Callable[[set[int]], None]) -> None:
        spawn(self._listen)
        spawn(self._heartbeat, on_agents_lost)
