"""``novbe demo``: a realistic center with staff logins, device tokens and a morning queue."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from ..auth import create_staff, device_actor, rotate_device_token
from ..extensions import db
from ..importer import import_center, load_center_file
from ..migrate import upgrade
from ..models import Center, Device, StaffUser, Ticket, utcnow
from ..queue import business_day, issue_ticket

CENTER_FILE = Path(__file__).with_name("center.yaml")
DEMO_PASSWORD = "novbe-demo"
SEED_TICKETS = 24


@dataclass
class DemoInfo:
    center: str
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # user, role, counter
    devices: list[tuple[str, str, str]] = field(default_factory=list)  # kind, name, token

    def describe(self, base_url: str, prints: str = "") -> str:
        lines = [f"Növbə demo: center '{self.center}' at {base_url}", ""]
        lines.append(f"Staff logins (password for all: {DEMO_PASSWORD}):")
        for user, role, counter in self.logins:
            where = f"counter {counter}" if counter else "whole center"
            lines.append(f"  {user:<10} {role:<8} {where}")
        lines += ["", "Screens (open a device's link once; it keeps its token):"]
        for kind, name, token in self.devices:
            lines.append(f"  {kind:<8} {base_url}/{kind}/{name}#token={token}")
        lines.append(f"  counter  {base_url}/counter  (log in as counter1 .. counter6)")
        lines.append(f"  manager  {base_url}/manage  (log in as manager; admin at /manage/admin)")
        lines.append(f"  public   {base_url}/public/{self.center}  (no login)")
        if prints:
            lines += [
                "",
                "Printer: kiosk-1's tickets go to a loopback printer that writes each one",
                f"         to {prints}/ (text and PNG);",
                f"         touch {prints}/PAPER_OUT to run it out of paper.",
            ]
        lines += [
            "",
            f"API:          {base_url}/api/v1/openapi.json",
            f"Queue:        {base_url}/api/v1/centers/{self.center}/queue",
            "Take a token: curl -X POST -H 'Content-Type: application/json' "
            f'-d \'{{"username": "counter1", "password": "{DEMO_PASSWORD}"}}\' '
            f"{base_url}/api/v1/auth/token",
        ]
        return "\n".join(lines)


def set_up_demo() -> DemoInfo:
    """Idempotent: re-running updates the catalog, keeps users, rotates device tokens."""
    upgrade(db.engine)
    with db.write() as session:
        summary = import_center(session, load_center_file(CENTER_FILE))
        center = session.scalar(select(Center).where(Center.code == summary.center))
        info = DemoInfo(center=center.code)
        users = [("manager", "manager", "")] + [
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
            info.devices.append((device.kind, device.name, rotate_device_token(session, device)))
        _seed_queue(session, center, devices)
    return info


def _seed_queue(session, center: Center, devices: list[Device]) -> None:
    """A morning's queue, so calling next shows something; only once a day."""
    now = utcnow()
    today = business_day(center, now)
    issued_today = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.center_id == center.id, Ticket.business_day == today)
    )
    kiosk = next((d for d in devices if d.kind == "kiosk"), None)
    if issued_today or kiosk is None:
        return
    rng = random.Random(today.toordinal())
    services = [s for s in center.services if s.active]
    actor = device_actor(kiosk)
    for i in range(SEED_TICKETS):
        service = rng.choice(services)
        priority = rng.choice(center.priority_classes) if rng.random() < 0.15 else None
        language = rng.choices(["az", "ru", "en"], weights=[7, 2, 1])[0]
        issued = now - timedelta(minutes=(SEED_TICKETS - i) * 2)
        issue_ticket(session, center.code, service.code, language, priority, actor, now=issued)
