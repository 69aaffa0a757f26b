"""``novbe`` commands that serve: ``serve`` (production) and ``demo``. Both replace the
command's process with gunicorn (``exec_server``), after making sure of a lasting secret
key and of enough open files for the connections."""

from __future__ import annotations

import errno
import os
import secrets
import socket
import subprocess
import sys

import click

from . import fail, main
from .agents import DEMO_PRINTER_PORT

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
# Files the worker has open besides its connections: the listening socket, the
# database, logs, the Python modules it is reading, the Redis connection.
FILES_BESIDES_CONNECTIONS = 100
# A worker's resident memory, measured (docs/deploy.md, "Sizing for live connections"):
# about this much with no client, plus this much per live connection (display or phone).
WORKER_BASE_MB = 105
CONNECTION_KB = 75


@main.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes on this port (more than 1 needs NOVBE_MESSAGE_QUEUE=redis://...).",
)
def serve(host: str, port: int, workers: int) -> None:
    """Serve in production mode: gunicorn with gevent workers (docs/deploy.md)."""
    queue = os.environ.get("NOVBE_MESSAGE_QUEUE", "")
    if queue and not queue.startswith(("redis://", "rediss://", "unix://")):
        fail("NOVBE_MESSAGE_QUEUE must be a redis:// URL: the server processes share it")
    if workers > 1 and not queue:
        fail(
            f"--workers {workers}: the processes must share live events and state through "
            "Redis; set NOVBE_MESSAGE_QUEUE=redis://host:6379/0 (docs/deploy.md)"
        )
    exec_server(host, port, workers)


@main.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="The port to serve on (make demo PORT=8000).",
)
@click.option(
    "--printer-port",
    default=DEMO_PRINTER_PORT,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="The loopback printer's port on 127.0.0.1 (make demo PRINTER_PORT=9200).",
)
@click.option("--no-serve", is_flag=True, help="Set the demo up, print its logins, and stop.")
def demo(host: str, port: int, printer_port: int, no_serve: bool) -> None:
    """Create the demo center (its own database unless NOVBE_DATABASE_URL is set) and serve it."""
    from .. import create_app
    from ..demo.setup import set_up_demo

    if not no_serve:  # before anything is set up: a busy port is the commonest first snag
        check_port_free(host, port, "the demo server", "--port", "PORT")
        check_port_free(
            "127.0.0.1", printer_port, "the loopback printer", "--printer-port", "PRINTER_PORT"
        )
    # The demo's webhooks go to a receiver on this machine (`novbe webhook-receiver`,
    # docs/webhooks.md); a production server refuses loopback and private addresses.
    os.environ.setdefault("NOVBE_WEBHOOK_PRIVATE_ADDRESSES", "1")
    app = create_app()
    if not os.environ.get("NOVBE_DATABASE_URL"):
        url = "sqlite:///" + os.path.join(app.instance_path, "demo.db")
        os.environ["NOVBE_DATABASE_URL"] = url
        app = create_app({"DATABASE_URL": url})
    with app.app_context():
        info = set_up_demo(printer_port)
    prints = os.path.join(app.instance_path, "demo-prints")
    click.echo(info.describe(f"http://{host}:{port}", prints))
    if not no_serve:
        # The demo kiosk prints through the server to this loopback printer (kiosk-1's
        # settings point at its port); it goes away with the server on Ctrl-C.
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server.cli",
                "loopback-printer",
                "--port",
                str(printer_port),
                "--out",
                prints,
            ],
            stdout=subprocess.DEVNULL,
        )
        exec_server(host, port)


