"""``novbe`` commands that run the programs beside the screens: a counter's LED display
and call button, a kiosk's ticket printer, and the loopback printer (a stand-in for one)."""

from __future__ import annotations

import os
import sys

import click

from . import main

DEMO_PRINTER_PORT = 9100  # the demo kiosk's printer (server/demo/center.yaml)


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
    each ticket it receives to OUT as a PNG and a transcript. Create OUT/PAPER_OUT to make
    it report no paper."""
    from hardware.loopback_printer import serve

    serve(port, out_dir)
