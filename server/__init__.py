"""Növbə's central server: the app factory.

``create_app`` only wires things together: it connects the database and
registers blueprints. It creates no tables and starts no threads; ``novbe
init-db`` and ``novbe serve`` do that.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from .config import Config
from .extensions import db
from .queue.loads import share_load_cache


def create_app(config: type[Config] | dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    # Flask >= 2.3 ignores the JSON_SORT_KEYS setting; apply it to the JSON provider.
    app.json.sort_keys = app.config["JSON_SORT_KEYS"]
    if not app.config["DATABASE_URL"]:
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "novbe.db")

    db.init_app(app)
    share_load_cache(db, app.config["ESTIMATE_CACHE_S"])
    from .realtime import init_realtime

    init_realtime(app)

    from counter import bp as counter_bp
    from display import bp as display_bp
    from kiosk import bp as kiosk_bp

    from .api import bp as api_bp
    from .web import bp as web_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(web_bp)
    app.register_blueprint(kiosk_bp)
    app.register_blueprint(display_bp)
    app.register_blueprint(counter_bp)
    return app