def check_port_free(host: str, port: int, what: str, option: str, variable: str) -> None:
    """Fail with one line naming the port and how to choose another, if it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the server will bind it: a port left in TIME_WAIT by a stopped server is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                why = "is already in use (is another demo running?)"
            else:
                why = f"cannot be used ({exc.strerror})"
            fail(
                f"port {port} for {what} on {host} {why}; choose another with "
                f"`make demo {variable}=<port>` or `novbe demo {option} <port>`"
            )


def exec_server(host: str, port: int, workers: int = 1) -> None:
    """Replace this process with gunicorn, so gevent patches a fresh interpreter."""
    from ..config import config_from_environment

    config = config_from_environment()
    env = dict(os.environ)
    env.pop("WEB_CONCURRENCY", None)  # it would override --workers
    if not env.get("NOVBE_SECRET_KEY"):  # only then: the instance folder may be read-only
        env["NOVBE_SECRET_KEY"] = instance_secret_key()
    # gevent keeps every greenlet's spawning stack for debugging: memory and time on
    # each of the several greenlets a live connection has, for nothing in production.
    env.setdefault("GEVENT_TRACK_GREENLET_TREE", "false")
    connections = connection_budget(config.WORKER_CONNECTIONS)
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "--worker-class",
        "gevent",
        # Each worker is a process of its own with its own connections; the kernel
        # hands new connections to any of them, which works because in multi-process
        # mode the live channel is WebSocket only (no session spans two requests).
        "--workers",
        str(workers),
        # Beyond this the worker stops accepting: it is not what a flood should fill
        # first (the per-client caps are, server/connections/).
        "--worker-connections",
        str(connections),
        # The request line and headers must arrive within this (the body has its own
        # deadline, BODY_TIMEOUT_S); also how long an idle keep-alive connection stays.
        "--keep-alive",
        str(config.HEADERS_TIMEOUT_S),
        "--bind",
        f"{host}:{port}",
        "--graceful-timeout",
        "10",
        "--error-logfile",
        "-",
        "--no-control-socket",
        "server.wsgi:app",
    ]
    click.echo(
        f"serving on http://{host}:{port} (gunicorn, {workers} gevent worker(s), "
        f"up to {connections} connections each, ~{worker_memory_mb(connections)} MB "
        "each when full)",
        err=True,
    )
    check_memory(connections, workers)
    sys.stdout.flush()
    os.execve(sys.executable, args, env)


def instance_secret_key() -> str:
    """The key that signs login cookies, kept in the instance folder so that staff stay
    logged in across restarts (set NOVBE_SECRET_KEY to manage it yourself)."""
    from flask import Flask

    path = os.path.join(Flask("server", instance_relative_config=True).instance_path, "secret_key")
    if not os.path.exists(path):
        # Written whole under another name, then linked into place: of several server
        # processes starting at once, one key wins and none reads a half-written file.
        os.makedirs(os.path.dirname(path), exist_ok=True)
        draft = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process's key is in place: use it
        finally:
            os.unlink(draft)
    with open(path) as key:
        return key.read().strip()


def connection_budget(wanted: int) -> int:
    """Raise the open-file limit (one file per connection) as far as allowed, and say
    how many connections fit: ``wanted`` or, if the hard limit is too low, fewer."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + FILES_BESIDES_CONNECTIONS
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted
    fits = max(soft - FILES_BESIDES_CONNECTIONS, 100)
    click.echo(
        f"warning: the open-file limit is {soft}, too low for {wanted} connections: "
        f"serving at most {fits}. Raise it (ulimit -n, or LimitNOFILE= in the systemd "
        f"unit) to at least {needed}, or set NOVBE_WORKER_CONNECTIONS lower.",
        err=True,
    )
    return fits


def worker_memory_mb(connections: int) -> int:
    """A worker's expected resident memory with ``connections`` live clients."""
    return round(WORKER_BASE_MB + connections * CONNECTION_KB / 1024)


def check_memory(connections: int, workers: int) -> None:
    """Warn if this machine's memory cannot hold the workers with every connection
    they may take (the connection cap is a hard stop, not a target)."""
    try:
        with open("/proc/meminfo") as meminfo:
            fields = dict(line.split(":", 1) for line in meminfo)
        available_mb = int(fields["MemAvailable"].split()[0]) // 1024
    except (OSError, KeyError, ValueError):
        return  # not Linux: nothing to compare with
    needed = worker_memory_mb(connections) * workers
    if needed > available_mb:
        click.echo(
            f"warning: {workers} worker(s) with {connections} connections each would need "
            f"~{needed} MB, more than the {available_mb} MB available: set "
            "NOVBE_WORKER_CONNECTIONS lower (docs/deploy.md, sizing).",
            err=True,
        )
