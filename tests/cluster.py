"""A multi-process installation for end-to-end tests, as docs/deploy.md builds one:
N ``novbe serve`` processes on one PostgreSQL schema, sharing a Redis message queue,
behind Debian's nginx configured FROM deploy/nginx/novbe.conf (its upstream servers
and listen line replaced, TLS dropped), so the tests prove the shipped file.

nginx runs unprivileged: its own prefix directory, ``daemon off``, a free loopback
port, every temporary file and log under the prefix.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import socketio

from server.db import Database

from .live import LiveCenter, LiveServer, free_port, start_live_server

ROOT = Path(__file__).resolve().parent.parent
SITE_CONFIG = ROOT / "deploy" / "nginx" / "novbe.conf"
NGINX = os.environ.get("NOVBE_NGINX", "/usr/sbin/nginx")
REDIS_URL = os.environ.get("NOVBE_TEST_REDIS_URL", "redis://127.0.0.1:6379/3")
NAMESPACE = "/live"


# --- nginx -----------------------------------------------------------------------------


def _top_level_items(text: str) -> list[str]:
    """The top-level statements of an nginx file (comments removed): each ends with a
    ``;`` or with its block's closing ``}``."""
    lines = (line.split("#", 1)[0].rstrip() for line in text.splitlines())
    text = "\n".join(line for line in lines if line)
    items: list[str] = []
    depth, start = 0, 0
    for i, char in enumerate(text):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                items.append(text[start : i + 1].strip())
                start = i + 1
        elif char == ";" and depth == 0:
            items.append(text[start : i + 1].strip())
            start = i + 1
    assert depth == 0 and not text[start:].strip(), "unbalanced braces in the site file"
    return [item for item in items if item]


def site_config(source: str, listen_port: int, upstream_ports: list[int]) -> str:
    """deploy/nginx/novbe.conf for a test: the upstream's servers on ``upstream_ports``
    (with the shipped parameters), the HTTPS server listening on plain HTTP at
    127.0.0.1:``listen_port``, the port-80 redirect and the TLS settings dropped.
    Fails if the shipped file no longer has the shape this expects."""
    out: list[str] = []
    upstreams = servers = 0
    for item in _top_level_items(source):
        if item.startswith("server") and "return 301 https" in item:
            continue  # the redirect to HTTPS
        if item.startswith("upstream"):
            upstreams += 1
            lines = item.splitlines()
            shipped = [line for line in lines if re.match(r"\s*server\s", line)]
            assert shipped, "the upstream lists no server"
            params = re.match(r"\s*server\s+\S+(.*);", shipped[0]).group(1)  # type: ignore[union-attr]
            at = lines.index(shipped[0])
            ours = [f"    server 127.0.0.1:{port}{params};" for port in upstream_ports]
            kept = [line for line in lines if line not in shipped]
            item = "\n".join(kept[:at] + ours + kept[at:])
        elif item.startswith("server"):
            servers += 1
            lines = item.splitlines()
            listens = [line for line in lines if re.match(r"\s*listen\s.*\b443\b.*\bssl\b", line)]
            assert listens, "the HTTPS server has no `listen 443 ssl` line"
            at = lines.index(listens[0])
            kept = [line for line in lines if line not in listens]
            kept.insert(at, f"    listen 127.0.0.1:{listen_port};")
            # TLS settings go, and the log paths: the test's nginx logs under its prefix.
            dropped = re.compile(r"\s*(ssl_|access_log\s|error_log\s)")
            item = "\n".join(line for line in kept if not dropped.match(line))
        out.append(item)
    assert (upstreams, servers) == (1, 1), f"{upstreams} upstreams, {servers} servers"
    return "\n\n".join(out) + "\n"


MAIN_CONFIG = """\
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;
{user}
events {{
    worker_connections 4096;
}}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/client_body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {prefix}/novbe.conf;
}}
"""


