"""Request bodies: nothing larger than ``MAX_CONTENT_LENGTH`` is read, on any route.

Flask refuses (413) an oversized body only when a view reads it. A route that never
reads its body (``GET /healthz``) would answer, and gunicorn would then read the whole
body to throw it away, to keep the connection for another request: 100 MB sent to
/healthz cost the worker 10 s of CPU, and a 413 from a view that did read did not stop
it either. So, for every route of the app:

* a request announcing a larger body is refused with 413 before anything else runs
  (under /api/v1 as the JSON error ``body_too_large``, server/api/errors.py), and one
  of unknown length (chunked) when it reaches the limit (``whole_body``);
* once a request whose body may be larger than that has been answered (announced so,
  or of unknown length: chunked), its socket is shut for reading: gunicorn sees the
  body end at once and closes the connection instead of reading on.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge


def limit_request_size(app: Flask) -> None:
    app.before_request(refuse_oversized_body)
    app.after_request(stop_reading_large_bodies)


def refuse_oversized_body() -> None:
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()


def whole_body() -> bytes:
    """The request's body, all of it, or 413. A body of unknown length (chunked) is read
    only up to the limit, and Werkzeug stops there without a word: one that reaches the
    limit is refused rather than passed on cut short."""
    data = request.get_data(cache=True)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(data) >= limit:
        raise RequestEntityTooLarge()
    return data


def stop_reading_large_bodies(response: Response) -> Response:
    limit = request.max_content_length
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if chunked or (limit is not None and (request.content_length or 0) > limit):
        response.call_on_close(_stop_reading(request.environ.get("gunicorn.socket")))
    return response


def _stop_reading(sock: socket.socket | None) -> Callable[[], None]:
    """Shut ``sock`` for reading, once the response has been sent (the response's close;
    other servers than gunicorn pass no socket: nothing to do)."""

    def stop() -> None:
        if sock is not None:
            with contextlib.suppress(OSError):  # the client may be gone already
                sock.shutdown(socket.SHUT_RD)

    return stop
