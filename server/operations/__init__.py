"""Operations endpoints: readiness (``GET /readyz``, readiness.py) and Prometheus
metrics (``GET /metrics``, metrics.py), with the timer of every request.
"""

from __future__ import annotations

from flask import Blueprint, Flask
from prometheus_client import CollectorRegistry, Histogram, disable_created_metrics
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from ..extensions import db
from ..realtime import live_of

bp = Blueprint("operations", __name__)
EXTENSION = "novbe_operations"


def init_operations(app: Flask) -> None:
    """Register /readyz and /metrics, and time every request Flask handles."""
    allowed = metrics.parse_networks(app.config["METRICS_ALLOW"])
    disable_created_metrics()  # no *_created series: noise for Prometheus (process-wide)
    registry = CollectorRegistry()
    latency = Histogram(
        "novbe_http_request_duration_seconds",
        "Time to answer an HTTP request in this process (Socket.IO traffic excluded), "
        "by method, route (the rule, e.g. /api/v1/counters/<int:counter_id>/call-next) "
        "and status class.",
        ["method", "endpoint", "status"],
        registry=registry,
    )
    queues = CollectorRegistry()  # apart: a scrape may leave it out (?queues=0)
    queues.register(metrics.QueueCollector(db))
    # The live channel (init_realtime, earlier in create_app) counts the connections.
    registry.register(metrics.LiveConnectionsCollector(live_of(app).connections))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    app.extensions[EXTENSION] = {
        "allowed": allowed,
        "registry": registry,
        "queues": queues,
        "latency": latency,
        "redis": None,
    }
    app.register_blueprint(bp)
    # First in, last out: the timer covers the other hooks too.
    app.before_request_funcs.setdefault(None, []).insert(0, metrics.start_timer)
    app.after_request_funcs.setdefault(None, []).insert(0, metrics.observe)


from . import metrics, readiness  # noqa: E402, F401  (their views join bp)
