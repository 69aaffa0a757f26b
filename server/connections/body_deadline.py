"""A request's body must arrive within a deadline, or the request ends with 408 (the
deadline is drawn between half of ``BODY_TIMEOUT_S`` and all of it, by the middleware).

gunicorn's gevent worker bounds the request line and headers (``--keep-alive``) but
not the body: a client sending one byte every few seconds would hold its connection
(and a greenlet) for as long as it likes. So:

* a body of known, acceptable size (``Content-Length`` up to ``limit``, the app's
  ``MAX_CONTENT_LENGTH``; every real one is a few KiB) is read here, whole, before the
  app sees the request (``read_by``): the app never waits on a slow client, and a late
  body costs a 408 from the middleware, not a Flask request;
* any other body (chunked, or larger than the app accepts, which it refuses unread)
  is wrapped (``DeadlineInput``) so that every read gives up at the deadline with
  ``BodyTimedOut``, a 408 that Flask answers like any other HTTP error (JSON under
  /api/v1), or the middleware when it escapes an app that does not.

Only under gevent: a read is interrupted with ``gevent.Timeout``, which a blocking
read in a real thread would not notice. The threaded development server has no
deadline. WebSockets are never read here: they do not use ``wsgi.input``.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from typing import Any

from werkzeug.exceptions import RequestTimeout

# Set in the environ when a read hit the deadline: the connection must then close.
TIMED_OUT = "novbe.body_timed_out"


class BodyTimedOut(RequestTimeout):
    def __init__(self, promised_s: float) -> None:
        super().__init__(f"the request body came too slowly: send it within {promised_s:g} s")


def gevent_is_serving() -> bool:
    """True in the production server (gunicorn's gevent worker patched the socket)."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("socket")


def apply_deadline(environ: dict[str, Any], deadline: float, promised_s: float, limit: int) -> None:
    """Give the request's body until ``deadline`` (``time.monotonic()``): read it now
    if it is small enough, else make its reads time out. Raises ``BodyTimedOut``, whose
    message names ``promised_s``, the time every client is sure to have."""
    stream = DeadlineInput(environ["wsgi.input"], deadline, promised_s, environ)
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1  # the app refuses it
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if 0 < length <= limit and not chunked:
        body = stream.read_exactly(length)
        # Short if the client closed early: the app then sees a short body (400).
        environ["wsgi.input"] = io.BytesIO(body)
    elif length or chunked:
        environ["wsgi.input"] = stream


class DeadlineInput:
    """``wsgi.input`` whose reads end at ``deadline`` (a ``time.monotonic()`` value)."""

    def __init__(
        self, stream: Any, deadline: float, promised_s: float, environ: dict[str, Any]
    ) -> None:
        self._stream = stream
        self._deadline = deadline
        self._promised_s = promised_s
        self._environ = environ

    def read(self, size: int = -1) -> bytes:
        return self._timed(self._stream.read, size)

    def readline(self, size: int = -1) -> bytes:
        return self._timed(self._stream.readline, size)

    def readlines(self, hint: int = -1) -> list[bytes]:
        return self._timed(self._stream.readlines, hint)

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def read_exactly(self, length: int) -> bytes:
        """``length`` bytes, or fewer if the client closed the connection first."""
        parts, missing = [], length
        while missing > 0:
            part = self.read(missing)
            if not part:
                break
            parts.append(part)
            missing -= len(part)
        return b"".join(parts)

    def _timed(self, read: Callable[[int], Any], size: int) -> Any:
        import gevent

        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            self._give_up()
        timer = gevent.Timeout(remaining)
        timer.start()
        try:
            return read(size)
        except gevent.Timeout as timeout:
            if timeout is not timer:
                raise  # someone else's time-out
            self._give_up()
        finally:
            timer.close()

    def _give_up(self) -> None:
        self._environ[TIMED_OUT] = True
        raise BodyTimedOut(self._promised_s)
