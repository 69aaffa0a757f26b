"""``novbe demo``: a realistic center with staff logins, device tokens, past days
(server/demo/history.py) and a morning (server/demo/morning.py), open whenever the
demo runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..auth import create_staff, rotate_device_token
from ..extensions import db
from ..importer import import_center, load_center_file
from ..migrate import upgrade
from ..models import Center, Device, StaffUser, utcnow
from .history import PAST_DAYS, seed_history
from .morning import seed_morning

CENTER_FILE = Path(__file__).with_name("center.yaml")
DEMO_PASSWORD = "novbe-demo"
DEMO_PRINTER_PORT = 9100  # kiosk-1's printer in center.yaml, the loopback printer's default
RECEPTION_USER = "reception"
# The demo's lunch break (a bookable service's slots skip it), and its closed day:
# BREAK long, starting BREAK_AFTER after the hour the demo starts; the day CLOSED_IN
# days ahead (center.yaml's breaks and closed_days are kept where they fit).
BREAK = timedelta(minutes=60)
BREAK_AFTER = timedelta(hours=2)
CLOSED_IN = timedelta(days=2)
# The demo center is open from before its morning until well after the demo starts.
OPEN_BEFORE = timedelta(hours=3)
OPEN_AFTER = timedelta(hours=8)


@dataclass
class DemoInfo:
    center: str
    printer_port: int = DEMO_PRINTER_PORT
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # user, role, counter
    devices: list[tuple[str, str, str]] = field(default_factory=list)  # kind, name, token

    def describe(self, base_url: str, prints: str = "") -> str:
        lines = [f"Növbə demo: center '{self.center}' at {base_url}", ""]
        lines.append(f"Staff logins (password for all: {DEMO_PASSWORD}):")
        for user, role, counter in self.logins:
            where = f"counter {counter}" if counter else "whole center"
            if role == "reception":
                where = "the door's tablet: issue, check in, how long"
            lines.append(f"  {user:<10} {role:<9} {where}")
        lines += ["", "Screens (open a device's link once; it keeps its token):"]
        for kind, name, token in self.devices:
            lines.append(f"  {kind:<8} {base_url}/{kind}/{name}#token={token}")
        counters = [user for user, role, _ in self.logins if role == "staff"]
        if counters:
            span = f"{counters[0]} .. {counters[-1]}" if len(counters) > 1 else counters[0]
            lines.append(f"  counter  {base_url}/counter  (log in as {span})")
        lines.append(f"  manager  {base_url}/manage  (log in as manager; admin at /manage/admin)")
        lines.append(f"  reception {base_url}/reception  (log in as {RECEPTION_USER})")
        lines.append(f"  public   {base_url}/public/{self.center}  (no login)")
        lines.append(f"  booking  {base_url}/book/{self.center}  (no login)")
        if prints:
            lines += [
                "",
                "Printer: kiosk-1's tickets go to a loopback printer on "
                f"127.0.0.1:{self.printer_port}, which",
                f"         writes each to {prints}/ as a PNG and a transcript;",
                f"         touch {prints}/PAPER_OUT to run it out of paper.",
            ]
        lines += [
            "",
            "Try it: at the kiosk take a ticket for Pensions > New pension; at the counter",
            "        log in as counter1, pick counter 1 and call next: yours is called first.",
            "Notify: on a ticket's phone page turn on notifications (Web Push: the browser",
            "        needs its push service). Webhooks: add http://127.0.0.1:9000/ at",
            "        /manage/admin > Notifications, then run",
            "        novbe webhook-receiver --port 9000 --secret <the secret it showed>",
            "Forecast: with the dashboard open, a crowd for Child benefit comes with",
            f"        novbe demo-surge --url {base_url}",
            "        and within a minute the dashboard warns, with a checked change to apply.",
            "",
            f"API:          {base_url}/api/v1/openapi.json",
            f"Queue:        {base_url}/api/v1/centers/{self.center}/queue",
            "Take a token: curl -X POST -H 'Content-Type: application/json' "
            f'-d \'{{"username": "counter1", "password": "{DEMO_PASSWORD}"}}\' '
            f"{base_url}/api/v1/auth/token",
        ]
        return "\n".join(lines)


def set_up_demo(
    printer_port: int = DEMO_PRINTER_PORT,
    now: datetime | None = None,
    past_days: tuple[int, ...] = PAST_DAYS,
) -> DemoInfo:
    """Idempotent: re-running updates the catalog, keeps users, rotates device tokens.

    ``printer_port``: where the loopback printer listens, for kiosk-1's printer address.
    ``now``: the time to set the demo up for (tests try several hours of the day).
    ``past_days``: the days before today to play (history.py; tests of the morning
    alone pass none: each past day costs a second)."""
    now = now or utcnow()
    upgrade(db.engine)
    with db.write() as session:
        summary = import_center(session, load_center_file(CENTER_FILE))
        center = session.scalar(select(Center).where(Center.code == summary.center))
        _open_now(center, now)
        info = DemoInfo(center=center.code, printer_port=printer_port)
        _calendar_now(center, now)
        users = [("manager", "manager", ""), (RECEPTION_USER, "reception", "")] + [
            (f"counter{c.label}", "staff", c.label) for c in center.counters
        ]
        for username, role, counter in users:
            if session.scalar(select(StaffUser).where(StaffUser.username == username)) is None:
                create_staff(session, username, DEMO_PASSWORD, role, center.code)
            info.logins.append((username, role, counter))
        devices = session.scalars(
            select(Device).where(Device.center_id == center.id).order_by(Device.id)
        ).all()
        for device in devices:
            _point_at_printer(device, printer_port)
            info.devices.append((device.kind, device.name, rotate_device_token(session, device)))
        seed_history(session, center, list(devices), now, past_days)
        seed_morning(session, center, list(devices), now)
    return info


def _open_now(center: Center, now: datetime) -> None:
    """Opening hours around now in the center's zone, so that the demo works at any hour:
    with center.yaml's 09:00 to 18:00, a ticket taken in the evening in Baku would be
    expired by the server's end-of-day upkeep within a minute."""
    local = now.astimezone(ZoneInfo(center.timezone))
    midnight = datetime.combine(local.date(), time(0), local.tzinfo)
    opens = max(local - OPEN_BEFORE, midnight)
    closes = min(local + OPEN_AFTER, midnight + timedelta(hours=23, minutes=59))
    center.opens_at = time(opens.hour)
    center.closes_at = time(closes.hour, closes.minute if closes.hour == 23 else 0)
    if center.closes_at <= local.time():
        center.closes_at = time(23, 59)


