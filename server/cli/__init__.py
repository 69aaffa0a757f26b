"""The ``novbe`` command: set up the database, manage users and devices, serve.

``main`` is the Click group; each command lives in the module of its area and registers
itself on ``main`` with ``@main.command(...)``:

- ``admin``: the data (init-db, import-center, create-user, device-token,
  expire-tickets, backup);
- ``serving``: the server (serve, demo);
- ``agents``: the programs beside the screens (counter-agent, kiosk-agent,
  loopback-printer);
- ``ledger``: the fairness ledger (verify-ledger, seal-ledger, ledger-key);
- ``notify``: notifications (vapid-keys);
- ``surge``: the demo's scripted surge (demo-surge).

A new command goes into its area's module; a new area is a new module, imported at the
bottom of this file.
"""

from __future__ import annotations

from typing import NoReturn

import click
from flask import Flask


def load_app() -> Flask:
    """The server's app, configured from the environment as it is now."""
    from .. import create_app

    return create_app()


def fail(error) -> NoReturn:
    """End the command with ``error`` (a message, or an error with one): exit status 1."""
    raise click.ClickException(getattr(error, "message", str(error)))


@click.group(help="Növbə: queue management for public-service centers.")
def main() -> None:
    pass


# The commands' modules, imported for their @main.command registrations.
from . import admin, agents, ledger, notify, serving, surge, webhooks  # noqa: E402, F401
