"""Who is working at which counter: the staff connected to a counter on the live
channel, on any server process (kept by the cluster's members, server/cluster/).

A counter's room hears ``counter.presence`` whenever someone arrives or leaves:
``{counter, staff: [{username, since}], version}``, one entry per staff member however
many tabs they have open, earliest first. ``version`` grows with every announcement,
whichever process makes it: a screen keeps the highest it has seen, so an older list
that arrives late (two processes announcing at once) is dropped. A process that dies
takes its connections with it: the cluster's sweep names their counters
(``MEMBERS_LOST``) and the process that swept them announces them again.

Presence is advice to people (the counter screens warn that someone else works at
the counter; the picker says who): a failure here is logged and never refuses a
connection.
"""

from __future__ import annotations

import logging

from ..cluster import MEMBERS_LOST, Cluster
from ..models import utcnow
from ..serializers import iso
from .emitter import Emitter
from .rooms import counter_room

log = logging.getLogger(__name__)

EVENT = "counter.presence"
_GROUP = "counter:"


def _group(counter_id: int) -> str:
    return f"{_GROUP}{counter_id}"


def _staff(entries: list[dict]) -> list[dict]:
    """One entry per staff member (their earliest connection), earliest first."""
    earliest: dict[int, dict] = {}
    for entry in sorted(entries, key=lambda e: e["since"]):
        earliest.setdefault(entry["staff"], entry)
    return [{"username": e["username"], "since": e["since"]} for e in earliest.values()]


def at_counters(cluster: Cluster, counter_ids: list[int]) -> tuple[dict[int, list[dict]], int]:
    """The staff working at each of these counters now, and the read's version."""
    found, version = cluster.members([_group(counter_id) for counter_id in counter_ids])
    return {c: _staff(found[_group(c)]) for c in counter_ids}, version


class CounterPresence:
    def __init__(self, cluster: Cluster, emitter: Emitter) -> None:
        self.cluster = cluster
        self.emitter = emitter
        cluster.subscribe(MEMBERS_LOST, self._lost)

    def arrive(self, sid: str, counter_id: int, staff_id: int, username: str) -> None:
        """Connection ``sid`` of this process works at the counter now."""
        entry = {"staff": staff_id, "username": username, "since": iso(utcnow())}
        try:
            self.cluster.add_member(_group(counter_id), sid, entry)
            self.announce([counter_id])
        except Exception:
            log.exception("presence: could not record %s at counter %s", username, counter_id)

    def leave(self, sid: str) -> None:
        """Connection ``sid`` of this process is gone (if it was at a counter)."""
        try:
            group = self.cluster.remove_member(sid)
            if group is not None and group.startswith(_GROUP):
                self.announce([int(group.removeprefix(_GROUP))])
        except Exception:
            log.exception("presence: could not record a departure")

    def announce(self, counter_ids: list[int]) -> None:
        """``counter.presence`` to each counter's room, as the cluster has it now."""
        staff, version = at_counters(self.cluster, counter_ids)
        for counter_id in counter_ids:
            body = {"counter": counter_id, "staff": staff[counter_id], "version": version}
            self.emitter.emit(EVENT, body, counter_room(counter_id))

    def _lost(self, body: dict, local: bool) -> None:
        # The sweeping process announces (its emit reaches every process's clients).
        if not local:
            return
        groups = [g for g in body.get("groups", []) if isinstance(g, str)]
        counters = [int(g.removeprefix(_GROUP)) for g in groups if g.startswith(_GROUP)]
        if counters:
            try:
                self.announce(counters)
            except Exception:
                log.exception("presence: could not announce counters %s", counters)