@dataclass
class Nginx:
    prefix: Path
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        logs = ["nginx.out", "error.log"]
        return "\n".join(
            (self.prefix / name).read_text(errors="replace")
            for name in logs
            if (self.prefix / name).exists()
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def nginx_command(prefix: Path, site: str, *args: str) -> list[str]:
    """nginx run unprivileged from ``prefix``, with ``site`` (a site file's text)
    inside its ``http {}``: the command line, with its files written."""
    if not os.access(NGINX, os.X_OK):
        raise RuntimeError(f"{NGINX} is missing: run `make nginx` (apt-get install nginx)")
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "tmp").mkdir(exist_ok=True)
    (prefix / "novbe.conf").write_text(site)
    # As root, nginx's workers would become "nobody" and could not write the test's
    # temporary directories: keep them as the user running the tests.
    user = "user root;" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(MAIN_CONFIG.format(prefix=prefix, user=user))
    return [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", "stderr", *args]


def start_nginx(prefix: Path, upstream_ports: list[int]) -> Nginx:
    port = free_port()
    command = nginx_command(prefix, site_config(SITE_CONFIG.read_text(), port, upstream_ports))
    with open(prefix / "nginx.out", "wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    nginx = Nginx(prefix, port, process)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}:\n{nginx.log()}")
        try:
            if requests.get(f"{nginx.url}/healthz", timeout=2).status_code == 200:
                return nginx
        except requests.RequestException:
            pass
        time.sleep(0.1)
    nginx.stop()
    raise RuntimeError(f"nginx did not answer within 15 s:\n{nginx.log()}")


# --- the installation ------------------------------------------------------------------


@dataclass
class Endpoint:
    """Somewhere to send API calls: nginx or one process, with LiveServer's helpers."""

    url: str
    api = LiveServer.api
    issue = LiveServer.issue
    call_next = LiveServer.call_next


@dataclass
class Cluster:
    servers: list[LiveServer]
    nginx: Nginx
    database_url: str
    db: Database = field(repr=False)

    @property
    def front(self) -> Endpoint:
        """Through nginx, as screens reach the installation."""
        return Endpoint(self.nginx.url)

    def new_center(self, **overrides: Any) -> LiveCenter:
        return self.servers[0].new_center(**overrides)

    def logs(self) -> str:
        parts = [f"--- {s.url}\n{s.log()}" for s in self.servers]
        return "\n".join(parts + [f"--- nginx\n{self.nginx.log()}"])

    def stop(self) -> None:
        self.nginx.stop()
        for server in self.servers:
            server.stop()
        self.db.dispose()


def start_cluster(tmp_dir: Path, database_url: str, processes: int = 3) -> Cluster:
    """``processes`` servers on ``database_url`` (a PostgreSQL schema: see
    tests/live.py's postgres_database) with the Redis message queue, behind nginx."""
    env = {
        # Their own channel (and key prefix): other test runs share this Redis.
        "NOVBE_MESSAGE_CHANNEL": f"novbe-cluster-{os.getpid()}-{secrets.token_hex(3)}",
        "NOVBE_TRUSTED_PROXIES": "1",  # nginx is one hop in front
    }
    servers: list[LiveServer] = []
    try:
        for i in range(processes):
            home = tmp_dir / f"p{i + 1}"
            home.mkdir(parents=True)
            servers.append(start_live_server(home, database_url, REDIS_URL, env=env))
        nginx = start_nginx(tmp_dir / "nginx", [s.port for s in servers])
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return Cluster(servers, nginx, database_url, Database(database_url))


def wait_ready(url: str, timeout: float = 30) -> dict:
    """GET /readyz until it says ready; its body."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            response = requests.get(f"{url}/readyz", timeout=2)
            last = (response.status_code, response.text)
            if response.status_code == 200:
                return response.json()
        except requests.RequestException as error:
            last = error
        time.sleep(0.2)
    raise AssertionError(f"{url}/readyz not ready within {timeout} s: {last}")


# --- live clients ----------------------------------------------------------------------


class LiveClient:
    """A python-socketio Client on /live over WebSocket only (as every client is in a
    multi-process installation), reconnecting on its own, keeping every event with the
    time it arrived so a test can wait for one without losing another."""

    def __init__(self, url: str, auth: dict, name: str = "") -> None:
        self.name = name or str(auth)
        self.url = url
        self.events: list[tuple[float, str, Any]] = []
        self.connects = 0
        self.disconnects = 0
        self._changed = threading.Condition()
        self.sio = socketio.Client(reconnection_delay=0.5, reconnection_delay_max=2)
        self.sio.on("connect", self._on_connect, namespace=NAMESPACE)
        self.sio.on("disconnect", self._on_disconnect, namespace=NAMESPACE)
        self.sio.on("*", self._on_event, namespace=NAMESPACE)
        self.sio.connect(
            url, namespaces=[NAMESPACE], auth=auth, transports=["websocket"], wait_timeout=10
        )

    def _record(self, name: str, data: Any) -> None:
        with self._changed:
            self.events.append((time.monotonic(), name, data))
            self._changed.notify_all()

    def _on_connect(self) -> None:
        self.connects += 1
        self._record("(connect)", None)

    def _on_disconnect(self, reason: Any = None) -> None:
        self.disconnects += 1
        self._record("(disconnect)", reason)

    def _on_event(self, event: str, data: Any = None) -> None:
        self._record(event, data)

    def mark(self) -> int:
        """A position in the events: ``wait(..., after=mark)`` looks only past it."""
        with self._changed:
            return len(self.events)

    def named(self, event: str, where=lambda data: True, after: int = 0) -> list:
        with self._changed:
            return [(t, d) for t, e, d in self.events[after:] if e == event and where(d)]

    def wait(self, event: str, where=lambda data: True, after: int = 0, timeout: float = 10):
        """The first ``event`` (past ``after``) whose data satisfies ``where``:
        ``(arrival time, data)``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for t, name, data in self.events[after:]:
                    if name == event and where(data):
                        return t, data
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(name, data) for _, name, data in self.events[after:]][-20:]
                    raise AssertionError(
                        f"{self.name}: no {event} within {timeout} s; last seen: {seen}"
                    )
                self._changed.wait(left)

    def close(self) -> None:
        self.sio.disconnect()