def _calendar_now(center: Center, now: datetime) -> None:
    """A lunch break and a closed day the demo shows whenever it runs: center.yaml's
    break where it still lies ahead within today's hours (as _open_now set them), else
    one BREAK_AFTER the current hour; and the day CLOSED_IN ahead closed."""
    local = now.astimezone(ZoneInfo(center.timezone))
    opens = datetime.combine(local.date(), center.opens_at, local.tzinfo)
    closes = datetime.combine(local.date(), center.closes_at, local.tzinfo)
    ahead = [
        b
        for b in center.breaks or []
        if opens.time() <= time.fromisoformat(b["from"])
        and time.fromisoformat(b["to"]) <= closes.time()
        and time.fromisoformat(b["to"]) > local.time()
    ]
    if not ahead:
        start = local.replace(minute=0, second=0, microsecond=0) + BREAK_AFTER
        end = start + BREAK
        if opens < start and end <= closes and end.date() == local.date():
            ahead = [{"from": f"{start:%H:%M}", "to": f"{end:%H:%M}"}]
    center.breaks = ahead
    closed = (local + CLOSED_IN).date().isoformat()
    days = [d for d in center.closed_days or [] if d >= local.date().isoformat()]
    center.closed_days = sorted({*days, closed})


def _point_at_printer(device: Device, port: int) -> None:
    """Point the demo kiosk's printer address (the loopback printer on 127.0.0.1) at ``port``."""
    printer = (device.settings or {}).get("printer", "")
    loopback = f"tcp://127.0.0.1:{DEMO_PRINTER_PORT}"
    if device.kind == "kiosk" and printer.startswith(loopback):
        settings = dict(device.settings)
        settings["printer"] = printer.replace(loopback, f"tcp://127.0.0.1:{port}", 1)
        device.settings = settings
