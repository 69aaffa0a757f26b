"""A center's administration (managers and admins): catalog, counters, staff, devices,
hours and priority classes, and the audit log of those changes. Thin: the rules, the
audit entries and the announcements are server/admin/'s."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import jsonify, request
from sqlalchemy.orm import Session

from .. import admin, limits
from ..auth import MANAGER_ROLES
from ..errors import InvalidInput
from ..extensions import db
from ..models import Center, Counter, Device, StaffUser
from ..queue import Actor
from ..queue.lookup import get_center, get_counter, get_service
from ..serializers import iso
from . import bp
from .access import caller
from .request import json_body, reject_unknown


@contextmanager
def managing(center_code: str, *, write: bool = False) -> Iterator[tuple[Session, Actor, Center]]:
    """A session on one center for its manager or an admin (checked before anything else);
    ``write``: a write transaction, committed when the block ends without an error."""
    actor = caller(roles=MANAGER_ROLES)
    with db.write() if write else db.read() as s:
        center = get_center(s, center_code)
        admin.require_admin(actor, center)
        yield s, actor, center


def _staff_json(user: StaffUser) -> dict:
    return {**admin.staff_state(user), "created_at": iso(user.created_at)}


def _device_json(device: Device) -> dict:
    return {
        "name": device.name,
        "kind": device.kind,
        "printer": (device.settings or {}).get("printer"),
        "token_rotated_at": iso(device.token_rotated_at),
        "printer_status": device.printer_status,
    }


def _counter_json(s, counter: Counter) -> dict:
    return {"id": counter.id, **admin.counter_state(s, counter), "state": counter.state}


@bp.get("/centers/<center_code>/admin")
def admin_overview(center_code: str):
    """Everything the admin page edits, in one answer (inactive services included)."""
    with managing(center_code) as (s, actor, center):
        body = {
            "center": admin.center_json(center),
            "categories": [admin.category_state(c) for c in center.categories],
            "services": [admin.service_state(x) for x in center.services],
            "counters": [_counter_json(s, c) for c in center.counters],
            "staff": [
                _staff_json(u)
                for u in s.query(StaffUser)
                .filter(StaffUser.center_id == center.id)
                .order_by(StaffUser.username)
            ],
            "devices": [
                _device_json(d)
                for d in s.query(Device).filter(Device.center_id == center.id).order_by(Device.name)
            ],
        }
    return jsonify(body)


# --- catalog -------------------------------------------------------------------------


@bp.post("/centers/<center_code>/categories")
def create_category(center_code: str):
    data = json_body()
    with managing(center_code, write=True) as (s, actor, center):
        body = admin.category_state(admin.create_category(s, actor, center, data))
    return jsonify(body), 201


@bp.patch("/centers/<center_code>/categories/<category_code>")
def update_category(center_code: str, category_code: str):
    data = json_body()
    with managing(center_code, write=True) as (s, actor, center):
        category = admin.get_category_at(s, center, category_code)
        body = admin.category_state(admin.update_category(s, actor, center, category, data))
    return jsonify(body)


@bp.post("/centers/<center_code>/services")
def create_service(center_code: str):
    data = json_body()
    with managing(center_code, write=True) as (s, actor, center):
        body = admin.service_state(admin.create_service(s, actor, center, data))
    return jsonify(body), 201


@bp.patch("/centers/<center_code>/admin/services/<service_code>")
def edit_service(center_code: str, service_code: str):
    """Every editable field of a service (PATCH /centers/<c>/services/<s> changes the
    figures only); checked like the center file."""
    data = json_body()
    with managing(center_code, write=True) as (s, actor, center):
        service = get_service(s, center, service_code)
        body = admin.service_state(admin.update_service(s, actor, center, service, data))
    return jsonify(body)


# --- counters -------------------------------------------------------------------------


@bp.post("/centers/<center_code>/counters")
def create_counter(center_code: str):
    data = json_body()
    with managing(center_code, write=True) as (s, actor, center):
        body = _counter_json(s, admin.create_counter(s, actor, center, data))
    return jsonify(body), 201


@bp.put("/counters/<int:counter_id>/services")
def set_counter_services(counter_id: int):
    data = json_body()
    actor = caller(roles=MANAGER_ROLES)  # before the counter is looked up
    with db.write() as s:
        counter = get_counter(s, counter_id)
        center = counter.center
        admin.require_admin(actor, center)
        body = _counter_json(s, admin.set_counter_services(s, actor, center, counter, data))
    return jsonify(body)


# --- staff ----------------------------------------------------------------------------


@bp.post("/centers/<center_code>/staff")
def create_staff(center_code: str):
    data = json_body()
    with managing(center_code, write=True) as (s, actor, center):
        body = _staff_json(admin.create_staff(s, actor, center, data))
    return jsonify(body), 201


@bp.patch("/centers/<center_code>/staff/<username>")
def update_staff(center_code: str, username: str):
    data = json_body()
    with managing(center_code, write=True) as (s, actor, center):
        user = admin.get_staff_at(s, center, username)
        body = _staff_json(admin.update_staff(s, actor, center, user, data))
    return jsonify(body)


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
    data = json_body()
    with managing(center_code, write=True) as (s, actor, center):
        device, token = admin.create_device(s, actor, center, data)
        body = {**_device_json(device), "token": token}
    return jsonify(body), 201


@bp.patch("/centers/<center_code>/devices/<name>")
def update_device(center_code: str, name: str):
    data = json_body()
    with managing(center_code, write=True) as (s, actor, center):
        device = admin.get_device_at(s, center, name)
        body = _device_json(admin.update_device(s, actor, center, device, data, resync=True))
    return jsonify(body)


@bp.post("/centers/<center_code>/devices/<name>/token")
def rotate_device_token(center_code: str, name: str):
    json_body()  # nothing to send, but a body that is not JSON is still refused
    with managing(center_code, write=True) as (s, actor, center):
        device = admin.get_device_at(s, center, name)
        token = admin.rotate_device_token(s, actor, center, device)
        body = {**_device_json(device), "token": token}
    return jsonify(body)


# --- the center ----------------------------------------------------------------------------


@bp.patch("/centers/<center_code>/settings")
def update_center_settings(center_code: str):
    """The hours and priority classes (the call policy is PATCH /centers/<c>/policy)."""
    data = json_body()
    reject_unknown(data, {"hours", "priority_classes"})
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
