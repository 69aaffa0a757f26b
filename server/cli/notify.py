"""Notifications: ``novbe vapid-keys`` (the Web Push key; docs/notifications.md)."""

from __future__ import annotations

import click

from . import fail, load_app, main


@main.command("vapid-keys")
def vapid_keys() -> None:
    """Print the Web Push (VAPID) public key, making the key file first if it is missing."""
    from ..notify import vapid

    app = load_app()
    path = vapid.key_path(app)
    try:
        key = vapid.load_or_create(path)
    except (OSError, vapid.VapidKeyError) as exc:
        fail(str(exc))
    click.echo(f"key file:   {path}")
    click.echo(f"public key: {vapid.b64url(vapid.public_key_raw(key))}")
