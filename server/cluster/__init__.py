"""What the server processes of one installation share besides the database.

One ``novbe serve`` process needs nothing shared: :class:`LocalCluster` keeps it all in
memory. Several processes (``NOVBE_MESSAGE_QUEUE=redis://...``, docs/deploy.md) share
it through that Redis: :class:`RedisCluster`, its keys under ``NOVBE_MESSAGE_CHANNEL``.

Socket.IO's message queue carries the events to clients, wherever they are connected.
This package carries what the processes tell each other and must agree on:

* **the bus**: ``publish(topic, body)`` reaches every process's handlers for the topic,
  this process's first and synchronously (so one process behaves as before), the others
  within milliseconds. Losing a message is harmless by construction: what it carries
  (caches to drop, positions to recompute, figures to pass on) is also bounded by a
  cache age or redone on the next change.
* **print agents**: which kiosks have an agent connected to any process. A process
  killed without a goodbye takes its agents with it once its heartbeat is older than
  ``LIVENESS_S``; :meth:`Cluster.lost_agents` names the kiosks that lost one.
* **members**: which connections, on any process, are in a group (the staff working
  at a counter: server/realtime/presence.py). Those of a process that died are
  forgotten by the heartbeat's sweep, which names their groups on the bus
  (``MEMBERS_LOST``); :meth:`Cluster.members` reads groups with a version that orders
  reads across processes.
* ``swap(key, value)``: set a value and get the previous one in one step, so of several
  processes seeing the same change exactly one sees the edge (managers' alerts).
* ``lease(name, seconds)``: true in one process of the installation per period (jobs
  that must run once, such as the end-of-day expiry).
* ``lock(name)``: one holder at a time across processes (one job at a time on a network
  printer).
"""

from __future__ import annotations

from flask import Flask

from .base import MEMBERS_LOST, Cluster, Handler
from .local import LocalCluster

EXTENSION = "novbe_cluster"


def init_cluster(app: Flask) -> Cluster:
    """The cluster for ``app``'s message queue setting, kept in ``app.extensions``. It
    starts no background work; :meth:`Cluster.start` does (``novbe serve``, the tests)."""
    url = app.config["SOCKETIO_MESSAGE_QUEUE"]
    if not url:
        cluster: Cluster = LocalCluster()
    elif url.startswith(("redis://", "rediss://", "unix://")):
        from .redis_cluster import RedisCluster

        cluster = RedisCluster(url, prefix=app.config["SOCKETIO_CHANNEL"])
    else:
        raise ValueError(
            f"NOVBE_MESSAGE_QUEUE={url.split('://')[0]}://...: several server processes "
            "share their state through Redis only; give a redis:// URL"
        )
    app.extensions[EXTENSION] = cluster
    return cluster


def cluster_of(app: Flask) -> Cluster:
    return app.extensions[EXTENSION]


__all__ = ["MEMBERS_LOST", "Cluster", "Handler", "LocalCluster", "cluster_of", "init_cluster"]
