"""A center's queue figures and catalog, and the settings managers may change."""

from __future__ import annotations

from flask import jsonify

from .. import admin, queue
from ..auth import require_member, require_staff
from ..extensions import db
from ..queue.audit import Change, announce
from ..queue.lookup import get_center, get_service
from . import bp
from .access import caller
from .request import authenticated_actor, field, json_body, reject_unknown

MANAGERS = ("manager", "admin")


@bp.get("/centers/<center_code>/queue")
def center_queue(center_code: str):
    actor = authenticated_actor()
    with db.read() as s:
        center = get_center(s, center_code)
        require_member(actor, center.id)
        body = queue.queue_stats(s, center)
    return jsonify(body)


@bp.get("/centers/<center_code>/services")
def center_services(center_code: str):
    """The catalog as a kiosk shows it: categories, services, names, current estimates."""
    actor = authenticated_actor()
    with db.read() as s:
        center = get_center(s, center_code)
        require_member(actor, center.id)
        loads = queue.service_loads(s, list(center.services))
        stats = {row["service"]: row for row in queue.queue_stats(s, center)["services"]}
        body = {
            "center": {
                "code": center.code,
                "name": center.name,
                "timezone": center.timezone,
                "hours": {
                    "open": center.opens_at.strftime("%H:%M"),
                    "close": center.closes_at.strftime("%H:%M"),
                },
                "priority_classes": center.priority_classes,
                "call_policy": center.call_policy,
                "priority_ratio": center.priority_ratio,
                "recalls_before_no_show": center.recalls_before_no_show,
            },
            "categories": [
                {
                    "code": category.code,
                    "name": category.name,
                    "services": [
                        _service_json(service, stats[service.code])
                        for service in category.services
                        if service.id in loads
                    ],
                }
                for category in center.categories
            ],
        }
    return jsonify(body)


def _service_json(service, stats: dict) -> dict:
    return {
        "code": service.code,
        "prefix": service.prefix,
        "name": service.name,
        "active": service.active,
        "target_wait_min": service.target_wait_min,
        "default_service_min": service.default_service_min,
        "daily_quota": service.daily_quota,
        "waiting": stats["waiting"],
        "estimated_wait_s": stats["estimated_wait_s"],
    }


@bp.patch("/centers/<center_code>/services/<service_code>")
def update_service(center_code: str, service_code: str):
    data = json_body()
    reject_unknown(data, {"target_wait_min", "default_service_min", "daily_quota", "active"})
    changes = {
        "target_wait_min": field(data, "target_wait_min", int, required=False),
        "default_service_min": field(data, "default_service_min", int, required=False),
        "active": field(data, "active", bool, required=False),
    }  # their ranges are openapi.json's (server/api/validation.py)
    actor = caller(roles=MANAGERS)
    with db.write() as s:
        center = get_center(s, center_code)
        require_staff(actor, center.id, roles=MANAGERS)
        service = get_service(s, center, service_code)
        before = admin.service_state(service)
        for name, value in changes.items():
            if value is not None:
                setattr(service, name, value)
        if "daily_quota" in data:
            service.daily_quota = field(data, "daily_quota", int, required=False)
        # Kiosks and displays redraw their catalog from the next queue.stats.
        announce(s, Change("center", "catalog", center.id))
        s.flush()
        s.refresh(service, ["category"])
        after = admin.service_state(service)
        action = "update"
        if before["active"] != after["active"]:
            action = "activate" if after["active"] else "deactivate"
        admin.record_update(
            s, actor, center.id, "service", service.code, before, after, action=action
        )
        stats = {row["service"]: row for row in queue.queue_stats(s, center)["services"]}
        body = _service_json(service, stats[service.code])
    return jsonify(body)


@bp.patch("/centers/<center_code>/policy")
def update_policy(center_code: str):
    data = json_body()
    reject_unknown(data, {"call_policy", "priority_ratio", "recalls_before_no_show"})
    policy = field(data, "call_policy", str, required=False)
    ratio = field(data, "priority_ratio", int, required=False)
    recalls = field(data, "recalls_before_no_show", int, required=False)
    # The policies and the ranges are openapi.json's (server/api/validation.py).
    actor = caller(roles=MANAGERS)
    with db.write() as s:
        center = get_center(s, center_code)
        require_staff(actor, center.id, roles=MANAGERS)
        before = admin.center_state(center)
        if policy is not None:
            center.call_policy = policy
        if ratio is not None:
            center.priority_ratio = ratio
        if recalls is not None:
            center.recalls_before_no_show = recalls
        admin.record_center_change(s, actor, center, before)
        body = {
            "call_policy": center.call_policy,
            "priority_ratio": center.priority_ratio,
            "recalls_before_no_show": center.recalls_before_no_show,
        }
    return jsonify(body)
