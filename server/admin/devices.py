"""Kiosks and displays: adding one (with its token, shown once), giving it a new token,
and changing its kind or settings.

A device's ``settings`` hold what its screen is told (``counters``, ``language`` ...:
docs/screens.md) and, for a kiosk only, the address of the printer the server prints
its tickets to (``printer``, as hardware/printer/addresses.py reads it). A change of
settings is announced, so the device's screen follows it (``device.updated``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import auth, limits
from ..models import DEVICE_KINDS, Center, Device
from ..queue.actor import Actor
from ..queue.changes import Change, ChangeKind, announce
from . import validation as check
from .audit import apply_values, record, record_update


def device_state(device: Device) -> dict:
    """As the audit log keeps it: the printer apart from the screen's settings."""
    settings = dict(device.settings or {})
    return {
        "name": device.name,
        "kind": device.kind,
        "printer": settings.pop("printer", None),
        "settings": settings,
        "token_rotated_at": device.token_rotated_at.isoformat()
        if device.token_rotated_at
        else None,
    }


def get_device_at(session: Session, center: Center, name: str) -> Device:
    device = session.scalar(
        select(Device).where(Device.center_id == center.id, Device.name == name)
    )
    return check.found(device, center, f"device '{name}'", "device_not_found")


def create_device(
    session: Session,
    actor: Actor,
    center: Center,
    data: dict,
    now: datetime | None = None,
    *,
    with_token: bool = True,
) -> tuple[Device, str | None]:
    """A new kiosk or display (``kind``, ``name``; ``printer`` and ``settings`` as in
    :func:`update_device`), and its token, shown this once (None without
    ``with_token``: ``novbe device-token`` issues it later)."""
    check.reject_unknown(data, {"kind", "name", "printer", "settings"})
    kind = check.one_of(data.get("kind"), "kind", DEVICE_KINDS)
    name = check.code(data.get("name"), "name")
    if session.scalar(select(Device).where(Device.center_id == center.id, Device.name == name)):
        check.fail("name", f"device '{name}' already exists")
    settings = _settings(kind, data, {})
    device = Device(center_id=center.id, kind=kind, name=name, settings=settings)
    session.add(device)
    token = auth.rotate_device_token(session, device, now) if with_token else None
    session.flush()
    record(session, actor, center.id, "device", name, "create", None, device_state(device), now)
    return device, token


def rotate_device_token(
    session: Session, actor: Actor, center: Center, device: Device, now: datetime | None = None
) -> str:
    """A new token for the device (shown this once); the old one stops working at once."""
    before = device_state(device)["token_rotated_at"]
    token = auth.rotate_device_token(session, device, now)
    session.flush()
    after = device_state(device)["token_rotated_at"]
    record(
        session,
        actor,
        center.id,
        "device",
        device.name,
        "rotate_token",
        {"token_rotated_at": before},
        {"token_rotated_at": after},
        now,
    )
    return token


def update_device(
    session: Session,
    actor: Actor,
    center: Center,
    device: Device,
    data: dict,
    now: datetime | None = None,
    *,
    resync: bool = False,
) -> Device:
    """Change a device's ``kind``, its ``settings`` (the whole mapping) or a kiosk's
    ``printer`` (null or "" removes it: the kiosk's agent prints, or visitors get
    e-tickets). Audited and announced when something changed; ``resync`` announces
    it anyway (the admin page's save: the screen fetches its settings again, which
    also brings it settings changed by an import its server process did not hear)."""
    check.reject_unknown(data, {"kind", "printer", "settings"})
    kind = check.one_of(data["kind"], "kind", DEVICE_KINDS) if "kind" in data else device.kind
    settings = _settings(kind, data, device.settings or {})
    values = {"kind": kind, "settings": settings}  # a new dict: the JSON column sees it
    before, after = apply_values(device, values, device_state)
    changed = record_update(session, actor, center.id, "device", device.name, before, after, now)
    if changed or resync:
        announce(session, Change(ChangeKind.DEVICE, "settings", device.id))  # its screen
    return device


def _settings(kind: str, data: dict, current: dict) -> dict:
    """The device's settings after ``data``'s ``settings`` and ``printer``, checked."""
    settings = dict(current)
    where = "kind"  # what made a display's printer wrong, if nothing else did
    if "settings" in data:
        settings = _screen_settings(data["settings"])
        where = "settings.printer"
        _set_printer(settings, settings.get("printer"), where)
    if "printer" in data:
        where = "printer"
        _set_printer(settings, data["printer"], where)
    if settings.get("printer") and kind != "kiosk":
        check.fail(where, "only a kiosk has a printer")
    return settings


def _screen_settings(value: Any) -> dict:
    if not isinstance(value, dict):
        check.fail("settings", "must be a mapping")
    bad = limits.first_bad_text(value, "settings")
    if bad is not None:
        check.fail(*bad)
    return dict(value)


def _set_printer(settings: dict, value: Any, field: str) -> None:
    if value is None or value == "":
        settings.pop("printer", None)
        return
    from hardware.printer import parse_printer_url  # only when one is set

    if not isinstance(value, str):
        check.fail(field, "must be a printer address such as tcp://10.0.0.5")
    check.text(value, field, limits.MAX_PRINTER_LENGTH)
    try:
        parse_printer_url(value)
    except ValueError as exc:
        check.fail(field, str(exc))
    settings["printer"] = value.strip()
