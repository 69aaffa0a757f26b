"""The per-client limits, as a WSGI layer in front of the whole app (Flask-SocketIO's
middleware, and so Engine.IO, included).

Per client (server/connections/addresses.py):

* HTTP requests in flight, at most ``max_requests``: a request beyond is answered
  429 at once, before anything is read or looked up; the count drops when the answer
  has been sent (the response iterable is closed);
* open WebSockets, at most ``max_sockets``: a WebSocket's WSGI call lasts as long as
  the socket, so it is counted apart from requests; beyond, 429 instead of the
  handshake (the browser's Socket.IO client retries with back-off).

Every WebSocket is accepted without permessage-deflate: the zlib state it needs costs
about 300 KB per socket (most of a worker's memory with 2,000 browsers connected,
and never all given back), and every broadcast would be compressed once per socket.
The live channel's messages are small. A WebSocket whose peer stays silent longer
than a live client ever does (it answers every Engine.IO ping) is dropped, so a
vanished peer does not hold its greenlets and buffers forever.

Bodies get a deadline (body_deadline.py). Refusals are JSON, the API's error shape.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..errors import error_body
from .addresses import client_key
from .body_deadline import TIMED_OUT, BodyTimedOut, apply_deadline, gevent_is_serving
from .counts import ClientCounts

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class ClientLimits:
    def __init__(
        self,
        app: WsgiApp,
        *,
        max_requests: int,
        max_sockets: int,
        body_timeout_s: float,
        max_body_bytes: int,
        socket_idle_s: float,
        trusted_proxies: int,
    ) -> None:
        self.app = app
        self.requests = ClientCounts(max_requests)
        self.sockets = ClientCounts(max_sockets)
        self.body_timeout_s = body_timeout_s
        self.max_body_bytes = max_body_bytes
        self.socket_idle_s = socket_idle_s
        self._deadlines = gevent_is_serving()
        self._warn_forwarded = trusted_proxies == 0

    def __call__(self, environ: dict[str, Any], start_response: StartResponse):
        now = time.monotonic()
        key = client_key(environ)
        if self._warn_forwarded and "HTTP_X_FORWARDED_FOR" in environ:
            self._warn_forwarded = False
            log.warning(
                "a request came with X-Forwarded-For but NOVBE_TRUSTED_PROXIES is 0: every "
                "client counts as %s; behind a reverse proxy set NOVBE_TRUSTED_PROXIES=1",
                environ.get("REMOTE_ADDR"),
            )
        websocket = environ.get("HTTP_UPGRADE", "").lower() == "websocket"
        counts = self.sockets if websocket else self.requests
        if not counts.acquire(key):
            if websocket:
                what = f"more than {counts.per_client} open live connections"
                code = "too_many_connections"
            else:
                what = f"more than {counts.per_client} requests at once"
                code = "too_many_requests"
            return _refuse(start_response, 429, code, f"{what} from your address; try again")
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                counts.release(key)

        if websocket:
            environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)  # no permessage-deflate
            _limit_silence(environ, self.socket_idle_s)
        try:
            if not websocket and self._deadlines:
                # Between half the time-out and all of it: requests opened together (a
                # flood) are not all cut, and reopened, in the same instant.
                deadline = now + self.body_timeout_s * random.uniform(0.5, 1.0)
                promised = self.body_timeout_s / 2
                apply_deadline(environ, deadline, promised, self.max_body_bytes)
            result = self.app(environ, start_response)
        except BodyTimedOut as exc:  # read here, or let through by the app (Engine.IO)
            release()
            _end_connection(environ)
            return _refuse(start_response, 408, "request_timeout", exc.description)
        except BaseException:  # a WebSocket's end under gunicorn is a StopIteration too
            release()
            raise
        return _on_close(result, environ, release)


def _on_close(result: Iterable[bytes], environ: dict[str, Any], release: Callable[[], None]):
    """``result``, with ``release`` run once the server has sent it."""

    def close() -> None:
        try:
            if original_close is not None:
                original_close()
        finally:
            release()
            if environ.get(TIMED_OUT):
                _end_connection(environ)

    file_wrapper = environ.get("wsgi.file_wrapper")
    original_close = getattr(result, "close", None)
    if isinstance(file_wrapper, type) and isinstance(result, file_wrapper):
        # Keep the server's sendfile: its file wrapper takes a close attribute.
        result.close = close  # type: ignore[attr-defined]
        return result
    return _Closing(result, close)


class _Closing:
    def __init__(self, result: Iterable[bytes], close: Callable[[], None]) -> None:
        self._result = result
        self.close = close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._result)


def _refuse(start_response: StartResponse, status: int, code: str, message: str):
    body = json.dumps(error_body(code, message)).encode()
    reason = {408: "Request Timeout", 429: "Too Many Requests"}[status]
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if status == 429:
        headers.append(("Retry-After", "1"))
    start_response(f"{status} {reason}", headers)
    return [body]


def _limit_silence(environ: dict[str, Any], seconds: float) -> None:
    """A read on the WebSocket's socket gives up after ``seconds`` of silence, which
    ends the socket (simple-websocket treats it as a closed connection)."""
    sock = environ.get("gunicorn.socket")
    if sock is not None:
        sock.settimeout(seconds)


def _end_connection(environ: dict[str, Any]) -> None:
    """No more requests on this connection: the rest of a late body is not waited for.
    Shutting the reading side makes gunicorn see the end of the stream once it has
    sent the answer."""
    sock = environ.get("gunicorn.socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already gone
            sock.shutdown(socket.SHUT_RD)
