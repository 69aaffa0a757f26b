"""Security headers on every response, and a session cookie marked Secure over HTTPS.

Every answer the server gives carries the same headers (``security_headers``): a
Content-Security-Policy that lets a page run only the scripts, styles and media of this
server (the screens have no inline script, no inline style and no ``on...=`` attribute;
the page data is a ``<script type="application/json">``, which is never executed), and
the headers that stop framing, MIME sniffing, Referer leaks (the phone page's address
is the ticket's secret) and features the screens do not use. Strict-Transport-Security
is added only to answers given over HTTPS.

Two ways in, so that no answer goes without:

* an ``after_request`` hook for everything Flask answers: pages, API JSON, error
  answers (404, 405, 413, 429, 500), static files, /vendor/*, /healthz. It reads
  ``request.is_secure``, which is true behind a proxy once the proxy's scheme header
  is trusted (gunicorn trusts ``X-Forwarded-Proto`` from 127.0.0.1 by default;
  ProxyFix with ``NOVBE_TRUSTED_PROXIES`` for a proxy elsewhere);
* a WSGI wrapper around the whole application for the answers Flask never sees:
  Flask-SocketIO's middleware answers /socket.io/ (Engine.IO long-polling and the
  WebSocket handshake) without going through Flask. The wrapper only adds the headers
  an answer lacks, so it also covers an answer whose ``after_request`` chain failed.

A view that sets one of these headers itself keeps its own value.

The session cookie is Flask's signed cookie (``SecureOverHttpsSessionInterface``),
marked ``Secure`` when ``SESSION_COOKIE_SECURE`` is set (``NOVBE_SECURE_COOKIES``) or
when this request arrived over HTTPS.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, has_request_context, request
from flask.sessions import SecureCookieSessionInterface

# A year; no includeSubDomains: the center's host name may share its domain with others.
HSTS = "max-age=31536000"

# What the screens use: a same-origin WebSocket (the live channel), announcement audio
# played from a blob: URL (display_sound.js fetches it with the device token), images (QR
# codes, charts) from this server. Nothing else: no inline code, no plugins, no frames.
CSP_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "media-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)

# Screens use the screen wake lock (display) and autoplay (chime and voice on the
# display, the phone's beep); every other powerful feature is switched off.
PERMISSIONS_POLICY = ", ".join(
    [
        "autoplay=(self)",
        "screen-wake-lock=(self)",
        *(
            f"{feature}=()"
            for feature in (
                "accelerometer",
                "camera",
                "display-capture",
                "fullscreen",
                "geolocation",
                "gyroscope",
                "hid",
                "magnetometer",
                "microphone",
                "midi",
                "payment",
                "picture-in-picture",
                "publickey-credentials-get",
                "serial",
                "usb",
                "xr-spatial-tracking",
            )
        ),
    ]
)

FIXED_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # The phone page's address holds the ticket's tracking token: send no Referer at all.
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
}

# A host name, IPv4 or bracketed IPv6 address, and port: nothing that could end a
# CSP source or directive.
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def content_security_policy(host: str | None, secure: bool) -> str:
    """The policy for an answer to ``host``. ``connect-src 'self'`` covers same-origin
    WebSockets in current browsers (CSP level 3); the explicit ws(s)://host is for
    older ones, where Socket.IO would otherwise stay on long-polling."""
    connect = "connect-src 'self'"
    if host and _HOST.fullmatch(host):
        connect += f" {'wss' if secure else 'ws'}://{host}"
    return "; ".join((*CSP_DIRECTIVES, connect))


def security_headers(host: str | None, secure: bool) -> dict[str, str]:
    """Every header for one answer: ``host`` as the request named it, ``secure`` when
    it arrived over HTTPS."""
    headers = {"Content-Security-Policy": content_security_policy(host, secure), **FIXED_HEADERS}
    if secure:
        headers["Strict-Transport-Security"] = HSTS
    return headers


def _add_to_flask_response(response: Response) -> Response:
    # HTTP_HOST, not request.host: the same value (ProxyFix rewrites both) without the
    # trusted-hosts check, which would raise here, on the way out.
    host = request.environ.get("HTTP_HOST")
    for name, value in security_headers(host, request.is_secure).items():
        response.headers.setdefault(name, value)
    return response


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SecurityHeadersMiddleware:
    """Adds the headers an answer lacks; the body passes through untouched (WebSocket
    upgrades included)."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        def start(status: str, headers: list[tuple[str, str]], exc_info=None):
            # Keep ProxyFix outside this layer: Flask-SocketIO's middleware copies the
            # environ, so a scheme fixed further in would not be seen here.
            secure = environ.get("wsgi.url_scheme") == "https"
            present = {name.lower() for name, _ in headers}
            missing = [
                (name, value)
                for name, value in security_headers(environ.get("HTTP_HOST"), secure).items()
                if name.lower() not in present
            ]
            return start_response(status, [*headers, *missing], exc_info)

        return self.app(environ, start)


class SecureOverHttpsSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session; the cookie is ``Secure`` when configured so or
    when this request arrived over HTTPS (a browser then only sends it back over
    HTTPS). Another session interface must inherit from this one to keep that."""

    def get_cookie_secure(self, app: Flask) -> bool:
        configured = super().get_cookie_secure(app)
        return bool(configured or (has_request_context() and request.is_secure))


def init_security_headers(app: Flask) -> None:
    """Call after the live channel and the per-client limits wrap ``app.wsgi_app``, so
    the wrapper sees their answers too; only ProxyFix goes outside it."""
    app.after_request(_add_to_flask_response)
    app.wsgi_app = SecurityHeadersMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    current = app.session_interface
    if isinstance(current, SecureOverHttpsSessionInterface):
        return
    if type(current) is not SecureCookieSessionInterface:
        raise TypeError(
            f"{type(current).__name__} replaced Flask's session interface: make it inherit "
            "SecureOverHttpsSessionInterface so the cookie stays Secure over HTTPS"
        )
    app.session_interface = SecureOverHttpsSessionInterface()
