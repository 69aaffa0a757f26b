"""The interface both backends implement (see the package docstring)."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager

log = logging.getLogger(__name__)

# The bus topic on which a process that found members of a dead process names their
# groups: ``{"groups": [...]}`` (published once, by the process that forgot them).
MEMBERS_LOST = "members.lost"
# handler(body, local): ``local`` is true for a message this process published.
Handler = Callable[[dict, bool], None]
# How background work is started: ``socketio.start_background_task`` (a green thread
# under gevent, a thread otherwise).
Spawn = Callable[..., object]


class Cluster(ABC):
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    # ---- the bus --------------------------------------------------------------------

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers.setdefault(topic, []).append(handler)

    def publish(self, topic: str, body: dict) -> None:
        """Hand ``body`` to every process's handlers of ``topic``; this process's run
        now, in the caller's thread."""
        self._deliver(topic, body, local=True)
        self._send(topic, body)

    def _deliver(self, topic: str, body: dict, local: bool) -> None:
        for handler in self._handlers.get(topic, ()):
            try:
                handler(body, local)
            except Exception:  # one handler's failure must not starve the others
                log.exception("cluster message %r: handler %r failed", topic, handler)

    @abstractmethod
    def _send(self, topic: str, body: dict) -> None:
        """Pass the message to the other processes (nothing for one process)."""

    # ---- print agents -----------------------------------------------------------------

    @abstractmethod
    def add_agent(self, device_id: int, sid: str, base_url: str = "") -> None: ...

    @abstractmethod
    def remove_agent(self, sid: str) -> int | None:
        """Forget the agent on ``sid`` (of this process); its device id if it was one."""

    @abstractmethod
    def agent_connected(self, device_id: int | None) -> bool: ...

    @abstractmethod
    def agent_base_url(self, device_id: int) -> str:
        """The server address the device's agent connected to ("" if none)."""

    def lost_agents(self) -> set[int]:
        """Kiosks whose agents were held by processes that died; forgets those agents."""
        return set()

    @abstractmethod
    def clear_agents(self) -> None:
        """Forget this process's agents (tests)."""

    # ---- members: who is connected where -------------------------------------------------

    @abstractmethod
    def add_member(self, group: str, sid: str, entry: dict) -> None:
        """Connection ``sid`` of this process is in ``group`` (such as ``counter:5``),
        described by ``entry`` (JSON)."""

    @abstractmethod
    def remove_member(self, sid: str) -> str | None:
        """Forget connection ``sid`` of this process; the group it was in, if any."""

    @abstractmethod
    def members(self, groups: list[str]) -> tuple[dict[str, list[dict]], int]:
        """Each group's entries, from every process, and a version: of two calls, the
        later has the larger version, whichever process made them (so that who hears
        both can drop the older)."""

    def lost_members(self) -> set[str]:
        """Groups that lost members held by processes that died; forgets those members.
        The heartbeat tells each process's handlers of ``MEMBERS_LOST``."""
        return set()

    # ---- agreement ----------------------------------------------------------------------

    @abstractmethod
    def swap(self, key: str, value: str | None) -> str | None:
        """Store ``value`` under ``key`` (None deletes it); the value it replaced."""

    @abstractmethod
    def lease(self, name: str, seconds: float) -> bool:
        """True if this process holds ``name`` for the next ``seconds`` (taken now, or
        already its own and renewed); false while another process holds it."""

    @abstractmethod
    def lock(self, name: str, timeout_s: float) -> AbstractContextManager[None]:
        """Held by one caller at a time across processes; released after ``timeout_s``
        at the latest, should its holder die."""

    # ---- lifetime -------------------------------------------------------------------------

    def start(self, spawn: Spawn, on_agents_lost: Callable[[set[int]], None]) -> None:  # noqa: B027
        """Begin the background work (receiving messages, heartbeats, watching for dead
        processes). ``on_agents_lost`` hears of kiosks whose agent died with a process.
        One process has none (so not abstract)."""
