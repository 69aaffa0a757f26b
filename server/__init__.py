"""Növbə's central server: the app factory.

``create_app`` only wires things together: it connects the database and
registers blueprints. It creates no tables and starts no threads; ``novbe
init-db`` and ``novbe serve`` do that.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from .cluster import init_cluster
from .config import Config, config_from_environment
from .connections import limit_connections, trust_proxies
from .extensions import db, limiter
from .queue.loads import share_load_cache
from .security_headers import init_security_headers


def create_app(config: type[Config] | dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    # The NOVBE_* variables as they are now, not when server.config was imported.
    app.config.from_object(config_from_environment())
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    from .api.validation import LimitedJSONProvider
    from .request_size import limit_request_size

    app.json = LimitedJSONProvider(app)  # request bodies nested at most limits.MAX_JSON_DEPTH
    limit_request_size(app)  # first: an oversized body is refused before anything else
    # Flask >= 2.3 ignores the JSON_SORT_KEYS setting; apply it to the JSON provider.
    app.json.sort_keys = app.config["JSON_SORT_KEYS"]
    if not app.config["DATABASE_URL"]:
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "novbe.db")

    db.init_app(app)
    limiter.init_app(app)
    # Our limits live on the login views' decorators, which check them when called: drop
    # the check Flask-Limiter also runs before every request for app-wide and default
    # limits (we have none), which cost ~0.35 ms on each request of every screen.
    if limiter._check_request_limit in app.before_request_funcs.get(None, []):
        app.before_request_funcs[None].remove(limiter._check_request_limit)
    cluster = init_cluster(app)  # what several server processes share (server/cluster/)
    from . import printing

    printing.agents.bind(cluster)
    loads = share_load_cache(db, app.config["ESTIMATE_CACHE_S"])
    if loads is not None:
        # Another process served a visitor or changed a counter: drop what is cached here
        # of that service or center (changes.Change.moved_loads).
        def forget_loads(body: dict, local: bool) -> None:
            for center_id, service_id in body["forget_loads"]:
                loads.forget(center_id or None, service_id)

        cluster.subscribe("changed", forget_loads)
    from .realtime import init_realtime

    init_realtime(app, cluster)
    from .notify import init_notify

    init_notify(app)  # the outbox's producers, run with each change (server/notify/)

    from counter import bp as counter_bp
    from display import bp as display_bp
    from kiosk import bp as kiosk_bp
    from manage import bp as manage_bp

    from .api import bp as api_bp
    from .web import bp as web_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(web_bp)
    app.register_blueprint(kiosk_bp)
    app.register_blueprint(display_bp)
    app.register_blueprint(counter_bp)
    app.register_blueprint(manage_bp)
    from .i18n import check_catalogs

    check_catalogs()  # every screen's words whole, or the server does not start
    from .operations import init_operations

    init_operations(app)  # /readyz, /metrics and the request timer (server/operations/)
    limit_connections(app)  # per-client caps and the body deadline (server/connections/)
    init_security_headers(app)  # wraps the middleware added above: every answer gets them
    trust_proxies(app)  # outermost: every layer in sees the client's own address
    return app
