"""The production server's log lines: plain text (default) or JSON (``NOVBE_LOG_FORMAT=json``).

``configure_logging`` runs in server/wsgi.py, in the gunicorn worker, once the app
exists. With ``text`` nothing changes: lines look as they always did (Python's and
Flask's plain formats, WARNING and above). With ``json`` the same lines (same levels)
become one JSON object per line on stderr::

    {"time": "2025-03-11T06:00:00.123Z", "level": "ERROR", "logger": "server",
     "message": "Exception on /x [GET]", "pid": 4242, "exception": "Traceback ..."}

``time`` is ISO 8601 in UTC; ``exception`` (the traceback as text) only when there is
one. JSON: everything the worker logs through Python's logging: the server's own
loggers (``server.*``, ``novbe.*``), Flask, Flask-SocketIO/Engine.IO, SQLAlchemy, and
gunicorn's lines written by the worker (``gunicorn.error``: "Error handling request",
the worker exiting). Not JSON: gunicorn's master process (``Starting gunicorn``,
``Listening at``, ``Booting worker``, a worker timed out or killed), the ``serving on``
line ``novbe serve`` prints before starting gunicorn, and whatever is written straight
to stderr rather than logged (gevent's report of a greenlet that died, a crash of the
interpreter itself). gunicorn writes no access log (``novbe serve`` enables none); the
reverse proxy's access log has the requests.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

from flask import Flask
from flask.logging import default_handler

FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # ASCII only: U+2028 and friends would break a line-based reader's lines.
        return json.dumps(entry, default=str)


def log_format(app: Flask) -> str:
    value = str(app.config.get("LOG_FORMAT") or "text").strip().lower()
    if value not in FORMATS:
        raise ValueError(
            f"NOVBE_LOG_FORMAT must be one of {', '.join(FORMATS)}, "
            f"not {app.config.get('LOG_FORMAT')!r}"
        )
    return value


def configure_logging(app: Flask, stream: TextIO | None = None) -> logging.Handler | None:
    """Apply ``LOG_FORMAT``; returns the JSON handler put on the root logger (None for
    text). ``stream``: where JSON lines go (stderr)."""
    if log_format(app) == "text":
        return None
    formatter = JsonFormatter()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    # Loggers that print on their own (Flask's app logger, Engine.IO's and Socket.IO's
    # error loggers) would print each line twice, once plain: let the root print it.
    app.logger.removeHandler(default_handler)
    for logger in [root, *logging.root.manager.loggerDict.values()]:
        if not isinstance(logger, logging.Logger):
            continue  # a placeholder for loggers not created yet
        for other in list(logger.handlers):
            if not _console(other):
                continue
            if logger is root or logger.propagate:
                logger.removeHandler(other)
            else:
                other.setFormatter(formatter)  # gunicorn's own loggers do not propagate
    root.addHandler(handler)
    return handler


def _console(handler: logging.Handler) -> bool:
    """A handler writing to stderr or stdout (not to a file)."""
    return type(handler) is logging.StreamHandler and getattr(handler, "stream", None) in (
        sys.stderr,
        sys.stdout,
        sys.__stderr__,
        sys.__stdout__,
    )
