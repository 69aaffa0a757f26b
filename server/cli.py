"""The ``novbe`` command: set up the database, manage users and devices, serve."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import click

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
DEMO_PRINTER_PORT = 9100  # the demo kiosk's printer (server/demo/center.yaml)


def _app():
    from . import create_app

    return create_app()


def _fail(error) -> None:
    raise click.ClickException(getattr(error, "message", str(error)))


@click.group(help="Növbə: queue management for public-service centers.")
def main() -> None:
    pass


@main.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    from .extensions import db
    from .migrate import upgrade

    _app()
    upgrade(db.engine)
    click.echo(f"database ready: {db.engine.url.render_as_string(hide_password=True)}")


@main.command("import-center")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_center_command(file: Path) -> None:
    """Create or update a center's catalog from a YAML or JSON FILE."""
    from .errors import NovbeError
    from .extensions import db
    from .importer import import_center, load_center_file

    _app()
    try:
        data = load_center_file(file)
        with db.write() as session:
            summary = import_center(session, data)
    except NovbeError as error:
        _fail(error)
    verb = "created" if summary.created else "updated"
    click.echo(
        f"{verb} center {summary.center}: {summary.categories} categories, "
        f"{summary.services} services, {summary.counters} counters, {summary.devices} devices"
    )


@main.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(["staff", "manager", "admin"]), default="staff")
@click.option("--center", "center_code", help="Center code (not needed for a network admin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(username: str, role: str, center_code: str | None, password_stdin: bool) -> None:
    """Create a staff, manager or admin account."""
    from .auth import create_staff
    from .errors import NovbeError
    from .extensions import db

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    _app()
    try:
        with db.write() as session:
            create_staff(session, username, password, role, center_code)
    except NovbeError as error:
        _fail(error)
    click.echo(f"created {role} {username}" + (f" at {center_code}" if center_code else ""))


@main.command("device-token")
@click.argument("center_code", metavar="CENTER")
@click.argument("device_name", metavar="DEVICE_NAME")
def device_token(center_code: str, device_name: str) -> None:
    """Print a new bearer token for a kiosk or display (the old one stops working)."""
    from sqlalchemy import select

    from .auth import rotate_device_token
    from .extensions import db
    from .models import Center, Device

    _app()
    with db.write() as session:
        device = session.scalar(
            select(Device)
            .join(Center)
            .where(Center.code == center_code, Device.name == device_name)
        )
        if device is None:
            raise click.ClickException(f"no device '{device_name}' at center '{center_code}'")
        token = rotate_device_token(session, device)
    click.echo(token)


@main.command("expire-tickets")
def expire_tickets() -> None:
    """Expire tickets left waiting after closing (the server also does this every minute)."""
    from .maintenance import run_maintenance_once

    app = _app()
    with app.app_context():
        count = run_maintenance_once()
    click.echo(f"expired {count} tickets")


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
def backup(file: Path, force: bool) -> None:
    """Copy the embedded SQLite database to FILE while the server runs (checked with
    PRAGMA integrity_check). PostgreSQL: use pg_dump (this says how)."""
    from .backup import BackupError, backup_database

    app = _app()
    try:
        result = backup_database(app.config["DATABASE_URL"], file, force=force)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(result.describe())


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
        _fail("NOVBE_MESSAGE_QUEUE must be a redis:// URL: the server processes share it")
    if workers > 1 and not queue:
        _fail(
            f"--workers {workers}: the processes must share live events and state through "
            "Redis; set NOVBE_MESSAGE_QUEUE=redis://host:6379/0 (docs/deploy.md)"
        )
    _exec_server(host, port, workers)


@main.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set the demo up, print its logins, and stop.")
def demo(host: str, port: int, no_serve: bool) -> None:
    """Create the demo center (its own database unless NOVBE_DATABASE_URL is set) and serve it."""
    from . import create_app
    from .demo.setup import set_up_demo

    app = create_app()
    if not os.environ.get("NOVBE_DATABASE_URL"):
        url = "sqlite:///" + os.path.join(app.instance_path, "demo.db")
        os.environ["NOVBE_DATABASE_URL"] = url
        app = create_app({"DATABASE_URL": url})
    with app.app_context():
        info = set_up_demo()
    prints = os.path.join(app.instance_path, "demo-prints")
    click.echo(info.describe(f"http://{host}:{port}", prints))
    if not no_serve:
        # The demo kiosk prints through the server to this loopback printer (the
        # center file's kiosk-1 settings); it goes away with the server on Ctrl-C.
        subprocess.Popen(
            [sys.executable, "-m", "server.cli", "loopback-printer", "--out", prints],
            stdout=subprocess.DEVNULL,
        )
        _exec_server(host, port)


@main.command("counter-agent")
@click.option("--server", required=True, help="The server's address, e.g. http://10.0.0.5:5000.")
@click.option("--counter", "counter_id", required=True, type=int, help="The counter's id.")
@click.option(
    "--token",
    envvar="NOVBE_TOKEN",
    help="A staff API token (POST /api/v1/auth/token); or set NOVBE_TOKEN.",
)
@click.option(
    "--username",
    help="Log in as this staff member instead (password in NOVBE_PASSWORD), "
    "and again whenever the token expires.",
)
@click.option("--led", "led_url", help="The LED display, e.g. serial:///dev/ttyUSB1?baudrate=9600.")
@click.option(
    "--button",
    "button_url",
    help="The call button: serial:///dev/ttyUSB2 or keyboard:///dev/input/by-id/...",
)
@click.option("--verbose", is_flag=True, help="Log the Socket.IO traffic too.")
def counter_agent(server, counter_id, token, username, led_url, button_url, verbose) -> None:
    """Drive a counter's LED number display and call button (docs/hardware.md)."""
    from hardware.counter_agent import build_agent, configure_logging, run_counter_agent

    password = os.environ.get("NOVBE_PASSWORD") if username else None
    if username and not password:
        raise click.ClickException("--username needs the password in NOVBE_PASSWORD")
    if not token and not username:
        raise click.ClickException("give --token (or NOVBE_TOKEN), or --username")
    try:
        agent = build_agent(
            server,
            counter_id,
            token=None if username else token,
            username=username,
            password=password,
            led_url=led_url,
            button_url=button_url,
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    configure_logging(verbose)
    run_counter_agent(agent)


@main.command("kiosk-agent")
@click.option("--server", required=True, help="The server's address, e.g. http://10.0.0.5:5000.")
@click.option(
    "--token",
    envvar="NOVBE_KIOSK_TOKEN",
    required=True,
    help="The kiosk's device token (novbe device-token); or set NOVBE_KIOSK_TOKEN.",
)
@click.option(
    "--printer",
    "printer_url",
    required=True,
    help="The ticket printer: tcp://HOST[:9100], usb://VID:PID, serial:///dev/ttyUSB0, "
    "file:///dev/usb/lp0, cups://QUEUE or dummy:// (docs/hardware.md).",
)
@click.option(
    "--state-dir",
    default="~/.novbe-kiosk-agent",
    show_default=True,
    help="Where the agent keeps its journal of printed tickets.",
)
@click.option(
    "--retry-max", default=30.0, show_default=True, help="Longest wait between reconnects (s)."
)
@click.option(
    "--status-interval", default=10.0, show_default=True, help="How often to ask the printer (s)."
)
@click.option("--verbose", is_flag=True, help="Log the Socket.IO and printer traffic too.")
def kiosk_agent(server, token, printer_url, state_dir, retry_max, status_interval, verbose):
    """Print a kiosk's tickets and report its printer's health (docs/hardware.md)."""
    import logging

    from hardware.kiosk_agent import main as run_kiosk_agent

    # The agent's own lines at INFO; python-escpos and python-socketio talk on every
    # connection, so only their warnings unless --verbose.
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("novbe").setLevel(logging.DEBUG if verbose else logging.INFO)
    code = run_kiosk_agent(
        server,
        token,
        printer_url,
        state_dir,
        retry_max=retry_max,
        status_interval=status_interval,
    )
    sys.exit(code)


@main.command("loopback-printer")
@click.option("--port", default=DEMO_PRINTER_PORT, show_default=True, type=int)
@click.option("--out", "out_dir", default="printed-tickets", show_default=True)
def loopback_printer(port: int, out_dir: str) -> None:
    """The loopback printer: a stand-in ESC/POS network printer on 127.0.0.1 that writes
    each ticket it receives to OUT as text and PNG. Create OUT/PAPER_OUT to make it report
    no paper."""
    from hardware.loopback_printer import serve

    serve(port, out_dir)


def _instance_secret_key() -> str:
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


# Files the worker has open besides its connections: the listening socket, the
# database, logs, the Python modules it is reading, the Redis connection.
FILES_BESIDES_CONNECTIONS = 100


def _connection_budget(wanted: int) -> int:
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


def _exec_server(host: str, port: int, workers: int = 1) -> None:
    """Replace this process with gunicorn, so gevent patches a fresh interpreter."""
    from .config import Config

    env = dict(os.environ)
    env.pop("WEB_CONCURRENCY", None)  # it would override --workers
    if not env.get("NOVBE_SECRET_KEY"):  # only then: the instance folder may be read-only
        env["NOVBE_SECRET_KEY"] = _instance_secret_key()
    # gevent keeps every greenlet's spawning stack for debugging: memory and time on
    # each of the several greenlets a live connection has, for nothing in production.
    env.setdefault("GEVENT_TRACK_GREENLET_TREE", "false")
    connections = _connection_budget(Config.WORKER_CONNECTIONS)
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
        str(Config.HEADERS_TIMEOUT_S),
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
        f"up to {connections} connections each)",
        err=True,
    )
    sys.stdout.flush()
    os.execve(sys.executable, args, env)


if __name__ == "__main__":
    main()
