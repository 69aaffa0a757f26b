"""One server process: everything in memory."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .base import Cluster


class LocalCluster(Cluster):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._agents: dict[int, dict[str, str]] = {}  # device id -> {sid: base URL}
        self._values: dict[str, str] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._groups: dict[str, dict[str, dict]] = {}  # group -> {sid: entry}
        self._member_of: dict[str, str] = {}  # sid -> group
        self._version = 0

    def _send(self, topic: str, body: dict) -> None:
        pass  # no other process

    def add_agent(self, device_id: int, sid: str, base_url: str = "") -> None:
        with self._lock:
            self._agents.setdefault(device_id, {})[sid] = base_url

    def remove_agent(self, sid: str) -> int | None:
        with self._lock:
            for device_id, sids in self._agents.items():
                if sids.pop(sid, None) is not None:
                    if not sids:
                        del self._agents[device_id]
                    return device_id
        return None

    def agent_connected(self, device_id: int | None) -> bool:
        with self._lock:
            return bool(self._agents.get(device_id))

    def agent_base_url(self, device_id: int) -> str:
        with self._lock:
            urls = [url for url in self._agents.get(device_id, {}).values() if url]
        return urls[-1] if urls else ""

    def clear_agents(self) -> None:
        with self._lock:
            self._agents.clear()

    def add_member(self, group: str, sid: str, entry: dict) -> None:
        with self._lock:
            self._groups.setdefault(group, {})[sid] = entry
            self._member_of[sid] = group

    def remove_member(self, sid: str) -> str | None:
        with self._lock:
            group = self._member_of.pop(sid, None)
            if group is not None:
                sids = self._groups.get(group, {})
                sids.pop(sid, None)
                if not sids:
                    self._groups.pop(group, None)
        return group

    def members(self, groups: list[str]) -> tuple[dict[str, list[dict]], int]:
        with self._lock:
            self._version += 1
            found = {group: list(self._groups.get(group, {}).values()) for group in groups}
            return found, self._version

    def swap(self, key: str, value: str | None) -> str | None:
        with self._lock:
            before = self._values.pop(key, None)
            if value is not None:
                self._values[key] = value
        return before

    def lease(self, name: str, seconds: float) -> bool:
        return True  # the only process

    @contextmanager
    def lock(self, name: str, timeout_s: float) -> Iterator[None]:
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            yield
