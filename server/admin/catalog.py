"""The service catalog: categories and the services in them.

A service's code and prefix name it for good: the code is in URLs and the prefix on
every ticket number, so the prefix is unique in the center, inactive services included
(they may come back, and their numbers are on old tickets). A service is deactivated,
never deleted: tickets refer to it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Center, Service, ServiceCategory
from ..queue.actor import Actor
from ..queue.changes import Change, ChangeKind, announce
from . import validation as check
from .audit import Row, apply_values, record, record_update

# Booking and joining from home (server/appointments/; docs/appointments.md "Settings").
BOOKING_FIELDS = (
    "bookable",
    "slot_min",
    "bookings_per_slot",
    "booking_days_ahead",
    "checkin_early_min",
    "late_grace_min",
    "after_grace",
    "remote_joining",
    "remote_daily_cap",
)
SERVICE_FIELDS = {
    "category",
    "prefix",
    "name",
    "target_wait_min",
    "default_service_min",
    "daily_quota",
    "active",
    "position",
    *BOOKING_FIELDS,
}


def catalog_changed(session: Session, center: Center) -> None:
    """Kiosks, displays and counters redraw their catalog from the next queue.stats."""
    announce(session, Change(ChangeKind.CENTER, "catalog", center.id, center=center.id))


def add_to_catalog(
    session: Session,
    actor: Actor,
    center: Center,
    entity_type: str,
    entity_id: str,
    row: Row,
    state: Callable[[Row], dict],
    now: datetime | None,
) -> Row:
    """Add a new category, service or counter (flushed: its id and the columns'
    defaults), record its creation with its whole ``state``, and announce the catalog."""
    session.add(row)
    session.flush()
    record(session, actor, center.id, entity_type, entity_id, "create", None, state(row), now)
    catalog_changed(session, center)
    return row


# --- as the admin page shows them (the audit log adds the position) -------------------


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
        **{name: getattr(service, name) for name in BOOKING_FIELDS},
    }


def _audited_category(category: ServiceCategory) -> dict:
    return {**category_state(category), "position": category.position}


def _audited_service(service: Service) -> dict:
    return {**service_state(service), "position": service.position}


# --- categories -------------------------------------------------------------------


def get_category_at(session: Session, center: Center, code: str) -> ServiceCategory:
    category = _find_category(session, center, code)
    return check.found(category, center, f"category '{code}'", "category_not_found")


def create_category(
    session: Session, actor: Actor, center: Center, data: dict, now: datetime | None = None
) -> ServiceCategory:
    """A new category (``code``, ``name``; ``position``: last unless given)."""
    check.reject_unknown(data, {"code", "name", "position"})
    code = check.code(data.get("code"), "code")
    name = check.names(data.get("name"), "name")
    if "position" in data:
        position = check.position(data["position"])
    else:
        position = _next_position(session, ServiceCategory, center)
    if _find_category(session, center, code) is not None:
        check.fail("code", f"category '{code}' already exists")
    category = ServiceCategory(center_id=center.id, code=code, name=name, position=position)
    return add_to_catalog(
        session, actor, center, "category", code, category, _audited_category, now
    )


def update_category(
    session: Session,
    actor: Actor,
    center: Center,
    category: ServiceCategory,
    data: dict,
    now: datetime | None = None,
) -> ServiceCategory:
    """Rename or move a category."""
    check.reject_unknown(data, {"name", "position"})
    values: dict[str, Any] = {}
    if "name" in data:
        values["name"] = check.names(data["name"], "name")
    if "position" in data:
        values["position"] = check.position(data["position"])
    before, after = apply_values(category, values, _audited_category)
    if record_update(session, actor, center.id, "category", category.code, before, after, now):
        catalog_changed(session, center)
    return category


def _find_category(session: Session, center: Center, code: Any) -> ServiceCategory | None:
    return session.scalar(
        select(ServiceCategory).where(
            ServiceCategory.center_id == center.id, ServiceCategory.code == code
        )
    )


def _next_position(session: Session, model: type, center: Center) -> int:
    return session.scalar(
        select(func.coalesce(func.max(model.position), -1) + 1).where(model.center_id == center.id)
    )


# --- services ---------------------------------------------------------------------


def service_values(session: Session, center: Center, data: dict, service: Service | None) -> dict:
    """The checked values of ``data``'s fields (the category as its row), before any is
    applied."""
    values: dict[str, Any] = {}
    if "category" in data:
        values["category"] = _category(session, center, data["category"])
    if "prefix" in data:
        values["prefix"] = _unique_prefix(session, center, data["prefix"], service)
    if "name" in data:
        values["name"] = check.names(data["name"], "name")
    if "target_wait_min" in data:
        values["target_wait_min"] = check.minutes(
            data["target_wait_min"], "target_wait_min", minimum=0
        )
    if "default_service_min" in data:
        values["default_service_min"] = check.minutes(
            data["default_service_min"], "default_service_min", minimum=1
        )
    if "daily_quota" in data:
        values["daily_quota"] = check.daily_quota(data["daily_quota"])
    if "active" in data:
        values["active"] = check.boolean(data["active"], "active")
    if "position" in data:
        values["position"] = check.position(data["position"])
    values.update(_booking_values(data))
    return values


def _booking_values(data: dict) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in ("bookable", "remote_joining"):
        if name in data:
            values[name] = check.boolean(data[name], name)
    if "slot_min" in data:
        values["slot_min"] = check.whole_number(
            data["slot_min"], "slot_min", minimum=check.MIN_SLOT_MIN, maximum=check.MAX_SLOT_MIN
        )
    if "bookings_per_slot" in data:
        values["bookings_per_slot"] = check.whole_number(
            data["bookings_per_slot"],
            "bookings_per_slot",
            minimum=1,
            maximum=check.MAX_BOOKINGS_PER_SLOT,
        )
    if "booking_days_ahead" in data:
        values["booking_days_ahead"] = check.whole_number(
            data["booking_days_ahead"],
            "booking_days_ahead",
            minimum=0,
            maximum=check.MAX_DAYS_AHEAD,
        )
    for name in ("checkin_early_min", "late_grace_min"):
        if name in data:
            values[name] = check.minutes(data[name], name, minimum=0)
    if "after_grace" in data:
        values["after_grace"] = check.one_of(data["after_grace"], "after_grace", check.AFTER_GRACE)
    if "remote_daily_cap" in data:
        values["remote_daily_cap"] = check.optional_count(
            data["remote_daily_cap"], "remote_daily_cap", minimum=0, maximum=check.MAX_DAILY_QUOTA
        )
    return values


def create_service(
    session: Session, actor: Actor, center: Center, data: dict, now: datetime | None = None
) -> Service:
    """A new service: ``code``, ``category``, ``prefix`` and ``name``, and any other
    field of SERVICE_FIELDS (else the defaults: 15 and 5 minutes, no quota, active,
    last)."""
    check.reject_unknown(data, SERVICE_FIELDS | {"code"})
    code = check.code(data.get("code"), "code")
    for required in ("category", "prefix", "name"):
        if required not in data:
            check.fail(required, "is required")
    if session.scalar(select(Service).where(Service.center_id == center.id, Service.code == code)):
        check.fail("code", f"service '{code}' already exists")
    values = service_values(session, center, data, None)
    if "position" not in values:
        values["position"] = _next_position(session, Service, center)
    service = Service(center_id=center.id, code=code, **values)
    return add_to_catalog(session, actor, center, "service", code, service, _audited_service, now)


def update_service(
    session: Session,
    actor: Actor,
    center: Center,
    service: Service,
    data: dict,
    now: datetime | None = None,
) -> Service:
    """Change any of SERVICE_FIELDS; all are checked before any is applied."""
    check.reject_unknown(data, SERVICE_FIELDS)
    values = service_values(session, center, data, service)
    before, after = apply_values(service, values, _audited_service)
    if record_update(session, actor, center.id, "service", service.code, before, after, now):
        catalog_changed(session, center)
    return service


def _category(session: Session, center: Center, code: Any) -> ServiceCategory:
    """The category a service is put in: an unknown one is bad input, not a 404."""
    if not isinstance(code, str) or not check.CODE_RE.match(code):
        check.fail("category", "must be a category code")
    category = _find_category(session, center, code)
    if category is None:
        check.fail("category", f"unknown category '{code}'")
    return category


def _unique_prefix(session: Session, center: Center, value: Any, service: Service | None) -> str:
    prefix = check.prefix(value)
    others = select(Service).where(Service.center_id == center.id, Service.prefix == prefix)
    if service is not None:
        others = others.where(Service.id != service.id)
    other = session.scalars(others.order_by(Service.code).limit(1)).first()
    if other is not None:
        check.fail("prefix", f"'{prefix}' is already used by '{other.code}'")
    return prefix
