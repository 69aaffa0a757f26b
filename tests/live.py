"""A real server process for end-to-end tests: ``novbe serve`` (gunicorn with one
gevent worker, as in production) on a free port, over its own SQLite file.

Tests set data up directly in the database (a center per test, so tests do not
see each other's queues) and then act only through HTTP, Socket.IO and the
browser, as users do.
"""

from __future__ import annotations

import itertools
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from server.auth import create_staff, issue_staff_token
from server.db import Database
from server.migrate import upgrade

from . import factories

_codes = itertools.count(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveCenter:
    """One center in the live server, with credentials for each kind of client."""

    code: str
    kiosk_token: str
    display_token: str
    staff_token: str
    manager_token: str
    counters: dict[str, int]  # label -> id
    staff_username: str
    password: str = factories.PASSWORD


@dataclass
class LiveServer:
    url: str
    database_url: str
    process: subprocess.Popen
    log_path: Path
    db: Database = field(repr=False, default=None)  # type: ignore[assignment]
    # What it was started with, for restart().
    tmp_dir: Path | None = None
    message_queue: str | None = None
    env: dict[str, str] | None = None

    def new_center(self, **overrides) -> LiveCenter:
        """Open all day by default: the server expires waiting tickets after closing time,
        and tests run at any hour."""
        overrides.setdefault("hours", {"open": "00:00", "close": "23:59"})
        n = next(_codes)
        code = f"live-{n}"
        with self.db.write() as s:
            center = factories.make_center(s, code, **overrides)
            staff = create_staff(s, f"staff-{n}", factories.PASSWORD, "staff", code)
            manager = create_staff(s, f"manager-{n}", factories.PASSWORD, "manager", code)
            return LiveCenter(
                code=code,
                kiosk_token=factories.device_token(s, center, "kiosk-1"),
                display_token=factories.device_token(s, center, "hall"),
                staff_token=issue_staff_token(s, staff, hours=2)[0],
                manager_token=issue_staff_token(s, manager, hours=2)[0],
                counters={c.label: c.id for c in center.counters},
                staff_username=staff.username,
            )

    def api(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(
            method, f"{self.url}/api/v1{path}", headers=headers, timeout=10, **kwargs
        )

    def issue(self, center: LiveCenter, service: str, language: str = "az", priority=None):
        response = self.api(
            "POST",
            f"/centers/{center.code}/tickets",
            center.kiosk_token,
            json={"service": service, "language": language, "priority": priority},
        )
        assert response.status_code == 201, response.text
        return response.json()

    def call_next(self, center: LiveCenter, label: str):
        counter_id = center.counters[label]
        response = self.api("POST", f"/counters/{counter_id}/call-next", center.staff_token)
        assert response.status_code in (200, 204), response.text
        return response.json() if response.status_code == 200 else None

    def set_counter_state(self, center: LiveCenter, label: str, state: str) -> None:
        response = self.api(
            "POST",
            f"/counters/{center.counters[label]}/state",
            center.staff_token,
            json={"state": state},
        )
        assert response.status_code == 200, response.text

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def kill(self) -> None:
        """``kill -9`` the whole server (gunicorn's master and its worker: the process
        group), as a crash or the OOM killer would: no socket is closed politely."""
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.db.dispose()

    def restart(self) -> LiveServer:
        """A new server on this one's port, database and settings (after stop or kill)."""
        assert self.process.poll() is not None, "stop or kill it first"
        assert self.tmp_dir is not None
        return start_live_server(
            self.tmp_dir, self.database_url, self.message_queue, self.port, env=self.env
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.db.dispose()


def start_live_server(
    tmp_dir: Path,
    database_url: str | None = None,
    message_queue: str | None = None,
    port: int | None = None,
    env: dict[str, str] | None = None,
) -> LiveServer:
    """``port``: that port instead of a free one, to restart a stopped server where
    its clients will look for it again. ``env``: settings that override the test's
    (e.g. NOVBE_TRUSTED_PROXIES, or NOVBE_MESSAGE_CHANNEL for servers that must share
    one). The server runs in a session of its own, so ``kill()`` reaches its worker."""
    database_url = database_url or f"sqlite:///{tmp_dir / 'live.db'}"
    db = Database(database_url)
    upgrade(db.engine)
    port = port or free_port()
    log_path = tmp_dir / f"server-{port}.log"
    overrides = env
    env = dict(os.environ, NOVBE_DATABASE_URL=database_url, NOVBE_SECRET_KEY="live-test")
    env["NOVBE_VOICE_DIR"] = str(tmp_dir / "voice")  # spoken announcements' cache
    env.setdefault("NOVBE_LEDGER_KEY_FILE", str(tmp_dir / "ledger-ed25519.pem"))
    env.setdefault("NOVBE_VAPID_KEY_FILE", str(tmp_dir / "vapid-p256.pem"))
    env.setdefault("NOVBE_WEBHOOK_PRIVATE_ADDRESSES", "1")  # loopback receivers
    env.setdefault("NOVBE_WEBPUSH_ALLOW_HTTP", "1")  # a loopback push service
    env.setdefault("NOVBE_PUBLIC_CONTACT_LIMITS", "100000 per minute")  # one client: the tests
    # The public page's figures are paced (5 s in production); tests wait for them.
    env.setdefault("NOVBE_PUBLIC_STATS_INTERVAL_S", "1")
    # Today's service level and approval rate likewise (10 s in production).
    env.setdefault("NOVBE_REALTIME_DAY_FIGURES_S", "1")
    # Every test books from 127.0.0.1: the per-address booking limit (booking.py) would
    # count the whole session's bookings against one visitor. Its own test sets it back.
    env.setdefault("NOVBE_APPOINTMENT_BOOKINGS_PER_CLIENT_PER_DAY", "100000")
    # Likewise the request-rate limits of the public booking routes and of failed check-ins
    # (server/api/public_limits.py): one server serves a whole module's tests from one
    # address. tests/test_public_limits.py sets them low where it proves them.
    env.setdefault("NOVBE_PUBLIC_BOOKING_WRITE_LIMITS", "100000 per minute")
    env.setdefault("NOVBE_PUBLIC_BOOKING_READ_LIMITS", "100000 per minute")
    env.setdefault("NOVBE_CHECKIN_FAILURE_LIMITS", "100000 per minute")
    env.setdefault("NOVBE_CHECKIN_BURST_LIMITS", "100000 per second")
    # No background forecasting: a shared server holds hundreds of test centers, each
    # forecast every minute. The forecast's own tests start a server with it on.
    env.setdefault("NOVBE_FORECAST_INTERVAL_S", "0")
    env.pop("NOVBE_MESSAGE_QUEUE", None)
    if message_queue:
        env["NOVBE_MESSAGE_QUEUE"] = message_queue
        env["NOVBE_MESSAGE_CHANNEL"] = f"novbe-test-{os.getpid()}"  # not another run's
    env.update(overrides or {})
    with open(log_path, "ab") as log:  # a restart on this port adds to the same log
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=Path(__file__).resolve().parent.parent,
            start_new_session=True,
        )
    server = LiveServer(
        f"http://127.0.0.1:{port}",
        database_url,
        process,
        log_path,
        db,
        tmp_dir=tmp_dir,
        message_queue=message_queue,
        env=overrides,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            if requests.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except requests.RequestException:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not answer within 30 s:\n{server.log()}")


@contextmanager
def postgres_database(base_url: str) -> Iterator[str]:
    """The URL of a fresh schema in the PostgreSQL database at ``base_url``, for a live
    server of its own (``start_live_server(tmp, database_url=url)`` migrates it); the
    schema is dropped afterwards. Like conftest's, so runs sharing that database never
    see each other's tables."""
    schema = f"novbe_live_{os.getpid()}_{secrets.token_hex(4)}"
    engine = create_engine(base_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()
