"""Prometheus metrics (``GET /metrics``) and the timer of every request.

``/metrics`` is answered only to client addresses inside ``NOVBE_METRICS_ALLOW``
(CIDRs, comma-separated; default loopback): anyone else gets the 404 of an unknown
page. The client address is ``request.remote_addr``, which ``NOVBE_TRUSTED_PROXIES``
already corrects behind a trusted proxy (server/connections/). Metrics:

* the queues, read from the database at scrape time, so every process reports the same
  figures (a few grouped queries for the whole installation, whatever its size):
  ``novbe_waiting_tickets``, ``novbe_longest_wait_seconds``,
  ``novbe_tickets_issued_today``, ``novbe_tickets_called_today`` (labels ``center``,
  ``service``), ``novbe_print_pending`` (label ``center``), ``novbe_database_up``;
* this process: ``novbe_http_request_duration_seconds`` (histogram; labels ``method``,
  ``endpoint`` (the route's rule, never the raw path), ``status`` ("2xx", ...)),
  ``novbe_live_connections`` (label ``kind``: device, staff, visitor, public, agent),
  and prometheus_client's ``process_*``, ``python_gc_*`` and ``python_info``.

The queue figures are the same from every process and cost the most (at 66 centers x
130 services, ~34,000 series and a few hundred ms of the worker per scrape):
``GET /metrics?queues=0`` leaves them out, so that they can be scraped from one
process, or less often, while every process is scraped for its own figures.

Each server process has its own figures for HTTP and sockets: Prometheus scrapes every
process on its own port (``novbe serve --port P``), not through the reverse proxy, so
there is no ``process`` label; the ``instance`` label Prometheus adds tells them apart.
With ``novbe serve --workers N`` (several workers on one port) a scrape reaches one
worker at random: use separate processes where per-process figures matter.

Every app has its own registry (``create_app`` may run many times in one process).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Iterator
from datetime import date, datetime

from flask import Response, abort, current_app, g, request
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest, gzip_accepted
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from sqlalchemy import and_, func, or_, select, text

from ..db import Database
from ..models import WAITING, Center, Service, Ticket, utcnow
from ..queue.estimates import LANES
from ..queue.numbering import business_day
from ..realtime.rooms import Connections
from ..reports.figures import aware_utc  # SQLite's aggregates: naive, or text
from . import EXTENSION, bp

log = logging.getLogger(__name__)

# Methods outside this set share one label value: the method is the client's to choose.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"  # no route: 404, or a 405 for the method
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"


def parse_networks(setting: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``"127.0.0.0/8, ::1/128, 10.0.0.5"`` -> networks; a bad entry is a clear error."""
    networks = []
    for entry in (part.strip() for part in setting.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"NOVBE_METRICS_ALLOW: {entry!r} is not an IP address or network "
                "(CIDR, e.g. 10.0.0.0/8); separate several with commas"
            ) from None
    return tuple(networks)


