"""Importing a center's catalog from a YAML or JSON file (``novbe import-center``).

The whole file is checked before anything is written, and the import runs in
one transaction: a bad file changes nothing. Re-importing updates the catalog
(names, targets, counters' services) and never touches tickets. Services and
counters missing from the file are kept but deactivated / closed, because
tickets refer to them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import limits
from .errors import InvalidInput
from .models import (
    CALL_POLICIES,
    DEVICE_KINDS,
    LANGUAGES,
    Center,
    Counter,
    CounterService,
    Device,
    Service,
    ServiceCategory,
)

# \Z, not $: "$" also matches before a final newline, which would then be stored.
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")
PREFIX_RE = re.compile(r"^[A-Z]{1,3}\Z")
TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]\Z")
# The same bounds as the API's PATCH endpoints; they also keep values inside the columns.
MAX_MINUTES = 24 * 60
MAX_DAILY_QUOTA = 100_000
MAX_PRIORITY_CLASS_LENGTH = 32  # tickets.priority


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
    if not isinstance(data, dict):
        raise CenterFileError(f"{path}: the file must hold one center (a mapping)")
    return data


def import_center(session: Session, data: dict[str, Any]) -> ImportSummary:
    """Validate ``data`` fully, then create or update the center in ``session``."""
    spec = _validate(data)
    center = session.scalar(select(Center).where(Center.code == spec["code"]))
    created = center is None
    if center is None:
        center = Center(code=spec["code"])
        session.add(center)
    center.name = spec["name"]
    center.timezone = spec["timezone"]
    center.opens_at, center.closes_at = spec["hours"]
    center.priority_classes = spec["priority_classes"]
    center.call_policy = spec["call_policy"]
    center.priority_ratio = spec["priority_ratio"]
    center.recalls_before_no_show = spec["recalls_before_no_show"]
    session.flush()

    categories = {
        c.code: c
        for c in session.scalars(
            select(ServiceCategory).where(ServiceCategory.center_id == center.id)
        )
    }
    services = {
        s.code: s for s in session.scalars(select(Service).where(Service.center_id == center.id))
    }
    seen_services = set()
    for cat_pos, cat_spec in enumerate(spec["categories"]):
        category = categories.get(cat_spec["code"])
        if category is None:
            category = ServiceCategory(center_id=center.id, code=cat_spec["code"])
            session.add(category)
        category.name = cat_spec["name"]
        category.position = cat_pos
        session.flush()
        for svc_pos, svc_spec in enumerate(cat_spec["services"]):
            service = services.get(svc_spec["code"])
            if service is None:
                service = Service(center_id=center.id, code=svc_spec["code"])
                session.add(service)
                services[service.code] = service
            service.category_id = category.id
            service.prefix = svc_spec["prefix"]
            service.name = svc_spec["name"]
            service.target_wait_min = svc_spec["target_wait_min"]
            service.default_service_min = svc_spec["default_service_min"]
            service.daily_quota = svc_spec["daily_quota"]
            service.active = svc_spec["active"]
            service.position = cat_pos * 1000 + svc_pos
            seen_services.add(service.code)
    for code, service in services.items():
        if code not in seen_services:
            service.active = False
    session.flush()

    counters = {
        c.label: c for c in session.scalars(select(Counter).where(Counter.center_id == center.id))
    }
    for counter_spec in spec["counters"]:
        counter = counters.get(counter_spec["label"])
        if counter is None:
            counter = Counter(center_id=center.id, label=counter_spec["label"], state="closed")
            session.add(counter)
        counter.service_links = [
            CounterService(service_id=services[code].id, rank=rank)
            for rank, code in enumerate(counter_spec["services"])
        ]
    listed = {c["label"] for c in spec["counters"]}
    for label, counter in counters.items():
        if label not in listed:
            counter.service_links = []
    session.flush()

    devices = {
        d.name: d for d in session.scalars(select(Device).where(Device.center_id == center.id))
    }
    for device_spec in spec["devices"]:
        device = devices.get(device_spec["name"])
        if device is None:
            device = Device(center_id=center.id, name=device_spec["name"], settings={})
            session.add(device)
        device.kind = device_spec["kind"]
        if device_spec["settings"] is not None:
            device.settings = device_spec["settings"]
    session.flush()
    return ImportSummary(
        center=center.code,
        created=created,
        categories=len(spec["categories"]),
        services=len(seen_services),
        counters=len(spec["counters"]),
        devices=len(spec["devices"]),
    )


# --- validation -----------------------------------------------------------


def _validate(data: dict[str, Any]) -> dict[str, Any]:
    bad = limits.first_bad_text(data)
    if bad is not None:
        _fail(*bad)
    spec: dict[str, Any] = {}
    spec["code"] = _code(data, "code", "code")
    spec["name"] = _names(data, "name", "name")
    spec["timezone"] = _timezone(data.get("timezone", "Asia/Baku"))
    hours = data.get("hours", {"open": "09:00", "close": "18:00"})
    if not isinstance(hours, dict):
        _fail("hours", "must be a mapping like {open: '09:00', close: '18:00'}")
    opens, closes = _time(hours, "open", "hours.open"), _time(hours, "close", "hours.close")
    if closes <= opens:
        _fail("hours", "close must be later than open")
    spec["hours"] = (opens, closes)
    classes = data.get("priority_classes", [])
    if not isinstance(classes, list) or not all(
        isinstance(c, str) and CODE_RE.match(c) and len(c) <= MAX_PRIORITY_CLASS_LENGTH
        for c in classes
    ):
        _fail("priority_classes", "must be a list of short lowercase codes")
    spec["priority_classes"] = classes
    spec["call_policy"] = data.get("call_policy", "strict")
    if spec["call_policy"] not in CALL_POLICIES:
        _fail("call_policy", f"must be one of {', '.join(CALL_POLICIES)}")
    spec["priority_ratio"] = _int(
        data, "priority_ratio", "priority_ratio", 2, minimum=1, maximum=100
    )
    spec["recalls_before_no_show"] = _int(
        data, "recalls_before_no_show", "recalls_before_no_show", 1, minimum=0, maximum=10
    )

    categories = _list(data, "categories", "categories", required=True)
    spec["categories"] = []
    service_codes: set[str] = set()
    prefixes: dict[str, str] = {}  # prefix -> service code: a number names one service
    for i, cat in enumerate(categories):
        where = f"categories[{i}]"
        _mapping(cat, where)
        cat_spec = {
            "code": _code(cat, "code", f"{where}.code"),
            "name": _names(cat, "name", f"{where}.name"),
            "services": [],
        }
        if cat_spec["code"] in {c["code"] for c in spec["categories"]}:
            _fail(f"{where}.code", f"duplicate category code '{cat_spec['code']}'")
        for j, svc in enumerate(_list(cat, "services", f"{where}.services", required=True)):
            swhere = f"{where}.services[{j}]"
            _mapping(svc, swhere)
            code = _code(svc, "code", f"{swhere}.code")
            if code in service_codes:
                _fail(f"{swhere}.code", f"duplicate service code '{code}'")
            service_codes.add(code)
            prefix = svc.get("prefix")
            if not isinstance(prefix, str) or not PREFIX_RE.match(prefix):
                _fail(f"{swhere}.prefix", "must be 1 to 3 uppercase Latin letters, e.g. A")
            if prefix in prefixes:
                _fail(
                    f"{swhere}.prefix", f"prefix '{prefix}' is already used by '{prefixes[prefix]}'"
                )
            prefixes[prefix] = code
            quota = svc.get("daily_quota")
            if quota is not None and (
                isinstance(quota, bool)
                or not isinstance(quota, int)
                or not 0 <= quota <= MAX_DAILY_QUOTA
            ):
                _fail(
                    f"{swhere}.daily_quota",
                    f"must be a whole number of tickets, 0 to {MAX_DAILY_QUOTA}",
                )
            active = svc.get("active", True)
            if not isinstance(active, bool):
                _fail(f"{swhere}.active", "must be true or false")
            cat_spec["services"].append(
                {
                    "code": code,
                    "prefix": prefix,
                    "name": _names(svc, "name", f"{swhere}.name"),
                    "target_wait_min": _int(
                        svc,
                        "target_wait_min",
                        f"{swhere}.target_wait_min",
                        15,
                        minimum=0,
                        maximum=MAX_MINUTES,
                    ),
                    "default_service_min": _int(
                        svc,
                        "default_service_min",
                        f"{swhere}.default_service_min",
                        5,
                        minimum=1,
                        maximum=MAX_MINUTES,
                    ),
                    "daily_quota": quota,
                    "active": active,
                }
            )
        spec["categories"].append(cat_spec)

    spec["counters"] = []
    for i, counter in enumerate(_list(data, "counters", "counters")):
        where = f"counters[{i}]"
        _mapping(counter, where)
        label = counter.get("label")
        if isinstance(label, int):
            label = str(label)
        if not isinstance(label, str) or not 1 <= len(label) <= limits.MAX_LABEL_LENGTH:
            _fail(f"{where}.label", 'must be a short text such as "5" (max 16)')
        if label in {c["label"] for c in spec["counters"]}:
            _fail(f"{where}.label", f"duplicate counter label '{label}'")
        served = _list(counter, "services", f"{where}.services", required=True)
        for code in served:
            if code not in service_codes:
                _fail(f"{where}.services", f"unknown service '{code}'")
        if len(set(served)) != len(served):
            _fail(f"{where}.services", "lists a service twice")
        spec["counters"].append({"label": label, "services": served})

    spec["devices"] = []
    for i, device in enumerate(_list(data, "devices", "devices")):
        where = f"devices[{i}]"
        _mapping(device, where)
        if device.get("kind") not in DEVICE_KINDS:
            _fail(f"{where}.kind", f"must be one of {', '.join(DEVICE_KINDS)}")
        name = _code(device, "name", f"{where}.name")
        if name in {d["name"] for d in spec["devices"]}:
            _fail(f"{where}.name", f"duplicate device name '{name}'")
        settings = device.get("settings")
        if settings is not None and not isinstance(settings, dict):
            _fail(f"{where}.settings", "must be a mapping")
        spec["devices"].append({"kind": device["kind"], "name": name, "settings": settings})
    return spec


def _fail(field: str, message: str):
    raise CenterFileError(f"{field}: {message}", field=field)


def _mapping(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        _fail(where, "must be a mapping")


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


def _code(data: dict, key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not CODE_RE.match(value):
        _fail(where, "must be a code of lowercase letters, digits, '-' or '_' (max 64)")
    return value


def _names(data: dict, key: str, where: str) -> dict[str, str]:
    value = data.get(key)
    if not isinstance(value, dict):
        _fail(where, "must give the name in az, ru and en, e.g. {az: ..., ru: ..., en: ...}")
    for lang in LANGUAGES:
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            _fail(f"{where}.{lang}", "is missing or empty")
        problem = limits.text_problem(text) or limits.length_problem(
            text.strip(), limits.MAX_NAME_LENGTH
        )
        if problem:
            _fail(f"{where}.{lang}", problem)
    extra = set(value) - set(LANGUAGES)
    if extra:
        _fail(where, f"unknown language(s): {', '.join(sorted(extra))}")
    return {lang: value[lang].strip() for lang in LANGUAGES}


def _int(data: dict, key: str, where: str, default: int, *, minimum: int, maximum: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        _fail(where, f"must be a whole number from {minimum} to {maximum}")
    return value


def _time(data: dict, key: str, where: str) -> time:
    value = data.get(key)
    if isinstance(value, int):  # YAML 1.1 reads 09:00 unquoted as sexagesimal 540
        value = f"{value // 60:02d}:{value % 60:02d}"
    if not isinstance(value, str) or not TIME_RE.match(value):
        _fail(where, 'must be a time like "09:00"')
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _timezone(value: Any) -> str:
    try:
        if len(str(value)) > limits.MAX_CODE_LENGTH:  # centers.timezone is String(64)
            raise ValueError
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        _fail("timezone", f"unknown time zone {value!r}; use a name like Asia/Baku")
    return str(value)
