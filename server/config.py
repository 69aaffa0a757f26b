"""Configuration classes. ``create_app(config)`` takes one of these (or a dict)."""

from __future__ import annotations

import os
import secrets


class Config:
    # Empty means an SQLite file in the instance folder (set by create_app).
    DATABASE_URL = os.environ.get("NOVBE_DATABASE_URL", "")
    SECRET_KEY = os.environ.get("NOVBE_SECRET_KEY") or secrets.token_hex(32)
    API_TOKEN_HOURS = int(os.environ.get("NOVBE_API_TOKEN_HOURS", "12"))
    JSON_SORT_KEYS = False
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_NAME = "novbe_session"
    PERMANENT_SESSION_LIFETIME = 12 * 3600  # a working day, then log in again
    SQL_ECHO = False
    # SQLite only: FULL syncs every commit to disk (a power cut loses no issued ticket);
    # NORMAL is faster and survives a process kill, not a power cut (docs/security.md).
    SQLITE_SYNCHRONOUS = os.environ.get("NOVBE_SQLITE_SYNCHRONOUS", "FULL")
    # "threading" for the development server and tests; the production server
    # (``novbe serve``: gunicorn with a gevent worker) sets "gevent" in server/wsgi.py.
    SOCKETIO_ASYNC_MODE = "threading"
    # A Redis URL lets several server processes share the live channel.
    SOCKETIO_MESSAGE_QUEUE = os.environ.get("NOVBE_MESSAGE_QUEUE", "")
    # The Redis channel name: servers that share one must use the same, others not.
    SOCKETIO_CHANNEL = os.environ.get("NOVBE_MESSAGE_CHANNEL", "novbe")
    # Screens are served by this app; list other origins only if they need the socket.
    SOCKETIO_CORS_ORIGINS = [o for o in os.environ.get("NOVBE_CORS_ORIGINS", "").split(",") if o]
    # A display that lost its network notices within about this many seconds.
    SOCKETIO_PING_INTERVAL = 10
    # Queue figures and visitors' positions: at most one push per this many seconds.
    REALTIME_STATS_INTERVAL = 0.5
    # Seconds a service's load (recent service time, counters open) is reused for
    # estimates; a served visitor or a counter change in this process drops it sooner.
    ESTIMATE_CACHE_S = 5.0
    # The address visitors' phones reach (for the QR code); empty means this request's host.
    PUBLIC_BASE_URL = os.environ.get("NOVBE_PUBLIC_BASE_URL", "")
    # Server-side voice (hardware/voice.py): where rendered announcements are kept
    # (empty means voice/ in the instance folder) and how many megabytes of them.
    VOICE_DIR = os.environ.get("NOVBE_VOICE_DIR", "")
    VOICE_CACHE_MB = int(os.environ.get("NOVBE_VOICE_CACHE_MB", "64"))
    VOICE_COMMAND = os.environ.get("NOVBE_ESPEAK", "espeak-ng")  # a path, if not on PATH


class DevelopmentConfig(Config):
    pass


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"
    SOCKETIO_MESSAGE_QUEUE = ""
    REALTIME_STATS_INTERVAL = 0  # publish queue figures inline: deterministic tests
    ESTIMATE_CACHE_S = 0  # tests seed finished tickets straight into the database
    # In-process tests check logic, not power cuts: skip the fsync per commit. Servers that
    # tests start (tests/live.py) keep the production default, FULL.
    SQLITE_SYNCHRONOUS = "NORMAL"