def address_allowed(remote_addr: str | None, networks) -> bool:
    if not remote_addr:
        return False  # not an IP client (a Unix socket): never
    try:
        address = ipaddress.ip_address(remote_addr.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack listener's view of an IPv4 client
    return any(address in network for network in networks)


@bp.get("/metrics")
def metrics():
    state = current_app.extensions[EXTENSION]
    if not address_allowed(request.remote_addr, state["allowed"]):
        abort(404)
    registries = [state["registry"]]
    if request.args.get("queues") != "0":
        registries.append(state["queues"])
    # The classic text format whatever the Accept header: Prometheus reads it, and
    # OpenMetrics (which it asks for first) costs ~50% more to write and adds nothing
    # here (no exemplars, no *_created series).
    body = generate_latest(_Registries(registries))
    response = Response(body, content_type=TEXT_FORMAT)
    if gzip_accepted(request.headers.get("Accept-Encoding", "")):
        # A network's figures are a few MB of text; Prometheus asks for gzip.
        import gzip

        response.set_data(gzip.compress(body, compresslevel=1))
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Cache-Control"] = "no-store"
    return response


class _Registries(Collector):
    """Several registries as one, for the exposition functions."""

    def __init__(self, registries: list[CollectorRegistry]) -> None:
        self.registries = registries

    def collect(self):
        for registry in self.registries:
            yield from registry.collect()


def start_timer() -> None:
    g.novbe_request_started = time.perf_counter()


def observe(response: Response) -> Response:
    started = g.pop("novbe_request_started", None)
    if started is not None:
        method = request.method if request.method in KNOWN_METHODS else "other"
        endpoint = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        current_app.extensions[EXTENSION]["latency"].labels(
            method, endpoint, f"{response.status_code // 100}xx"
        ).observe(time.perf_counter() - started)
    return response


class QueueCollector(Collector):
    """The queues of every center, from the database at each scrape: five queries
    (the catalog, waiting tickets in the services' queues and in counters' own
    queues, today's tickets, pending prints), grouped, whatever the network's size."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "novbe_database_up",
            "1 if the queue figures below were read from the database at this scrape, "
            "0 if it failed (they are then missing).",
        )
        try:
            families = self._families(utcnow())
        except Exception:
            log.warning("metrics: could not read the queue figures", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, now: datetime) -> list[GaugeMetricFamily]:
        labels = ["center", "service"]
        waiting_family = GaugeMetricFamily(
            "novbe_waiting_tickets", "Tickets waiting now, per center and service.", labels=labels
        )
        longest_family = GaugeMetricFamily(
            "novbe_longest_wait_seconds",
            "How long the longest-waiting ticket of the service has waited since it was "
            "issued (0 when nobody waits), as on the screens' queue figures.",
            labels=labels,
        )
        issued_family = GaugeMetricFamily(
            "novbe_tickets_issued_today",
            "Tickets issued on the center's current local day (a gauge: it drops to 0 at "
            "the center's local midnight, in the center's time zone).",
            labels=labels,
        )
        called_family = GaugeMetricFamily(
            "novbe_tickets_called_today",
            "Of the tickets issued on the center's current local day, those called to a "
            "counter so far (as the reports' 'called'; drops to 0 at local midnight).",
            labels=labels,
        )
        pending_family = GaugeMetricFamily(
            "novbe_print_pending",
            "Kiosk tickets sent to a printer and not yet reported printed or failed "
            "(print state 'pending'), per center: the print backlog.",
            labels=["center"],
        )
        with self.database.read() as session:
            # Plain rows: the read session's objects expire when it ends.
            centers = {
                row.id: row
                for row in session.execute(select(Center.id, Center.code, Center.timezone))
            }
            services = session.execute(
                select(Service.id, Service.center_id, Service.code).order_by(
                    Service.center_id, Service.id
                )
            ).all()
            waiting = _waiting_by_service(session)
            today = _today_by_service(session, centers.values(), now)
            pending = dict(
                session.execute(
                    select(Ticket.center_id, func.count())
                    # The literal lets PostgreSQL use the partial index ix_tickets_print_pending.
                    .where(text("tickets.print_state = 'pending'"))
                    .group_by(Ticket.center_id)
                ).all()
            )
        # Samples made here rather than by add_metric, one label dict shared by a
        # service's four: a network has ~10,000 services (add_metric: 0.1 s a scrape).
        for service_id, center_id, service_code in services:
            labels = {"center": centers[center_id].code, "service": service_code}
            count, oldest = waiting.get(service_id, (0, None))
            longest = max(0, round((now - oldest).total_seconds())) if oldest else 0
            issued, called = today.get(service_id, (0, 0))
            for family, value in (
                (waiting_family, count),
                (longest_family, longest),
                (issued_family, issued),
                (called_family, called),
            ):
                family.samples.append(Sample(family.name, labels, value))
        for center in centers.values():
            pending_family.add_metric([center.code], pending.get(center.id, 0))
        return [waiting_family, longest_family, issued_family, called_family, pending_family]


def _waiting_by_service(session) -> dict[int, tuple[int, datetime | None]]:
    """``{service_id: (waiting, earliest issued_at)}`` over every center: the services'
    shared queues and the tickets sent to a counter by name, each read from its
    partial index (as queue_stats does for one center; an OR of the two would scan)."""
    columns = (Ticket.service_id, func.count(), func.min(Ticket.issued_at))
    shared = select(*columns).where(
        WAITING, Ticket.target_counter_id.is_(None), Ticket.lane.in_(LANES)
    )
    named = select(*columns).where(WAITING, Ticket.target_counter_id.is_not(None))
    waiting: dict[int, tuple[int, datetime | None]] = {}
    for query in (shared, named):
        for service_id, count, oldest in session.execute(query.group_by(Ticket.service_id)):
            total, earliest = waiting.get(service_id, (0, None))
            oldest = aware_utc(oldest)
            earliest = min((t for t in (earliest, oldest) if t is not None), default=None)
            waiting[service_id] = (total + count, earliest)
    return waiting


def _today_by_service(session, centers, now: datetime) -> dict[int, tuple[int, int]]:
    """``{service_id: (issued, called)}`` of the tickets issued on each center's current
    local day (the day their number belongs to, as the reports count them)."""
    by_day: dict[date, list[int]] = {}  # centers in the same time zone share a day
    for center in centers:  # rows with the Center's timezone: all business_day reads
        by_day.setdefault(business_day(center, now), []).append(center.id)
    if not by_day:
        return {}
    scope = or_(
        *(
            and_(Ticket.center_id.in_(ids), Ticket.business_day == day)
            for day, ids in by_day.items()
        )
    )
    rows = session.execute(
        select(Ticket.service_id, func.count(), func.count(Ticket.called_at))
        .where(scope)
        .group_by(Ticket.service_id)
    )
    return {service_id: (issued, called) for service_id, issued, called in rows}


class LiveConnectionsCollector(Collector):
    """This process's live-channel connections by kind, as the channel counts them at
    connect and disconnect (server/realtime/channel.py, rooms.Connections)."""

    def __init__(self, connections: Connections) -> None:
        self.connections = connections

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "novbe_live_connections",
            "Live-channel (Socket.IO /live) connections held by this process, by kind: "
            "device (kiosk or display screen), staff (counter or dashboard), visitor "
            "(a phone following its ticket), public (the public page), agent (a kiosk "
            "print agent).",
            labels=["kind"],
        )
        for kind, count in self.connections.counts().items():
            family.add_metric([kind], count)
        yield family
