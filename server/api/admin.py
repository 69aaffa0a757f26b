"""A center's administration (managers and admins): catalog, counters, staff, devices,
hours and priority classes, and the audit log of those changes. Thin: the rules, the
audit entries and the announcements are server/admin/'s."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import TypeVar
from zoneinfo import ZoneInfo

from flask import Response, jsonify, request
from sqlalchemy.orm import Session, object_session

from .. import admin, limits
from ..auth import MANAGER_ROLES
from ..errors import InvalidInput
from ..extensions import db
from ..models import Center, Counter, Device, StaffUser, utcnow
from ..queue import Actor
from ..queue.lookup import get_center, get_counter, get_service
from ..queue.numbering import business_day
from ..reports.tickets import out_of_order_rates, rate
from ..serializers import iso
from . import bp
from .access import caller
from .request import json_body, reject_unknown

Row = TypeVar("Row")
OUT_OF_ORDER_DAYS = 30  # the staff table's out-of-order rate: the last 30 local days


@contextmanager
def managing(center_code: str, *, write: bool = False) -> Iterator[tuple[Session, Actor, Center]]:
    """A session on one center for its manager or an admin (checked before anything else);
    ``write``: a write transaction, committed when the block ends without an error."""
    actor = caller(roles=MANAGER_ROLES)
    with db.write() if write else db.read() as s:
        center = get_center(s, center_code)
        admin.require_admin(actor, center)
        yield s, actor, center


def _create(
    center_code: str, create: Callable[..., Row], to_json: Callable[[Row], dict]
) -> tuple[Response, int]:
    """POST a new row: ``create`` it from the body (which checks it), answer 201 with
    ``to_json`` of it."""
    data = json_body()
    with managing(center_code, write=True) as (s, actor, center):
        body = to_json(create(s, actor, center, data))
    return jsonify(body), 201


def _update(
    center_code: str,
    find: Callable[[Session, Center, str], Row],
    key: str,
    update: Callable[..., Row],
    to_json: Callable[[Row], dict],
) -> Response:
    """PATCH a row: ``find`` the center's ``key`` (404 if it has none), ``update`` it
    with the body, answer with ``to_json`` of it."""
    data = json_body()
    with managing(center_code, write=True) as (s, actor, center):
        row = find(s, center, key)
        body = to_json(update(s, actor, center, row, data))
    return jsonify(body)


def _staff_json(user: StaffUser) -> dict:
    return {**admin.staff_state(user), "created_at": iso(user.created_at)}


def _staff_with_rates(s: Session, center: Center) -> list[dict]:
    """The center's staff, each with their out-of-order rate over the center's last
    OUT_OF_ORDER_DAYS local days (today included): a manager sees who skips the queue."""
    today = business_day(center, utcnow())
    start = today - timedelta(days=OUT_OF_ORDER_DAYS - 1)
    rates = out_of_order_rates(s, center, start, today)
    users = s.query(StaffUser).filter(StaffUser.center_id == center.id).order_by(StaffUser.username)
    return [
        {**_staff_json(u), "out_of_order": {**rates.get(u.id, rate()), "days": OUT_OF_ORDER_DAYS}}
        for u in users
    ]


def _device_json(device: Device) -> dict:
    return {
        "name": device.name,
        "kind": device.kind,
        "printer": (device.settings or {}).get("printer"),
        "token_rotated_at": iso(device.token_rotated_at),
        "printer_status": device.printer_status,
    }


def _device_with_token(made: tuple[Device, str | None]) -> dict:
    """A device and its new token, shown this once."""
    device, token = made
    return {**_device_json(device), "token": token}


def _counter_json(counter: Counter) -> dict:
    s = object_session(counter)  # the one it was loaded in: its services are there
    return {"id": counter.id, **admin.counter_state(s, counter), "state": counter.state}


@bp.get("/centers/<center_code>/admin")
def admin_overview(center_code: str):
    """Everything the admin page edits, in one answer (inactive services included)."""
    with managing(center_code) as (s, actor, center):
        body = {
            "center": admin.center_json(center),
            "categories": [admin.category_state(c) for c in center.categories],
            "services": [admin.service_state(x) for x in center.services],
            "counters": [_counter_json(c) for c in center.counters],
            "staff": _staff_with_rates(s, center),
            "devices": [
                _device_json(d)
                for d in s.query(Device).filter(Device.center_id == center.id).order_by(Device.name)
            ],
        }
    return jsonify(body)


# --- catalog -------------------------------------------------------------------------


@bp.post("/centers/<center_code>/categories")
def create_category(center_code: str):
    return _create(center_code, admin.create_category, admin.category_state)


@bp.patch("/centers/<center_code>/categories/<category_code>")
def update_category(center_code: str, category_code: str):
    return _update(
        center_code,
        admin.get_category_at,
        category_code,
        admin.update_category,
        admin.category_state,
    )


@bp.post("/centers/<center_code>/services")
def create_service(center_code: str):
    return _create(center_code, admin.create_service, admin.service_state)


@bp.patch("/centers/<center_code>/admin/services/<service_code>")
def edit_service(center_code: str, service_code: str):
    """Every editable field of a service (PATCH /centers/<c>/services/<s> changes the
    figures only); checked like the center file."""
    return _update(
        center_code, get_service, service_code, admin.update_service, admin.service_state
    )


# --- counters -------------------------------------------------------------------------


@bp.post("/centers/<center_code>/counters")
def create_counter(center_code: str):
    return _create(center_code, admin.create_counter, _counter_json)


@bp.put("/counters/<int:counter_id>/services")
def set_counter_services(counter_id: int):
    data = json_body()
    actor = caller(roles=MANAGER_ROLES)  # before the counter is looked up
    with db.write() as s:
        counter = get_counter(s, counter_id)
        center = counter.center
        admin.require_admin(actor, center)
        body = _counter_json(admin.set_counter_services(s, actor, center, counter, data))
    return jsonify(body)


# --- staff ----------------------------------------------------------------------------


@bp.post("/centers/<center_code>/staff")
def create_staff(center_code: str):
    return _create(center_code, admin.create_staff, _staff_json)


@bp.patch("/centers/<center_code>/staff/<username>")
def update_staff(center_code: str, username: str):
    return _update(center_code, admin.get_staff_at, username, admin.update_staff, _staff_json)


@bp.post("/centers/<center_code>/staff/<username>/password")
def reset_password(center_code: str, username: str):
    data = json_body()
    with managing(center_code, write=True) as (s, actor, center):
        user = admin.get_staff_at(s, center, username)
        password = admin.reset_password(s, actor, center, user, data)
        # Echo a generated password once; never one the caller chose.
        body = {"username": user.username, "password": None if "password" in data else password}
    return jsonify(body)


# --- devices ---------------------------------------------------------------------------


@bp.post("/centers/<center_code>/devices")
def create_device(center_code: str):
    return _create(center_code, admin.create_device, _device_with_token)


@bp.patch("/centers/<center_code>/devices/<name>")
def update_device(center_code: str, name: str):
    update = partial(admin.update_device, resync=True)  # the screen fetches its settings
    return _update(center_code, admin.get_device_at, name, update, _device_json)


@bp.post("/centers/<center_code>/devices/<name>/token")
def rotate_device_token(center_code: str, name: str):
    json_body()  # nothing to send, but a body that is not JSON is still refused
    with managing(center_code, write=True) as (s, actor, center):
        device = admin.get_device_at(s, center, name)
        token = admin.rotate_device_token(s, actor, center, device)
        body = _device_with_token((device, token))
    return jsonify(body)


# --- the center ----------------------------------------------------------------------------


@bp.patch("/centers/<center_code>/settings")
def update_center_settings(center_code: str):
    """The hours, priority classes, calendar (breaks, closed weekdays and days) and door
    settings (hall capacity, joining from home, absent hold); the call policy is
    PATCH /centers/<c>/policy."""
    data = json_body()
    reject_unknown(data, {"hours", "priority_classes", *admin.CALENDAR_FIELDS})
    with managing(center_code, write=True) as (s, actor, center):
        body = admin.center_json(admin.update_center(s, actor, center, data))
    return jsonify(body)


# --- the audit log ----------------------------------------------------------------------------


def _bound(name: str, tz: ZoneInfo, *, end: bool) -> datetime | None:
    """?from= / ?to=: a date (the center's local day; ``to`` includes it) or a datetime
    with its offset."""
    value = request.args.get(name)
    if not value:
        return None
    try:
        moment = (
            date.fromisoformat(value)
            if len(value) == 10
            else datetime.fromisoformat(value.replace("Z", "+00:00"))
        )
    except ValueError:
        raise InvalidInput(
            f"'{name}' must be a date (2026-11-28) or a date and time with offset", field=name
        ) from None
    problem = limits.day_problem(moment)
    if problem:
        raise InvalidInput(f"'{name}' {problem}", field=name)
    if not isinstance(moment, datetime):
        return datetime.combine(moment + timedelta(days=1 if end else 0), time(0), tz)
    if moment.tzinfo is None:
        raise InvalidInput(f"'{name}' needs an offset, e.g. +04:00 or Z", field=name)
    return moment


def _entry_json(entry) -> dict:
    return {
        "id": entry.id,
        "at": iso(entry.at),
        "user": entry.username,
        "entity_type": entry.entity_type,
        "entity_id": entry.entity_id,
        "action": entry.action,
        "before": entry.before,
        "after": entry.after,
    }


@bp.get("/centers/<center_code>/audit")
def center_audit(center_code: str):
    page = request.args.get("page", "1")  # digits, 1 to 2**31 - 1 (openapi.json)
    with managing(center_code) as (s, actor, center):
        tz = ZoneInfo(center.timezone)
        entries, total = admin.list_audit(
            s,
            center,
            entity_type=request.args.get("type") or None,
            user=request.args.get("user") or None,
            since=_bound("from", tz, end=False),
            until=_bound("to", tz, end=True),
            page=int(page),
        )
        body = {
            "entries": [_entry_json(e) for e in entries],
            "page": int(page),
            "page_size": admin.AUDIT_PAGE_SIZE,
            "total": total,
        }
    return jsonify(body)
