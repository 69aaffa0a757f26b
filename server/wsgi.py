"""The production entry point (``novbe serve`` runs gunicorn with a gevent worker on it).

Importing this module creates the app and starts its background loops (the cluster's
messages and heartbeat, the end-of-day upkeep, closing live connections that never
join); nothing else imports it.
"""

import gc

from . import create_app
from .cluster import cluster_of
from .extensions import socketio
from .forecast.runner import start_forecaster
from .logs import configure_logging
from .maintenance import start_maintenance_loop
from .notify.worker import start_outbox_worker
from .realtime import NAMESPACE, live_of
from .realtime.admission import start_join_sweeper

app = create_app({"SOCKETIO_ASYNC_MODE": "gevent"})
configure_logging(app)  # NOVBE_LOG_FORMAT: text or json (server/logs.py)
# A kiosk whose print agent died with another server process: its printer's state changes.
cluster_of(app).start(
    socketio.start_background_task, live_of(app).publisher.printing.printers_changed
)
start_maintenance_loop(app)
start_outbox_worker(app)  # sends the outbox (server/notify/worker.py)
start_forecaster(app)  # forecasts and breach warnings (server/forecast/runner.py)
start_join_sweeper(app, NAMESPACE)
# What exists by now (modules, the app, the ORM's mappers: ~130,000 objects) lives as
# long as the process: a full garbage collection need not walk it again each time. Such
# a collection stops the worker (~0.5 s with 2,500 live connections on this machine).
gc.freeze()
