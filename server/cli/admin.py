"""``novbe`` commands that look after the data: the schema, centers' catalogs, staff
accounts, device tokens, expired tickets and backups."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import fail, load_app, main


@main.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    from ..extensions import db
    from ..migrate import upgrade

    load_app()
    upgrade(db.engine)
    click.echo(f"database ready: {db.engine.url.render_as_string(hide_password=True)}")


@main.command("import-center")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_center_command(file: Path) -> None:
    """Create or update a center's catalog from a YAML or JSON FILE."""
    from ..errors import NovbeError
    from ..extensions import db
    from ..importer import import_center, load_center_file

    load_app()
    try:
        data = load_center_file(file)
        with db.write() as session:
            summary = import_center(session, data)
    except NovbeError as error:
        fail(error)
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
    from ..auth import create_staff
    from ..errors import NovbeError
    from ..extensions import db

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    load_app()
    try:
        with db.write() as session:
            create_staff(session, username, password, role, center_code)
    except NovbeError as error:
        fail(error)
    click.echo(f"created {role} {username}" + (f" at {center_code}" if center_code else ""))


@main.command("device-token")
@click.argument("center_code", metavar="CENTER")
@click.argument("device_name", metavar="DEVICE_NAME")
def device_token(center_code: str, device_name: str) -> None:
    """Print a new bearer token for a kiosk or display (the old one stops working)."""
    from sqlalchemy import select

    from ..auth import rotate_device_token
    from ..extensions import db
    from ..models import Center, Device

    load_app()
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
    from ..maintenance import run_maintenance_once

    app = load_app()
    with app.app_context():
        count = run_maintenance_once()
    click.echo(f"expired {count} tickets")


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
def backup(file: Path, force: bool) -> None:
    """Copy the embedded SQLite database to FILE while the server runs (checked with
    PRAGMA integrity_check). PostgreSQL: use pg_dump (this says how)."""
    from ..backup import BackupError, backup_database

    app = load_app()
    try:
        result = backup_database(app.config["DATABASE_URL"], file, force=force)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(result.describe())
