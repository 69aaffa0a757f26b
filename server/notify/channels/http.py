"""One HTTP POST with a hard total deadline and a cap on what is read back.

``requests``' own time-out applies to each socket operation, so a receiver that drips
a byte every few seconds (in its headers or its body), or streams gigabytes, would
hold a sender for as long as it likes. :func:`post_with_deadline` bounds the whole
exchange:

* connect and each read time out after :data:`STEP_TIMEOUT_S` (or the deadline, if
  shorter);
* a watchdog (a green thread under gevent) shuts the connection's sockets when the
  deadline passes, whatever phase the request is in (headers included);
* at most ``max_bytes`` of the answer are read; the rest is never downloaded.

Invariants: returns within about ``deadline_s`` plus one DNS lookup; raises
``requests.RequestException`` (:class:`DeadlineExceeded` when time ran out before the
status line came) and nothing else for a failed exchange; never follows a redirect.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

STEP_TIMEOUT_S = 5.0  # connect, and each read


class DeadlineExceeded(requests.Timeout):
    """The whole exchange took longer than its deadline."""


def post_with_deadline(
    url: str,
    *,
    deadline_s: float,
    max_bytes: int,
    data: bytes | str | dict | None = None,
    json: Any = None,
    headers: dict[str, str] | None = None,
    auth: Any = None,
) -> tuple[int, str]:
    """POST and return (status, the answer's first ``max_bytes`` decoded as text)."""
    sockets: list[socket.socket] = []
    lock = threading.Lock()
    expired = threading.Event()

    def track(sock: socket.socket | None) -> None:
        with lock:
            if sock is not None:
                sockets.append(sock)
            late = expired.is_set()
        if late and sock is not None:
            _shut(sock)

    def shut_all() -> None:
        with lock:
            expired.set()
            found = list(sockets)
        for sock in found:
            _shut(sock)

    session = requests.Session()  # a proxy from the environment is used (an egress filter)
    session.mount("http://", _Adapter(track))
    session.mount("https://", _Adapter(track))
    step = min(STEP_TIMEOUT_S, deadline_s)
    watchdog = threading.Timer(deadline_s, shut_all)
    watchdog.daemon = True
    watchdog.start()
    started = time.monotonic()
    try:
        try:
            response = session.post(
                url,
                data=data,
                json=json,
                headers=headers,
                auth=auth,
                timeout=(step, step),
                allow_redirects=False,
                stream=True,
            )
        except requests.RequestException as exc:
            if expired.is_set():
                raise DeadlineExceeded(f"no answer within {deadline_s:g} s") from exc
            raise
        try:
            text = _read_start(response, max_bytes, started + deadline_s)
        finally:
            response.close()
        return response.status_code, text
    finally:
        watchdog.cancel()
        session.close()


def _read_start(response: requests.Response, max_bytes: int, deadline: float) -> str:
    """Up to ``max_bytes`` of the body, stopping at the deadline (what came is kept)."""
    chunks: list[bytes] = []
    size = 0
    try:
        while size < max_bytes and time.monotonic() < deadline:
            chunk = response.raw.read(min(1024, max_bytes - size), decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except Exception:  # cut off (the watchdog, a reset): the status came all the same
        pass
    return b"".join(chunks)[:max_bytes].decode("utf-8", "replace")


def _shut(sock: socket.socket) -> None:
    """Wake whoever is blocked on ``sock`` (shutdown does, close alone may not) and
    close it; the plain socket's shutdown, so TLS state is not touched mid-read."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class _Adapter(HTTPAdapter):
    """Hands every socket it opens to ``track`` (for the watchdog); no retries."""

    def __init__(self, track) -> None:
        self._track = track
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        track = self._track

        class Plain(HTTPConnection):
            def connect(self) -> None:
                super().connect()
                track(self.sock)

        class Tls(HTTPSConnection):
            def connect(self) -> None:
                super().connect()
                track(self.sock)

        class PlainPool(HTTPConnectionPool):
            ConnectionCls = Plain

        class TlsPool(HTTPSConnectionPool):
            ConnectionCls = Tls

        self.poolmanager.pool_classes_by_scheme = {"http": PlainPool, "https": TlsPool}
