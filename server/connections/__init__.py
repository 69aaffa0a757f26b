"""What one client may hold, so that no one without credentials can crowd out the
center's screens and staff (docs/security.md, "Connections").

* addresses.py: who a client is: its address as the nearest trusted proxy saw it
  (``NOVBE_TRUSTED_PROXIES`` hops of X-Forwarded-For; none by default), an IPv6
  client's /64 counting as one;
* counts.py: how many of a thing each client holds, against a cap;
* middleware.py: the WSGI layer in front of everything, Engine.IO included: HTTP
  requests in flight and open WebSockets per client (429 beyond), WebSockets offered
  no compression, dead WebSocket peers dropped;
* body_deadline.py: a request's body must keep up: one that takes longer than half
  of ``BODY_TIMEOUT_S`` may be cut (408), by ``BODY_TIMEOUT_S`` it is.

Live connections without a credential are capped at the Socket.IO connect, where the
credential is known (server/realtime/admission.py). The request line and headers are
bounded by gunicorn (``--keep-alive``, server/cli/serving.py), the number of connections by
``--worker-connections``.

The layers, outermost first: ProxyFix (only with trusted proxies), the security
headers, these limits, Flask-SocketIO's middleware, Flask. ProxyFix rewrites
REMOTE_ADDR in the environ every inner layer shares: the limits here, Flask's
``request.remote_addr`` (the login limiter) and the Socket.IO connect handler all see
the same client.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from ..extensions import socketio
from .addresses import client_key
from .middleware import ClientLimits

# Bodies read whole before the app runs when the app sets no MAX_CONTENT_LENGTH.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def limit_connections(app: Flask) -> ClientLimits:
    """Wrap the app (the live channel's middleware included) in the per-client limits.
    Call before the security headers, so that a refusal carries them too."""
    limits = ClientLimits(
        app.wsgi_app,
        max_requests=app.config["MAX_REQUESTS_PER_CLIENT"],
        max_sockets=app.config["MAX_SOCKETS_PER_CLIENT"],
        body_timeout_s=app.config["BODY_TIMEOUT_S"],
        # Bodies up to this are read before the app runs (body_deadline.py).
        max_body_bytes=app.config.get("MAX_CONTENT_LENGTH") or DEFAULT_MAX_BODY_BYTES,
        socket_idle_s=_longest_silence(),
        trusted_proxies=app.config["TRUSTED_PROXIES"],
    )
    app.wsgi_app = limits  # type: ignore[method-assign]
    app.extensions["novbe_client_limits"] = limits
    return limits


def _longest_silence() -> float:
    """Seconds a live client never stays silent for: it answers each Engine.IO ping
    (every ping interval) within the ping time-out."""
    eio = socketio.server.eio
    return eio.ping_interval + eio.ping_interval_grace_period + eio.ping_timeout


def trust_proxies(app: Flask) -> None:
    """Believe ``TRUSTED_PROXIES`` hops of X-Forwarded-For/-Proto/-Host/-Port. Call
    last: it must be the outermost layer."""
    hops = app.config["TRUSTED_PROXIES"]
    if hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )


__all__ = ["ClientLimits", "client_key", "limit_connections", "trust_proxies"]
