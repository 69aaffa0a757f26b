"""Importing a center from a YAML or JSON file (``novbe import-center``).

First the file's shape is checked: one mapping holding lists of mappings, no code,
label or name twice, counters serving only services of the file. Then the center's
settings, each category, service, counter and device are created or changed through
the admin functions (server/admin/), as the admin page would: the same rules, an audit
entry for each change (by the system actor ``import-center``), and the same
announcements, so screens follow (a display gets its new settings at once). A
re-import that changes nothing records nothing. Every refusal names the line or the
field as the file has it (``categories[0].services[1].prefix: ...``).

The import runs in the caller's transaction: a bad file changes nothing. Re-importing
updates the catalog and never touches tickets. Services and counters missing from the
file are kept but deactivated / emptied, because tickets refer to them; so their
prefixes stay taken (a ticket number names one service).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import admin, limits
from .admin import validation as check
from .errors import InvalidInput
from .models import Center, Counter, Device, Service, ServiceCategory, utcnow
from .queue.actor import Actor

IMPORTER = Actor(kind="system", name="import-center")
# What a file that leaves a field out means (the columns' defaults).
CENTER_DEFAULTS = {
    "timezone": "Asia/Baku",
    "hours": {"open": "09:00", "close": "18:00"},
    "priority_classes": [],
    "call_policy": "strict",
    "priority_ratio": 2,
    "recalls_before_no_show": 1,
    "breaks": [],
    "closed_weekdays": [],
    "closed_days": [],
    "hall_capacity": None,
    "remote_joining": False,
    "absent_hold_min": 15,
}
SERVICE_DEFAULTS = {
    "target_wait_min": 15,
    "default_service_min": 5,
    "daily_quota": None,
    "active": True,
    "bookable": False,
    "slot_min": 15,
    "bookings_per_slot": 1,
    "booking_days_ahead": 14,
    "checkin_early_min": 30,
    "late_grace_min": 10,
    "after_grace": "walk_in",
    "remote_joining": False,
    "remote_daily_cap": None,
}


class CenterFileError(InvalidInput):
    code = "invalid_center_file"


@dataclass
class ImportSummary:
    center: str
    created: bool
    categories: int
    services: int
    counters: int
    devices: int


def load_center_file(path: str | Path) -> dict[str, Any]:
    """Parse YAML or JSON; syntax errors name the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CenterFileError(f"{path}: cannot read file: {exc.strerror}") from exc
    try:
        data = limits.loads_json(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise CenterFileError(f"{path}: line {exc.lineno}: {exc.msg}") from exc
    except (limits.JSONTooDeep, RecursionError):
        raise CenterFileError(
            f"{path}: nested more than {limits.MAX_JSON_DEPTH} levels deep"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "parse error"
        problem = getattr(exc, "problem", None) or str(exc)
        raise CenterFileError(f"{path}: {where}: {problem}") from exc
    except ValueError as exc:  # an unquoted date YAML cannot make, e.g. 2026-13-01
        raise CenterFileError(f"{path}: not a date: {exc}") from exc
    if not isinstance(data, dict):
        raise CenterFileError(f"{path}: the file must hold one center (a mapping)")
    return data


def import_center(
    session: Session,
    data: dict[str, Any],
    *,
    actor: Actor = IMPORTER,
    now: datetime | None = None,
) -> ImportSummary:
    """Check ``data``'s shape, then create or update the center in ``session``."""
    now = now or utcnow()
    with _in_file(""):
        _check_shape(data)
    center = session.scalar(select(Center).where(Center.code == data["code"]))
    created = center is None
    hours = data.get("hours", CENTER_DEFAULTS["hours"])
    settings = {
        **{key: data.get(key, default) for key, default in CENTER_DEFAULTS.items()},
        "name": data.get("name"),
        "hours": {"open": hours.get("open"), "close": hours.get("close")},
    }
    with _in_file(""):
        if center is None:
            center = admin.create_center(session, actor, {"code": data["code"], **settings}, now)
        else:
            admin.update_center(session, actor, center, settings, now)
    if data.get("notifications") is not None:
        _import_notifications(session, actor, center, data["notifications"], now)
    services = _import_catalog(session, actor, center, data["categories"], now)
    counters = data.get("counters") or []
    _import_counters(session, actor, center, counters, now)
    devices = data.get("devices") or []
    _import_devices(session, actor, center, devices, now)
    return ImportSummary(
        center=center.code,
        created=created,
        categories=len(data["categories"]),
        services=services,
        counters=len(counters),
        devices=len(devices),
    )


# --- applying the file through the admin functions ----------------------------------------


def _import_catalog(
    session: Session, actor: Actor, center: Center, categories: list, now: datetime
) -> int:
    """Categories, then their services; services the file leaves out are deactivated.
    Returns how many services the file lists."""
    existing = {
        c.code: c
        for c in session.scalars(
            select(ServiceCategory).where(ServiceCategory.center_id == center.id)
        )
    }
    services = {
        s.code: s for s in session.scalars(select(Service).where(Service.center_id == center.id))
    }
    pending = []  # (where in the file, service code, values)
    for i, spec in enumerate(categories):
        where = f"categories[{i}]"
        values = {"name": spec.get("name"), "position": i}
        with _in_file(where):
            category = existing.get(spec["code"])
            if category is None:
                admin.create_category(session, actor, center, {"code": spec["code"], **values}, now)
            else:
                admin.update_category(session, actor, center, category, values, now)
        for j, svc in enumerate(spec["services"]):
            values = {
                **{key: svc.get(key, default) for key, default in SERVICE_DEFAULTS.items()},
                "category": spec["code"],
                "prefix": svc.get("prefix"),
                "name": svc.get("name"),
                "position": i * 1000 + j,
            }
            pending.append((f"{where}.services[{j}]", svc["code"], values))
    listed = {code for _, code, _ in pending}

    # A prefix may pass from one service to another: the one giving it up goes first.
    while pending:
        holders = {service.prefix: code for code, service in services.items()}
        # Nothing free: a swap, or a prefix kept by a service left out. Refused, naming
        # the service that holds it.
        ready = [item for item in pending if _prefix_free(item, holders)] or pending[:1]
        for item in ready:
            where, code, values = item
            with _in_file(where):
                if code in services:
                    admin.update_service(session, actor, center, services[code], values, now)
                else:
                    new = {"code": code, **values}
                    services[code] = admin.create_service(session, actor, center, new, now)
            pending.remove(item)
    for code, service in services.items():
        if code not in listed and service.active:
            admin.update_service(session, actor, center, service, {"active": False}, now)
    return len(listed)


def _prefix_free(item: tuple[str, str, dict], holders: dict[str, str]) -> bool:
    _, code, values = item
    prefix = values["prefix"]
    return not isinstance(prefix, str) or holders.get(prefix, code) == code


def _import_counters(
    session: Session, actor: Actor, center: Center, counters: list, now: datetime
) -> None:
    """Counters the file leaves out are kept (for their history) and serve nothing."""
    existing = {
        c.label: c for c in session.scalars(select(Counter).where(Counter.center_id == center.id))
    }
    listed = set()
    for i, spec in enumerate(counters):
        with _in_file(f"counters[{i}]"):
            label = check.label(spec["label"])
            listed.add(label)
            served = {"services": spec["services"]}
            if label in existing:
                admin.set_counter_services(session, actor, center, existing[label], served, now)
            else:
                admin.create_counter(session, actor, center, {"label": label, **served}, now)
    for label, counter in existing.items():
        if label not in listed:
            admin.set_counter_services(session, actor, center, counter, {"services": []}, now)


def _import_devices(
    session: Session, actor: Actor, center: Center, devices: list, now: datetime
) -> None:
    """New devices get no token: ``novbe device-token`` issues it. A device without
    ``settings`` in the file keeps its own."""
    existing = {
        d.name: d for d in session.scalars(select(Device).where(Device.center_id == center.id))
    }
    for i, spec in enumerate(devices):
        values = {"kind": spec.get("kind")}
        if spec.get("settings") is not None:
            values["settings"] = spec["settings"]
        with _in_file(f"devices[{i}]"):
            device = existing.get(spec["name"])
            if device is None:
                new = {"name": spec["name"], **values}
                admin.create_device(session, actor, center, new, now, with_token=False)
            else:
                admin.update_device(session, actor, center, device, values, now)


def _import_notifications(
    session: Session, actor: Actor, center: Center, values: Any, now: datetime
) -> None:
    """The optional ``notifications:`` block (docs/notifications.md): what it gives
    changes, the rest keeps its value; audited like the admin page's change."""
    from .notify import settings as notify_settings

    try:
        notify_settings.update(session, actor, center, values, now)
    except InvalidInput as exc:
        field = exc.details.get("field") or ""
        problem = exc.message.removeprefix(f"{field} ")
        _fail(f"notifications.{field}" if field else "notifications", problem)


@contextmanager
def _in_file(where: str) -> Iterator[None]:
    """Name a refused field as the file has it: the ``prefix`` of the service at
    ``categories[0].services[1]`` is ``categories[0].services[1].prefix``."""
    try:
        yield
    except CenterFileError:
        raise
    except InvalidInput as exc:
        field = exc.details.get("field") or ""
        problem = exc.message.removeprefix(f"{field}: ")
        path = f"{where}.{field}" if where and field else where or field
        raise CenterFileError(f"{path}: {problem}", field=path) from None


# --- the file's shape -----------------------------------------------------------------------


def _check_shape(data: dict[str, Any]) -> None:
    """What the admin functions cannot see one change at a time: the file's structure,
    codes, labels and names given twice, and counters serving services not in the file.
    The values themselves are the admin functions' to check."""
    bad = limits.first_bad_text(data)
    if bad is not None:
        _fail(*bad)
    check.code(data.get("code"), "code")
    if not isinstance(data.get("hours", CENTER_DEFAULTS["hours"]), dict):
        _fail("hours", "must be a mapping like {open: '09:00', close: '18:00'}")

    services: set[str] = set()
    prefixes: dict[str, str] = {}  # prefix -> service code: a number names one service
    for where, category, _ in _entries(data, "categories", "category", "code", set()):
        for swhere, service, code in _entries(
            category, "services", "service", "code", services, where
        ):
            prefix = service.get("prefix")
            if isinstance(prefix, str) and prefix in prefixes:
                _fail(
                    f"{swhere}.prefix", f"prefix '{prefix}' is already used by '{prefixes[prefix]}'"
                )
            if isinstance(prefix, str):
                prefixes[prefix] = code

    for where, counter, _ in _entries(data, "counters", "counter", "label", set()):
        served = _list(counter, "services", f"{where}.services", required=True)
        for code in served:
            if not isinstance(code, str):
                _fail(f"{where}.services", "must be a list of service codes")
            if code not in services:
                _fail(f"{where}.services", f"unknown service '{code}'")
        if len(set(served)) != len(served):
            _fail(f"{where}.services", "lists a service twice")

    for where, device, _ in _entries(data, "devices", "device", "name", set()):
        if device.get("settings") is not None and not isinstance(device["settings"], dict):
            _fail(f"{where}.settings", "must be a mapping")


def _entries(
    data: dict, key: str, what: str, ident: str, seen: set[str], parent: str = ""
) -> Iterator[tuple[str, dict, str]]:
    """The mappings listed at ``key`` (a list of them required for categories and their
    services), each with its place in the file and its code or label, which must not be
    in ``seen`` yet."""
    where = f"{parent}.{key}" if parent else key
    required = key in ("categories", "services")
    rule = check.label if ident == "label" else check.code
    for i, item in enumerate(_list(data, key, where, required=required)):
        place = f"{where}[{i}]"
        if not isinstance(item, dict):
            _fail(place, "must be a mapping")
        value = rule(item.get(ident), f"{place}.{ident}")
        if value in seen:
            _fail(f"{place}.{ident}", f"duplicate {what} {ident} '{value}'")
        seen.add(value)
        yield place, item, value


def _fail(field: str, message: str) -> NoReturn:
    raise CenterFileError(f"{field}: {message}", field=field)


def _list(data: dict, key: str, where: str, *, required: bool = False) -> list:
    value = data.get(key)
    if value is None:
        if required:
            _fail(where, "is required")
        return []
    if not isinstance(value, list):
        _fail(where, "must be a list")
    if required and not value:
        _fail(where, "must not be empty")
    return value
