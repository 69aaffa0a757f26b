"""A center's queue figures and catalog, and the settings managers may change here: a
service's figures and the call policy. The changes are server/admin/'s, as the admin
page's and the center file's are."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import jsonify
from sqlalchemy.orm import Session

from .. import admin, queue
from ..auth import RECEPTION_ROLES, require_member
from ..extensions import db
from ..models import COUNTER_ROLES, Center
from ..queue.lookup import get_center, get_service
from . import bp
from .admin import managing
from .request import authenticated_actor, json_body, reject_unknown

SERVICE_FIGURES = {"target_wait_min", "default_service_min", "daily_quota", "active"}
POLICY = {"call_policy", "priority_ratio", "recalls_before_no_show"}


@contextmanager
def _as_member(center_code: str, roles=COUNTER_ROLES) -> Iterator[tuple[Session, Center]]:
    """A read session on a center for its devices and its staff with one of ``roles``."""
    actor = authenticated_actor()
    with db.read() as s:
        center = get_center(s, center_code)
        require_member(actor, center.id, roles=roles)
        yield s, center


@bp.get("/centers/<center_code>/queue")
def center_queue(center_code: str):
    with _as_member(center_code) as (s, center):
        body = queue.queue_stats(s, center)
    return jsonify(body)


@bp.get("/centers/<center_code>/services")
def center_services(center_code: str):
    """The catalog as a kiosk shows it: categories, services, names, current estimates
    (the reception screen too: how long for each service)."""
    with _as_member(center_code, RECEPTION_ROLES) as (s, center):
        loads = queue.service_loads(s, list(center.services))
        stats = {row["service"]: row for row in queue.queue_stats(s, center)["services"]}
        body = {
            "center": admin.center_json(center),
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


def _sent(data: dict, *, null_means: tuple[str, ...] = ()) -> dict:
    """The fields sent: null leaves a field as it is, except those in ``null_means``
    (``daily_quota``: null is no quota)."""
    return {key: value for key, value in data.items() if value is not None or key in null_means}


@bp.patch("/centers/<center_code>/services/<service_code>")
def update_service(center_code: str, service_code: str):
    """A service's figures (PATCH /centers/<c>/admin/services/<s> changes everything)."""
    data = json_body()
    reject_unknown(data, SERVICE_FIGURES)
    with managing(center_code, write=True) as (s, actor, center):
        service = get_service(s, center, service_code)
        changes = _sent(data, null_means=("daily_quota",))
        admin.update_service(s, actor, center, service, changes)
        stats = {row["service"]: row for row in queue.queue_stats(s, center)["services"]}
        body = _service_json(service, stats[service.code])
    return jsonify(body)


@bp.patch("/centers/<center_code>/policy")
def update_policy(center_code: str):
    data = json_body()
    reject_unknown(data, POLICY)
    with managing(center_code, write=True) as (s, actor, center):
        admin.update_center(s, actor, center, _sent(data))
        body = {key: value for key, value in admin.center_state(center).items() if key in POLICY}
    return jsonify(body)
