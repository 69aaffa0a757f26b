"""The ``novbe`` command: set up the database, manage users and devices, serve."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import click

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000


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
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve in production mode: gunicorn with one gevent worker."""
    _exec_server(host, port)


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
    click.echo(info.describe(f"http://{host}:{port}"))
    if not no_serve:
        _exec_server(host, port)


def _instance_secret_key() -> str:
    """The key that signs login cookies, kept in the instance folder so that staff stay
    logged in across restarts (set NOVBE_SECRET_KEY to manage it yourself)."""
    from flask import Flask

    path = os.path.join(Flask("server", instance_relative_config=True).instance_path, "secret_key")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    with open(path) as key:
        return key.read().strip()


def _exec_server(host: str, port: int) -> None:
    """Replace this process with gunicorn, so gevent patches a fresh interpreter."""
    env = dict(os.environ)
    env.pop("WEB_CONCURRENCY", None)  # it would override --workers
    env.setdefault("NOVBE_SECRET_KEY", _instance_secret_key())
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "--worker-class",
        "gevent",
        "--workers",
        "1",
        "--worker-connections",
        "2000",
        "--bind",
        f"{host}:{port}",
        "--graceful-timeout",
        "10",
        "--error-logfile",
        "-",
        "--no-control-socket",
        "server.wsgi:app",
    ]
    click.echo(f"serving on http://{host}:{port} (gunicorn, gevent worker)", err=True)
    sys.stdout.flush()
    os.execve(sys.executable, args, env)


if __name__ == "__main__":
    main()
