"""Configuration classes. ``create_app(config)`` takes one of these (or a dict).

Operators set most settings through NOVBE_* environment variables, which
``environment_settings`` reads when called. ``create_app`` applies them as they are when
it runs (``novbe`` commands, the production server); ``Config``'s class attributes hold
them as they were when this module was imported, for code and tests (TestConfig
subclasses) that read or subclass ``Config`` directly.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from .limits import MAX_BODY_BYTES

# Signs login cookies when NOVBE_SECRET_KEY is unset: one per process, so every app a
# process creates accepts the others' cookies.
_PROCESS_SECRET_KEY = secrets.token_hex(32)


def environment_settings() -> dict[str, Any]:
    """The settings taken from NOVBE_* environment variables, as they are now."""
    env = os.environ.get
    queue = env("NOVBE_MESSAGE_QUEUE", "")
    return {
        # Empty means an SQLite file in the instance folder (set by create_app).
        "DATABASE_URL": env("NOVBE_DATABASE_URL", ""),
        "SECRET_KEY": env("NOVBE_SECRET_KEY") or _PROCESS_SECRET_KEY,
        "API_TOKEN_HOURS": int(env("NOVBE_API_TOKEN_HOURS", "12")),
        # NOVBE_SECURE_COOKIES=1: the session cookie is Secure on every answer. Without it,
        # still Secure on answers over HTTPS (server/security_headers.py). Set it only if
        # every screen reaches the server by HTTPS: browsers drop Secure cookies over HTTP.
        "SESSION_COOKIE_SECURE": env("NOVBE_SECURE_COOKIES", "").lower() in {"1", "true", "yes"},
        # Failed logins allowed (Flask-Limiter notation, tiers separated by ";"), per
        # username and, looser, per client address: an office behind one NAT address must
        # not be locked out by one person (server/api/login_limits.py).
        "LOGIN_LIMITS_PER_USERNAME": env("NOVBE_LOGIN_LIMITS_USERNAME", "5/minute;20/hour;100/day"),
        "LOGIN_LIMITS_PER_ADDRESS": env(
            "NOVBE_LOGIN_LIMITS_ADDRESS", "30/minute;300/hour;1000/day"
        ),
        # Where the limits count: memory (one process) or Redis, which several server
        # processes must share; by default the live channel's Redis when
        # NOVBE_MESSAGE_QUEUE names one.
        "RATELIMIT_STORAGE_URI": env("NOVBE_RATELIMIT_STORAGE")
        or (queue if queue.startswith(("redis://", "rediss://")) else "memory://"),
        # Servers sharing one Redis count together only if they share the live channel too.
        "RATELIMIT_KEY_PREFIX": env("NOVBE_MESSAGE_CHANNEL", "novbe"),
        # SQLite only: FULL syncs every commit to disk (a power cut loses no issued ticket);
        # NORMAL is faster and survives a process kill, not a power cut (docs/security.md).
        "SQLITE_SYNCHRONOUS": env("NOVBE_SQLITE_SYNCHRONOUS", "FULL"),
        # A Redis URL lets several server processes share the live channel.
        "SOCKETIO_MESSAGE_QUEUE": queue,
        # The Redis channel name: servers that share one must use the same, others not.
        "SOCKETIO_CHANNEL": env("NOVBE_MESSAGE_CHANNEL", "novbe"),
        # Screens are served by this app; list other origins only if they need the socket.
        "SOCKETIO_CORS_ORIGINS": [o for o in env("NOVBE_CORS_ORIGINS", "").split(",") if o],
        # ---- What one client may hold (server/connections/, docs/security.md) ----
        # Proxy hops in front of the server whose X-Forwarded-For/-Proto/-Host are believed.
        # 0: none; a client is its TCP address and a forged X-Forwarded-For changes nothing.
        # Behind one reverse proxy (nginx): 1, or every client counts as the proxy's address.
        "TRUSTED_PROXIES": int(env("NOVBE_TRUSTED_PROXIES", "0")),
        # Connections the one worker holds at once (gunicorn --worker-connections); the
        # open-file limit is raised to fit at start (server/cli/serving.py).
        "WORKER_CONNECTIONS": int(env("NOVBE_WORKER_CONNECTIONS", "10000")),
        # Seconds a client has to send a request's line and headers (gunicorn --keep-alive,
        # also how long an idle keep-alive connection is kept).
        "HEADERS_TIMEOUT_S": int(env("NOVBE_HEADERS_TIMEOUT_S", "5")),
        # A request's whole body has half this many seconds to arrive; a late one is cut
        # (408, and the connection ends) at a moment between half of it and all of it.
        "BODY_TIMEOUT_S": float(env("NOVBE_BODY_TIMEOUT_S", "30")),
        # Per client address (an IPv6 client's /64): HTTP requests in flight ...
        "MAX_REQUESTS_PER_CLIENT": int(env("NOVBE_MAX_REQUESTS_PER_CLIENT", "64")),
        # ... open WebSockets of any kind (a center's screens may share one NAT address) ...
        "MAX_SOCKETS_PER_CLIENT": int(env("NOVBE_MAX_SOCKETS_PER_CLIENT", "500")),
        # ... and live connections with no staff or device credential (the public page and
        # visitors' phones; raise it if many visitors share the center's guest Wi-Fi).
        "MAX_PUBLIC_SOCKETS_PER_CLIENT": int(env("NOVBE_MAX_PUBLIC_SOCKETS_PER_CLIENT", "200")),
        # Such connections in all, so a flood from many addresses leaves room for screens.
        "MAX_PUBLIC_SOCKETS": int(env("NOVBE_MAX_PUBLIC_SOCKETS", "5000")),
        # Seconds a connection may stay open without joining /live (a refused one: a few).
        "SOCKET_JOIN_TIMEOUT_S": float(env("NOVBE_SOCKET_JOIN_TIMEOUT_S", "60")),
        # The public page's live figures: at most one push per center per this many seconds
        # (anyone may hold that connection, so each push may go to thousands).
        "PUBLIC_STATS_INTERVAL_S": float(env("NOVBE_PUBLIC_STATS_INTERVAL_S", "5")),
        # Today's service level and approval rate in the live figures: refreshed at most
        # this often (aggregates over the day's tickets and ratings).
        "REALTIME_DAY_FIGURES_S": float(env("NOVBE_REALTIME_DAY_FIGURES_S", "10")),
        # The address visitors' phones reach (for the QR code); empty: this request's host.
        "PUBLIC_BASE_URL": env("NOVBE_PUBLIC_BASE_URL", ""),
        # Booking limits (docs/appointments.md): bookings per contact per center and day,
        # per client address in 24 hours, and minutes a cancelled place stays taken.
        "APPOINTMENT_BOOKINGS_PER_CONTACT_PER_DAY": int(
            env("NOVBE_APPOINTMENT_BOOKINGS_PER_CONTACT_PER_DAY", "2")
        ),
        "APPOINTMENT_BOOKINGS_PER_CLIENT_PER_DAY": int(
            env("NOVBE_APPOINTMENT_BOOKINGS_PER_CLIENT_PER_DAY", "10")
        ),
        "APPOINTMENT_CANCEL_HOLD_MIN": int(env("NOVBE_APPOINTMENT_CANCEL_HOLD_MIN", "30")),
        # Requests per client (an IPv6 client's /64) on the public booking routes
        # (server/api/public_limits.py): writes (book, cancel, join from home) and the
        # booking page's reads; and failed check-ins (unknown codes) per kiosk or account.
        "PUBLIC_BOOKING_WRITE_LIMITS": env(
            "NOVBE_PUBLIC_BOOKING_WRITE_LIMITS", "10 per minute;60 per hour"
        ),
        "PUBLIC_BOOKING_READ_LIMITS": env(
            "NOVBE_PUBLIC_BOOKING_READ_LIMITS", "60 per minute;600 per hour"
        ),
        # Joins from home per client (an IPv6 /64 is one) per center and local day.
        "REMOTE_TICKETS_PER_CLIENT_PER_DAY": int(
            env("NOVBE_REMOTE_TICKETS_PER_CLIENT_PER_DAY", "3")
        ),
        "CHECKIN_FAILURE_LIMITS": env("NOVBE_CHECKIN_FAILURE_LIMITS", "10 per minute;60 per hour"),
        "CHECKIN_BURST_LIMITS": env("NOVBE_CHECKIN_BURST_LIMITS", "3 per second"),
        # Server-side voice (hardware/voice.py): where rendered announcements are kept
        # (empty means voice/ in the instance folder) and how many megabytes of them.
        "VOICE_DIR": env("NOVBE_VOICE_DIR", ""),
        "VOICE_CACHE_MB": int(env("NOVBE_VOICE_CACHE_MB", "64")),
        "VOICE_COMMAND": env("NOVBE_ESPEAK", "espeak-ng"),  # a path, if not on PATH
        # The fairness ledger's signing key (server/ledger/keys.py); empty means
        # ledger-ed25519.pem in the instance folder. Every process must share it.
        "LEDGER_KEY_FILE": env("NOVBE_LEDGER_KEY_FILE", ""),
        # Web Push (server/notify/vapid.py): the VAPID key's file (empty means
        # vapid-p256.pem in the instance folder; every process must share it) and the
        # contact push services may write to about it.
        "VAPID_KEY_FILE": env("NOVBE_VAPID_KEY_FILE", ""),
        "VAPID_SUBJECT": env("NOVBE_VAPID_SUBJECT", "mailto:admin@localhost"),
        # Opting in to visitor messages (server/api/notifications.py): contacts added per
        # client (an IPv6 /64 is one); a kiosk with its device token is not limited.
        "PUBLIC_CONTACT_LIMITS": env("NOVBE_PUBLIC_CONTACT_LIMITS", "6 per minute;30 per hour"),
        # Web Push endpoints must be https; this allows http ones (a loopback push service
        # in tests and trials only).
        "WEBPUSH_ALLOW_HTTP": env("NOVBE_WEBPUSH_ALLOW_HTTP", "").lower() in {"1", "true", "yes"},
        # Webhooks (docs/webhooks.md): a subscription is switched off after this many
        # failed attempts in a row; URLs that resolve to loopback, private or link-local
        # addresses are refused unless allowed here (a receiver on the same network).
        "WEBHOOK_DISABLE_AFTER": int(env("NOVBE_WEBHOOK_DISABLE_AFTER", "20")),
        # ... and only once that run of failures has lasted this long (seconds).
        "WEBHOOK_DISABLE_AFTER_S": int(env("NOVBE_WEBHOOK_DISABLE_AFTER_S", "3600")),
        # Finished outbox messages (sent, dead, cancelled) and their log are kept this long.
        "OUTBOX_KEEP_DAYS": int(env("NOVBE_OUTBOX_KEEP_DAYS", "30")),
        # A claimed message is another worker's again after this long (seconds): what a
        # worker killed mid-send leaves is resent then. Above the longest send (10 s).
        "OUTBOX_CLAIM_S": int(env("NOVBE_OUTBOX_CLAIM_S", "60")),
        "WEBHOOK_PRIVATE_ADDRESSES": env("NOVBE_WEBHOOK_PRIVATE_ADDRESSES", "").lower()
        in {"1", "true", "yes"},
        # ---- Operations (server/operations/, server/logs.py) ----
        # Client addresses answered on /metrics (CIDRs, comma-separated); others get 404.
        "METRICS_ALLOW": env("NOVBE_METRICS_ALLOW", "127.0.0.0/8,::1/128"),
        # The production server's log lines: "text" (plain) or "json" (one object a line).
        "LOG_FORMAT": env("NOVBE_LOG_FORMAT", "text"),
        # ---- The live forecast (server/forecast/, docs/forecast.md) ----
        # Seconds between forecasts of every active center (0: no background forecasting;
        # the forecast API still computes on request); simulated runs per forecast; the
        # breach probability that raises a warning; how far ahead it looks and warns.
        "FORECAST_INTERVAL_S": float(env("NOVBE_FORECAST_INTERVAL_S", "60")),
        "FORECAST_RUNS": int(env("NOVBE_FORECAST_RUNS", "40")),
        "FORECAST_THRESHOLD": float(env("NOVBE_FORECAST_THRESHOLD", "0.6")),
        "FORECAST_HORIZON_MIN": int(env("NOVBE_FORECAST_HORIZON_MIN", "60")),
        "FORECAST_WARN_MIN": int(env("NOVBE_FORECAST_WARN_MIN", "30")),
        # Seconds a center's forecast (GET /centers/<c>/forecast) is reused by requests.
        "FORECAST_CACHE_S": float(env("NOVBE_FORECAST_CACHE_S", "15")),
    }


class Config:
    """The fixed settings; the NOVBE_* ones are set on it below (environment_settings)."""

    JSON_SORT_KEYS = False
    # Larger request bodies are refused (413) before they are read; the largest real one
    # (a counter's services, or a name in three languages) is a few KiB.
    MAX_CONTENT_LENGTH = MAX_BODY_BYTES
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_NAME = "novbe_session"
    PERMANENT_SESSION_LIFETIME = 12 * 3600  # a working day, then log in again
    RATELIMIT_STRATEGY = "moving-window"
    # Check every tier, so that a refusal names when the longest lock ends.
    RATELIMIT_FAIL_ON_FIRST_BREACH = False
    SQL_ECHO = False
    # "threading" for the development server and tests; the production server
    # (``novbe serve``: gunicorn with a gevent worker) sets "gevent" in server/wsgi.py.
    SOCKETIO_ASYNC_MODE = "threading"
    # A display that lost its network notices within about this many seconds.
    SOCKETIO_PING_INTERVAL = 10
    # The largest message a client may send on the live channel (a print agent's report
    # is under 1 KiB; Engine.IO's default would be 1 MB).
    SOCKETIO_MAX_MESSAGE_BYTES = 64 * 1024
    # Seconds the public page's live snapshot is shared by connects (0: computed for each).
    PUBLIC_SNAPSHOT_MAX_AGE_S = 1.0
    # Queue figures and visitors' positions: at most one push per this many seconds.
    REALTIME_STATS_INTERVAL = 0.5
    # Seconds a service's load (recent service time, counters open) is reused for
    # estimates; a served visitor or a counter change in any process drops it sooner
    # (the cluster bus), so this only bounds what a lost message could leave stale.
    ESTIMATE_CACHE_S = 60.0


# As the environment was at import: what subclasses inherit and direct readers see.
for _name, _value in environment_settings().items():
    setattr(Config, _name, _value)


def config_from_environment() -> type[Config]:
    """``Config`` with the NOVBE_* environment variables as they are now."""
    return type("Config", (Config,), environment_settings())


class DevelopmentConfig(Config):
    pass


class TestConfig(Config):
    TESTING = True
    RATELIMIT_STORAGE_URI = "memory://"  # on, and fresh for each test's app
    SECRET_KEY = "test-secret"
    SOCKETIO_MESSAGE_QUEUE = ""
    REALTIME_STATS_INTERVAL = 0  # publish queue figures inline: deterministic tests
    REALTIME_DAY_FIGURES_S = 0
    PUBLIC_SNAPSHOT_MAX_AGE_S = 0  # tests seed the database behind the server's back
    PUBLIC_STATS_INTERVAL_S = 0  # pushed inline, like the queue figures
    ESTIMATE_CACHE_S = 0  # tests seed finished tickets straight into the database
    NOTIFY_QUIET_CACHE_S = 0  # tests add visitor contacts straight into the database
    # Loopback stand-ins play the receivers (webhooks, push services).
    WEBHOOK_PRIVATE_ADDRESSES = True
    WEBPUSH_ALLOW_HTTP = True
    # In-process tests check logic, not power cuts: skip the fsync per commit. Servers that
    # tests start (tests/live.py) keep the production default, FULL.
    SQLITE_SYNCHRONOUS = "NORMAL"
    FORECAST_INTERVAL_S = 0  # tests run the forecaster's rounds themselves
    FORECAST_CACHE_S = 0
