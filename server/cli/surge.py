"""``novbe demo-surge``: a scripted surge of visitors for the demo, so a manager can
watch the forecast warn of a breach before it happens (README.md, the quick start's
forecast step; docs/forecast.md).

It is a reception tablet issuing tickets through the server's API, on behalf of
visitors who all want one service, spread over a few minutes: the live figures, the
forecast and the alerts see it exactly as they would see a real crowd at the door.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import click

from ..demo.morning import SURGE_SERVICE
from . import fail, main

DEMO_CENTER = "baku-1"
# Served at counter 4 first (and at counter 7, a reserve desk kept closed) in
# server/demo/center.yaml; rare on the demo's ordinary days, and counter 4 is free when
# the demo starts (server/demo/morning.py): four visitors within a minute are a breach
# the forecast sees coming, and one change prevents it (opening counter 7, or a change
# at counter 1 or 2, idle with pensions), at whatever hour the demo runs
# (tests/test_demo_surge_forecast.py).
DEMO_SERVICE = SURGE_SERVICE


def _call(url: str, body: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")[:300]
        fail(f"{url} answered {err.code}: {detail}")
    except urllib.error.URLError as err:
        fail(f"cannot reach {url}: {err.reason} (is `make demo` running?)")


@main.command("demo-surge")
@click.option("--url", default="http://127.0.0.1:5000", show_default=True, help="The server.")
@click.option("--center", default=DEMO_CENTER, show_default=True)
@click.option("--service", default=DEMO_SERVICE, show_default=True, help="What the crowd wants.")
@click.option("--visitors", default=4, show_default=True, type=click.IntRange(1, 200))
@click.option(
    "--over",
    "over_min",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 120),
    help="Minutes the arrivals are spread over (0: all at once).",
)
@click.option("--username", default="reception", show_default=True)
@click.option("--password", default="novbe-demo", show_default=True)
def demo_surge(
    url: str,
    center: str,
    service: str,
    visitors: int,
    over_min: float,
    username: str,
    password: str,
) -> None:
    """Issue VISITORS tickets for one service over a few minutes, as a reception tablet."""
    base = url.rstrip("/") + "/api/v1"
    token = _call(f"{base}/auth/token", {"username": username, "password": password})["token"]
    gap = over_min * 60 / max(visitors - 1, 1)
    click.echo(f"{visitors} visitors for {service} at {center}, one every {gap:.0f} s")
    for i in range(visitors):
        if i:
            time.sleep(gap)
        ticket = _call(
            f"{base}/centers/{center}/tickets", {"service": service, "language": "az"}, token
        )
        wait = ticket.get("estimated_wait_s")
        shown = f"{round(wait / 60)} min" if isinstance(wait, int) else "unknown"
        click.echo(f"  {ticket.get('number', '?')}: estimated wait {shown}")
