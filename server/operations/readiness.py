"""Readiness (``GET /readyz``).

``/healthz`` (server/web.py) says the process answers; ``/readyz`` says it can serve:
the database answers ``SELECT 1`` and, when ``NOVBE_MESSAGE_QUEUE`` is set, the Redis
message queue answers PING. 200 ``{"status": "ready", "checks": {...}}``, or 503
``{"status": "not ready", "checks": {...}}`` where each failed check reads
``"<error class>: <first line of its message>"`` (no traceback, no password).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, jsonify
from sqlalchemy import text

from ..extensions import db
from . import EXTENSION, bp

# Readiness: how long each check may take before it counts as down.
DATABASE_TIMEOUT_S = 2
MESSAGE_QUEUE_TIMEOUT_S = 1.5
MAX_ERROR_CHARS = 200


@bp.get("/readyz")
def ready():
    checks = {"database": _check_database(), "message_queue": _check_message_queue()}
    failed = [name for name, result in checks.items() if not _passed(result)]
    response = jsonify({"status": "not ready" if failed else "ready", "checks": checks})
    response.status_code = 503 if failed else 200
    response.headers["Cache-Control"] = "no-store"
    return response


def _passed(result: str) -> bool:
    return result in ("ok", "not used")


def _check_database() -> str:
    engine = db.engine
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                # This transaction only; the connection goes back to the pool as it was.
                connection.exec_driver_sql(
                    f"SET LOCAL statement_timeout = {int(DATABASE_TIMEOUT_S * 1000)}"
                )
            connection.execute(text("SELECT 1")).scalar_one()
    except Exception as error:
        return describe_error(error, engine.url.password)
    return "ok"


def _check_message_queue() -> str:
    url = current_app.config["SOCKETIO_MESSAGE_QUEUE"]
    if not url:
        return "not used"
    state = current_app.extensions[EXTENSION]
    try:
        if state["redis"] is None:
            import redis

            # Made once, connected on first use; short time-outs so a dead Redis
            # answers 503 quickly instead of holding the probe.
            state["redis"] = redis.Redis.from_url(
                url,
                socket_timeout=MESSAGE_QUEUE_TIMEOUT_S,
                socket_connect_timeout=MESSAGE_QUEUE_TIMEOUT_S,
            )
        state["redis"].ping()
    except Exception as error:
        return describe_error(error, urlsplit(url).password)
    return "ok"


def describe_error(error: BaseException, password: str | None = None) -> str:
    """``"OperationalError: connection failed: ..."``: the class and the first line of
    the driver's message, short, with the password (if it shows) blanked."""
    cause = getattr(error, "orig", None) or error  # SQLAlchemy wraps the driver's error
    lines = str(cause).strip().splitlines()
    message = lines[0].strip() if lines else ""
    if password:
        message = message.replace(password, "***")
    if len(message) > MAX_ERROR_CHARS:
        message = message[: MAX_ERROR_CHARS - 1] + "…"
    return f"{type(cause).__name__}: {message}" if message else type(cause).__name__
