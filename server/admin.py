"""Administrative changes made from the web: the service catalog, counters, staff,
devices and the center's hours and priority classes.

Every change writes an :class:`AuditEntry` (who, when, what, before/after) in the
same transaction as the change itself, so the log cannot miss a change nor record
one that rolled back. Callers pass a write session and check the role first
(:func:`require_admin`); nothing here reads Flask's request.

Values are checked with the center file's rules (server/importer.py) and the text
rules of server/limits.py, so the web and ``novbe import-center`` accept the same
things. Everything is validated before anything is written: a refused request changes
nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from . import auth, limits, web_sessions
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .importer import (
    CODE_RE,
    MAX_DAILY_QUOTA,
    MAX_MINUTES,
    MAX_PRIORITY_CLASS_LENGTH,
    PREFIX_RE,
    CenterFileError,
    _code,
    _int,
    _names,
    _time,
)
from .models import (
    AUDIT_ENTITY_TYPES,
    DEVICE_KINDS,
    ApiToken,
    AuditEntry,
    Center,
    Counter,
    CounterService,
    Device,
    Service,
    ServiceCategory,
    StaffUser,
    utcnow,
)
from .queue.actor import Actor
from .queue.audit import Change, announce

MANAGERS = ("manager", "admin")
AUDIT_PAGE_SIZE = 50


# --- who may ------------------------------------------------------------------


def require_admin(actor: Actor | None, center: Center) -> Actor:
    """A manager or admin of ``center`` (or a network admin)."""
    return auth.require_staff(actor, center.id, roles=MANAGERS)


def _may_grant(actor: Actor, role: str) -> None:
    # A manager runs a center's staff; only admins make admins.
    if role == "admin" and actor.role != "admin":
        raise Forbidden("only an admin may create or promote admins", code="role_not_allowed")


# --- the audit log --------------------------------------------------------------


def record(
    session: Session,
    actor: Actor,
    center_id: int | None,
    entity_type: str,
    entity_id: str,
    action: str,
    before: dict | None,
    after: dict | None,
    now: datetime | None = None,
) -> AuditEntry:
    """Append an audit entry (in the caller's transaction)."""
    assert entity_type in AUDIT_ENTITY_TYPES, entity_type
    entry = AuditEntry(
        center_id=center_id,
        at=now or utcnow(),
        staff_id=actor.staff_id,
        username=actor.name or actor.kind,
        entity_type=entity_type,
        entity_id=str(entity_id),
        action=action,
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


def record_update(
    session: Session,
    actor: Actor,
    center_id: int,
    entity_type: str,
    entity_id: str,
    before: dict,
    after: dict,
    now: datetime | None = None,
    action: str = "update",
) -> AuditEntry | None:
    """Record only the fields that changed; nothing when nothing did."""
    changed = [key for key in after if before.get(key) != after[key]]
    if not changed:
        return None
    return record(
        session,
        actor,
        center_id,
        entity_type,
        entity_id,
        action,
        {key: before.get(key) for key in changed},
        {key: after[key] for key in changed},
        now,
    )


def list_audit(
    session: Session,
    center: Center,
    *,
    entity_type: str | None = None,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    page_size: int = AUDIT_PAGE_SIZE,
) -> tuple[list[AuditEntry], int]:
    """A center's audit entries, newest first, filtered; and how many match in all."""
    if entity_type is not None and entity_type not in AUDIT_ENTITY_TYPES:
        raise InvalidInput(f"'type' must be one of {', '.join(AUDIT_ENTITY_TYPES)}", field="type")
    if page < 1:
        raise InvalidInput("'page' must be 1 or more", field="page")
    where = [AuditEntry.center_id == center.id]
    if entity_type:
        where.append(AuditEntry.entity_type == entity_type)
    if user:
        where.append(AuditEntry.username == user)
    if since:
        where.append(AuditEntry.at >= since)
    if until:
        where.append(AuditEntry.at < until)
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where))
    rows = session.scalars(
        select(AuditEntry)
        .where(*where)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return list(rows), total


# --- validation (the center file's rules) ------------------------------------------


@contextmanager
def _as_input_error() -> Iterator[None]:
    """The importer names fields like a file ("prefix: ..."); the API says 422 invalid_input."""
    try:
        yield
    except CenterFileError as exc:
        raise InvalidInput(exc.message, field=exc.details.get("field")) from None


def _only(data: dict, allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInput(
            f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}",
            field=unknown[0],
        )


def _bool(data: dict, key: str) -> bool:
    if not isinstance(data[key], bool):
        raise InvalidInput(f"'{key}' must be true or false", field=key)
    return data[key]


def _quota(data: dict) -> int | None:
    quota = data.get("daily_quota")
    if quota is not None and (
        isinstance(quota, bool) or not isinstance(quota, int) or not 0 <= quota <= MAX_DAILY_QUOTA
    ):
        raise InvalidInput(
            f"daily_quota: must be a whole number of tickets, 0 to {MAX_DAILY_QUOTA}",
            field="daily_quota",
        )
    return quota


def _prefix(session: Session, center: Center, prefix: Any, service: Service | None) -> str:
    # A ticket number names one service: the prefix is unique in the center, inactive
    # services included (they may come back, and their numbers are on old tickets).
    if not isinstance(prefix, str) or not PREFIX_RE.match(prefix):
        raise InvalidInput("prefix: must be 1 to 3 uppercase Latin letters, e.g. A", field="prefix")
    other = session.scalar(
        select(Service).where(Service.center_id == center.id, Service.prefix == prefix)
    )
    if other is not None and other is not service:
        raise InvalidInput(f"prefix: '{prefix}' is already used by '{other.code}'", field="prefix")
    return prefix


def _text(value: Any, field: str, max_length: int) -> str:
    """A text to store: a string of at most ``max_length`` characters with no NUL and no
    unpaired surrogate; else 422 naming ``field``."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: must be a string", field=field)
    problem = limits.text_problem(value) or limits.length_problem(value, max_length)
    if problem:
        raise InvalidInput(f"{field}: {problem}", field=field)
    return value


def _category(session: Session, center: Center, code: Any) -> ServiceCategory:
    """The category a service is put in: an unknown one is bad input, not a 404."""
    if not isinstance(code, str) or not CODE_RE.match(code):
        raise InvalidInput("category: must be a category code", field="category")
    category = _find_category(session, center, code)
    if category is None:
        raise InvalidInput(f"category: unknown category '{code}'", field="category")
    return category


def _find_category(session: Session, center: Center, code: Any) -> ServiceCategory | None:
    return session.scalar(
        select(ServiceCategory).where(
            ServiceCategory.center_id == center.id, ServiceCategory.code == code
        )
    )


# --- snapshots, as the audit log keeps them ---------------------------------------------


def category_state(category: ServiceCategory) -> dict:
    return {"code": category.code, "name": category.name}


def service_state(service: Service) -> dict:
    return {
        "code": service.code,
        "category": service.category.code,
        "prefix": service.prefix,
        "name": service.name,
        "target_wait_min": service.target_wait_min,
        "default_service_min": service.default_service_min,
        "daily_quota": service.daily_quota,
        "active": service.active,
    }


def counter_state(session: Session, counter: Counter) -> dict:
    codes = dict(
        session.execute(
            select(Service.id, Service.code).where(Service.center_id == counter.center_id)
        ).all()
    )
    return {"label": counter.label, "services": [codes[i] for i in counter.service_ids]}


def staff_state(user: StaffUser) -> dict:
    return {
        "username": user.username,
        "role": user.role,
        "active": user.active,
        "center": user.center.code if user.center else None,
    }


def device_state(device: Device) -> dict:
    return {
        "name": device.name,
        "kind": device.kind,
        "printer": (device.settings or {}).get("printer"),
        "token_rotated_at": device.token_rotated_at.isoformat()
        if device.token_rotated_at
        else None,
    }


def center_state(center: Center) -> dict:
    return {
        "hours": {
            "open": center.opens_at.strftime("%H:%M"),
            "close": center.closes_at.strftime("%H:%M"),
        },
        "priority_classes": list(center.priority_classes or []),
        "call_policy": center.call_policy,
        "priority_ratio": center.priority_ratio,
        "recalls_before_no_show": center.recalls_before_no_show,
    }


def _catalog_changed(session: Session, center: Center) -> None:
    # Kiosks, displays and counters redraw their catalog from the next queue.stats.
    announce(session, Change("center", "catalog", center.id))


# --- categories -------------------------------------------------------------------


def create_category(
    session: Session, actor: Actor, center: Center, data: dict, now: datetime | None = None
) -> ServiceCategory:
    _only(data, {"code", "name"})
    with _as_input_error():
        code = _code(data, "code", "code")
        name = _names(data, "name", "name")
    if session.scalar(
        select(ServiceCategory).where(
            ServiceCategory.center_id == center.id, ServiceCategory.code == code
        )
    ):
        raise InvalidInput(f"code: category '{code}' already exists", field="code")
    position = session.scalar(
        select(func.coalesce(func.max(ServiceCategory.position), -1) + 1).where(
            ServiceCategory.center_id == center.id
        )
    )
    category = ServiceCategory(center_id=center.id, code=code, name=name, position=position)
    session.add(category)
    session.flush()
    record(
        session, actor, center.id, "category", code, "create", None, category_state(category), now
    )
    _catalog_changed(session, center)
    return category


def get_category_at(session: Session, center: Center, code: str) -> ServiceCategory:
    category = _find_category(session, center, code)
    if category is None:
        raise NotFound(f"unknown category '{code}'", code="category_not_found")
    return category


def update_category(
    session: Session,
    actor: Actor,
    center: Center,
    category: ServiceCategory,
    data: dict,
    now: datetime | None = None,
) -> ServiceCategory:
    _only(data, {"name"})
    before = category_state(category)
    if "name" in data:
        with _as_input_error():
            category.name = _names(data, "name", "name")
    record_update(
        session, actor, center.id, "category", category.code, before, category_state(category), now
    )
    _catalog_changed(session, center)
    return category


# --- services ---------------------------------------------------------------------

SERVICE_FIELDS = {
    "category",
    "prefix",
    "name",
    "target_wait_min",
    "default_service_min",
    "daily_quota",
    "active",
}


def service_values(session: Session, center: Center, data: dict, service: Service | None) -> dict:
    """The checked values of ``data``'s fields, before any is applied."""
    values: dict[str, Any] = {}
    if "category" in data:
        values["category_id"] = _category(session, center, data["category"]).id
    if "prefix" in data:
        values["prefix"] = _prefix(session, center, data["prefix"], service)
    with _as_input_error():
        if "name" in data:
            values["name"] = _names(data, "name", "name")
        if "target_wait_min" in data:
            values["target_wait_min"] = _int(
                data, "target_wait_min", "target_wait_min", 15, minimum=0, maximum=MAX_MINUTES
            )
        if "default_service_min" in data:
            values["default_service_min"] = _int(
                data,
                "default_service_min",
                "default_service_min",
                5,
                minimum=1,
                maximum=MAX_MINUTES,
            )
    if "daily_quota" in data:
        values["daily_quota"] = _quota(data)
    if "active" in data:
        values["active"] = _bool(data, "active")
    return values


def create_service(
    session: Session, actor: Actor, center: Center, data: dict, now: datetime | None = None
) -> Service:
    _only(data, SERVICE_FIELDS | {"code"})
    with _as_input_error():
        code = _code(data, "code", "code")
    for required in ("category", "prefix", "name"):
        if required not in data:
            raise InvalidInput(f"'{required}' is required", field=required)
    if session.scalar(select(Service).where(Service.center_id == center.id, Service.code == code)):
        raise InvalidInput(f"code: service '{code}' already exists", field="code")
    values = service_values(session, center, data, None)
    position = session.scalar(
        select(func.coalesce(func.max(Service.position), -1) + 1).where(
            Service.center_id == center.id
        )
    )
    service = Service(center_id=center.id, code=code, position=position, **values)
    session.add(service)
    session.flush()
    session.refresh(service)  # defaults and the category relationship
    record(session, actor, center.id, "service", code, "create", None, service_state(service), now)
    _catalog_changed(session, center)
    return service


def update_service(
    session: Session,
    actor: Actor,
    center: Center,
    service: Service,
    data: dict,
    now: datetime | None = None,
) -> Service:
    _only(data, SERVICE_FIELDS)
    before = service_state(service)
    values = service_values(session, center, data, service)
    for name, value in values.items():
        setattr(service, name, value)
    session.flush()
    session.refresh(service, ["category"])
    after = service_state(service)
    action = "update"
    if before["active"] != after["active"]:
        action = "activate" if after["active"] else "deactivate"
    record_update(session, actor, center.id, "service", service.code, before, after, now, action)
    _catalog_changed(session, center)
    return service


# --- counters --------------------------------------------------------------------


def _served(session: Session, center: Center, data: dict) -> list[Service]:
    codes = data.get("services")
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise InvalidInput("services: must be a list of service codes", field="services")
    if len(set(codes)) != len(codes):
        raise InvalidInput("services: lists a service twice", field="services")
    found = {
        s.code: s
        for s in session.scalars(
            select(Service).where(Service.center_id == center.id, Service.code.in_(codes))
        )
    }
    for code in codes:
        if code not in found:
            raise InvalidInput(f"services: unknown service '{code}'", field="services")
    return [found[code] for code in codes]


def create_counter(
    session: Session, actor: Actor, center: Center, data: dict, now: datetime | None = None
) -> Counter:
    _only(data, {"label", "services"})
    label = data.get("label")
    if isinstance(label, int) and not isinstance(label, bool):
        label = str(label)
    if not isinstance(label, str) or not label.strip():
        raise InvalidInput('label: must be a short text such as "5"', field="label")
    label = _text(label.strip(), "label", limits.MAX_LABEL_LENGTH)
    if session.scalar(
        select(Counter).where(Counter.center_id == center.id, Counter.label == label)
    ):
        raise InvalidInput(f"label: counter '{label}' already exists", field="label")
    services = _served(session, center, {"services": data.get("services", [])})
    counter = Counter(center_id=center.id, label=label, state="closed", state_since=now or utcnow())
    counter.service_links = [
        CounterService(service_id=service.id, rank=rank) for rank, service in enumerate(services)
    ]
    session.add(counter)
    session.flush()
    record(
        session,
        actor,
        center.id,
        "counter",
        label,
        "create",
        None,
        counter_state(session, counter),
        now,
    )
    _catalog_changed(session, center)
    return counter


def set_counter_services(
    session: Session,
    actor: Actor,
    center: Center,
    counter: Counter,
    data: dict,
    now: datetime | None = None,
) -> Counter:
    """Replace the services the counter serves; their order is its order of preference."""
    _only(data, {"services"})
    services = _served(session, center, data)
    before = counter_state(session, counter)
    counter.service_links = [
        CounterService(service_id=service.id, rank=rank) for rank, service in enumerate(services)
    ]
    session.flush()
    record_update(
        session,
        actor,
        center.id,
        "counter",
        counter.label,
        before,
        counter_state(session, counter),
        now,
    )
    announce(session, Change("counter", counter.state, counter.id))
    _catalog_changed(session, center)
    return counter


def get_counter_at(session: Session, center: Center, counter_id: int) -> Counter:
    counter = session.get(Counter, counter_id)
    if counter is None or counter.center_id != center.id:
        raise NotFound(f"unknown counter {counter_id}", code="counter_not_found")
    return counter


# --- staff ----------------------------------------------------------------------


def get_staff_at(session: Session, center: Center, username: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None or user.center_id != center.id:
        raise NotFound(f"unknown staff member '{username}'", code="staff_not_found")
    return user


def create_staff(
    session: Session, actor: Actor, center: Center, data: dict, now: datetime | None = None
) -> StaffUser:
    _only(data, {"username", "password", "role"})
    for required in ("username", "password", "role"):
        if not isinstance(data.get(required), str):
            raise InvalidInput(f"'{required}' is required (a string)", field=required)
    _text(data["password"], "password", limits.MAX_PASSWORD_LENGTH)
    _may_grant(actor, data["role"])
    if not CODE_RE.match(data["username"]):
        raise InvalidInput(
            "username: must be lowercase letters, digits, '-' or '_' (max 64)", field="username"
        )
    user = auth.create_staff(session, data["username"], data["password"], data["role"], center.code)
    if now is not None:
        user.created_at = now
    session.flush()
    record(
        session, actor, center.id, "staff", user.username, "create", None, staff_state(user), now
    )
    return user


def update_staff(
    session: Session,
    actor: Actor,
    center: Center,
    user: StaffUser,
    data: dict,
    now: datetime | None = None,
) -> StaffUser:
    """Change a staff member's role or deactivate/reactivate the account."""
    _only(data, {"role", "active"})
    if user.role == "admin":
        _may_grant(actor, "admin")  # a manager cannot demote or lock out an admin
    role = data.get("role", user.role)
    if role not in ("staff", "manager", "admin"):
        raise InvalidInput("role: must be one of staff, manager, admin", field="role")
    _may_grant(actor, role)
    active = _bool(data, "active") if "active" in data else user.active
    if user.id == actor.staff_id and (not active or role != user.role):
        raise Conflict("you cannot deactivate yourself or change your own role", code="own_account")
    before = staff_state(user)
    user.role, user.active = role, active
    after = staff_state(user)
    action = "update"
    if before["active"] != after["active"]:
        action = "activate" if active else "deactivate"
    record_update(session, actor, center.id, "staff", user.username, before, after, now, action)
    if not active:
        _revoke_tokens(session, user)
    return user


def reset_password(
    session: Session,
    actor: Actor,
    center: Center,
    user: StaffUser,
    data: dict,
    now: datetime | None = None,
) -> str:
    """Set a new password (given, or generated and returned once). The old one, its web
    sessions and its API tokens stop working."""
    _only(data, {"password"})
    if user.role == "admin":
        _may_grant(actor, "admin")
    password = data.get("password")
    if password is None:
        password = secrets.token_urlsafe(9)  # 12 characters, shown once
    else:
        _text(password, "password", limits.MAX_PASSWORD_LENGTH)
    user.password_hash = auth.hash_password(password)  # checks the length
    _revoke_tokens(session, user)
    # Never the password or its hash: only that it happened.
    record(session, actor, center.id, "staff", user.username, "reset_password", None, None, now)
    return password


def _revoke_tokens(session: Session, user: StaffUser) -> None:
    session.execute(delete(ApiToken).where(ApiToken.staff_id == user.id))
    web_sessions.revoke_staff_sessions(session, user.id)  # and its web logins


# --- devices -------------------------------------------------------------------------


def get_device_at(session: Session, center: Center, name: str) -> Device:
    device = session.scalar(
        select(Device).where(Device.center_id == center.id, Device.name == name)
    )
    if device is None:
        raise NotFound(f"unknown device '{name}'", code="device_not_found")
    return device


def _printer(data: dict) -> str | None:
    from hardware.printer import parse_printer_url

    printer = data.get("printer")
    if printer is None or printer == "":
        return None
    if not isinstance(printer, str):
        raise InvalidInput(
            "printer: must be a printer address such as tcp://10.0.0.5", field="printer"
        )
    _text(printer, "printer", limits.MAX_PRINTER_LENGTH)
    try:
        parse_printer_url(printer)
    except ValueError as exc:
        raise InvalidInput(f"printer: {exc}", field="printer") from None
    return printer.strip()


def create_device(
    session: Session, actor: Actor, center: Center, data: dict, now: datetime | None = None
) -> tuple[Device, str]:
    """A new kiosk or display, and its token (shown this once)."""
    _only(data, {"kind", "name", "printer"})
    if data.get("kind") not in DEVICE_KINDS:
        raise InvalidInput(f"kind: must be one of {', '.join(DEVICE_KINDS)}", field="kind")
    with _as_input_error():
        name = _code(data, "name", "name")
    if session.scalar(select(Device).where(Device.center_id == center.id, Device.name == name)):
        raise InvalidInput(f"name: device '{name}' already exists", field="name")
    printer = _printer(data)
    if printer and data["kind"] != "kiosk":
        raise InvalidInput("printer: only a kiosk has a printer", field="printer")
    device = Device(
        center_id=center.id,
        kind=data["kind"],
        name=name,
        settings={"printer": printer} if printer else {},
    )
    session.add(device)
    token = auth.rotate_device_token(session, device, now)
    session.flush()
    record(session, actor, center.id, "device", name, "create", None, device_state(device), now)
    return device, token


def rotate_device_token(
    session: Session, actor: Actor, center: Center, device: Device, now: datetime | None = None
) -> str:
    """A new token for the device (shown this once); the old one stops working at once."""
    before = device_state(device)
    token = auth.rotate_device_token(session, device, now)
    session.flush()
    record(
        session,
        actor,
        center.id,
        "device",
        device.name,
        "rotate_token",
        {"token_rotated_at": before["token_rotated_at"]},
        {"token_rotated_at": device_state(device)["token_rotated_at"]},
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
) -> Device:
    """Change a kiosk's printer (null or "" removes it: the kiosk's agent prints, or
    visitors get e-tickets)."""
    _only(data, {"printer"})
    printer = _printer(data)
    if printer and device.kind != "kiosk":
        raise InvalidInput("printer: only a kiosk has a printer", field="printer")
    before = device_state(device)
    settings = dict(device.settings or {})  # a new dict, so the JSON column sees the change
    if printer:
        settings["printer"] = printer
    else:
        settings.pop("printer", None)
    device.settings = settings
    record_update(
        session, actor, center.id, "device", device.name, before, device_state(device), now
    )
    announce(session, Change("device", "settings", device.id))  # its screen follows
    return device


# --- the center -------------------------------------------------------------------


def update_center(
    session: Session, actor: Actor, center: Center, data: dict, now: datetime | None = None
) -> Center:
    """Opening hours and priority classes."""
    _only(data, {"hours", "priority_classes"})
    before = center_state(center)
    opens, closes = center.opens_at, center.closes_at
    if "hours" in data:
        hours = data["hours"]
        if not isinstance(hours, dict):
            raise InvalidInput("hours: must be like {open: '09:00', close: '18:00'}", field="hours")
        _only(hours, {"open", "close"})
        with _as_input_error():
            if "open" in hours:
                opens = _time(hours, "open", "hours.open")
            if "close" in hours:
                closes = _time(hours, "close", "hours.close")
        if closes <= opens:
            raise InvalidInput("hours: close must be later than open", field="hours")
    classes = center.priority_classes
    if "priority_classes" in data:
        classes = data["priority_classes"]
        if (
            not isinstance(classes, list)
            or not all(
                isinstance(c, str) and CODE_RE.match(c) and len(c) <= MAX_PRIORITY_CLASS_LENGTH
                for c in classes
            )
            or len(set(classes)) != len(classes)
        ):
            raise InvalidInput(
                "priority_classes: must be a list of different short lowercase codes",
                field="priority_classes",
            )
    center.opens_at, center.closes_at = opens, closes
    center.priority_classes = list(classes)
    record_update(
        session, actor, center.id, "center", center.code, before, center_state(center), now
    )
    _catalog_changed(session, center)
    return center


def record_center_change(
    session: Session, actor: Actor, center: Center, before: dict, now: datetime | None = None
) -> None:
    """For callers that changed the center's settings themselves (PATCH /policy)."""
    record_update(
        session, actor, center.id, "center", center.code, before, center_state(center), now
    )
