"""The live forecast and its warnings, for the center's managers (docs/forecast.md).

GET /centers/<c>/forecast computes the forecast from the present state on request,
kept per center for FORECAST_CACHE_S (a page several managers keep open costs one
forecast per period), with the open warnings read fresh each time. POST .../apply does
what a warning's suggestion says, through the same paths as the admin page and the
counter screen, only on the counter as the suggestion saw it (else 409).
"""

from __future__ import annotations

import threading
import time

from flask import current_app, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import admin, queue
from ..errors import Conflict, NotFound
from ..extensions import db, socketio
from ..forecast import warnings
from ..forecast.warnings import Assessment, Settings, warning_json
from ..models import Center, ForecastWarning, Service, utcnow
from ..queue.counters import lock_counter
from ..serializers import iso
from . import bp
from .admin import managing
from .request import json_body

_cache: dict[int, tuple[float, dict]] = {}  # center id -> (monotonic time, body)
_cache_lock = threading.Lock()


def forget(center_id: int) -> None:
    with _cache_lock:
        _cache.pop(center_id, None)


def _forecast_body(s: Session, center: Center, settings: Settings) -> dict:
    """The forecast part of the answer (warnings apart), from the cache if fresh."""
    max_age = float(current_app.config.get("FORECAST_CACHE_S", 15))
    with _cache_lock:
        kept = _cache.get(center.id)
    if kept is not None and time.monotonic() - kept[0] < max_age:
        return kept[1]
    now = utcnow()
    # Other requests go on between the simulated runs (gevent: this is CPU work).
    a = warnings.assess(
        s, center, now, settings, suggestions=False, between=lambda: socketio.sleep(0)
    )
    body = {
        "center": center.code,
        "generated_at": iso(now),
        "horizon_min": round(settings.horizon_s / 60),
        "runs": settings.runs,
        "threshold": settings.threshold,
        "services": _services_json(s, center, a),
    }
    if max_age > 0:
        with _cache_lock:
            _cache[center.id] = (time.monotonic(), body)
    return body


def _services_json(s: Session, center: Center, a: Assessment) -> list[dict]:
    rows = s.execute(
        select(Service.id, Service.code, Service.name, Service.target_wait_min)
        .where(Service.center_id == center.id, Service.id.in_(list(a.forecast.services) or [0]))
        .order_by(Service.position, Service.id)
    ).all()
    out = []
    for row in rows:
        f = a.forecast.services[row.id]
        out.append(
            {
                "service": row.code,
                "name": row.name,
                "target_wait_min": row.target_wait_min,
                "window_breach_probability": round(f.window_probability, 3),
                "points": [
                    {
                        "at": iso(a.at(p.at_s)),
                        "expected_arrivals": round(p.expected_arrivals, 2),
                        "wait_p50_s": round(p.wait_p50_s),
                        "wait_p90_s": round(p.wait_p90_s),
                        "breach_probability": round(p.breach_probability, 3),
                    }
                    for p in f.points
                ],
            }
        )
    return out


def _with_warnings(s: Session, center: Center, body: dict) -> dict:
    codes = dict(
        s.execute(select(Service.id, Service.code).where(Service.center_id == center.id)).all()
    )
    open_ = [
        warning_json(w, codes.get(w.service_id, ""))
        for w in warnings.open_warnings(s, center.id).values()
    ]
    by_service = {w["service"]: w for w in open_}
    services = [{**row, "warning": by_service.get(row["service"])} for row in body["services"]]
    return {**body, "services": services, "warnings": open_}


@bp.get("/centers/<center_code>/forecast")
def center_forecast(center_code: str):
    settings = Settings.of(current_app.config)
    with managing(center_code) as (s, _actor, center):
        body = _with_warnings(s, center, _forecast_body(s, center, settings))
    return jsonify(body)


@bp.post("/centers/<center_code>/forecast/warnings/<int:warning_id>/apply")
def apply_forecast_suggestion(center_code: str, warning_id: int):
    json_body()  # nothing to send, but a body that is not JSON is still refused
    now = utcnow()
    with managing(center_code, write=True) as (s, actor, center):
        warning = s.get(ForecastWarning, warning_id)
        if warning is None or warning.center_id != center.id:
            raise NotFound(f"no forecast warning {warning_id} here", code="warning_not_found")
        suggestion = warning.suggestion
        if warning.applied_at is not None:
            raise Conflict("this suggestion was applied already", code="already_applied")
        if warning.state != "open" or not suggestion:
            raise Conflict(
                "the warning has no suggestion to apply (any more)", code="stale_suggestion"
            )
        try:
            counter = lock_counter(s, suggestion["counter"]["id"])
        except NotFound:  # removed since the suggestion was made
            raise Conflict(
                "the suggested counter is gone since the suggestion was made",
                code="stale_suggestion",
            ) from None
        if counter.center_id != center.id:
            raise Conflict("the suggested counter is not this center's", code="stale_suggestion")
        codes = {sid: s.get(Service, sid) for sid in counter.service_ids}
        active = [svc.code for svc in codes.values() if svc.active]
        basis = suggestion.get("basis", {})
        if active != basis.get("services") or counter.state != basis.get("state"):
            raise Conflict(
                f"counter {counter.label} changed since the suggestion was made",
                code="stale_suggestion",
                counter=counter.label,
            )
        _apply(s, actor, center, counter, suggestion, [svc.code for svc in codes.values()])
        warning.applied_at = now
        warning.applied_by = actor.staff_id
        s.flush()
        counter_body = {"id": counter.id, **admin.counter_state(s, counter), "state": counter.state}
        service_code = s.get(Service, warning.service_id).code
        warning_body = warning_json(warning, service_code)
    forget(center.id)
    settings = Settings.of(current_app.config)
    service = None
    try:  # the change is made: a forecast that fails now must not answer it with a 500
        with db.read() as s:
            center = s.get(Center, center.id)
            fresh = _forecast_body(s, center, settings)
        service = next((x for x in fresh["services"] if x["service"] == service_code), None)
    except Exception:
        current_app.logger.exception("forecast after applying warning %d failed", warning_id)
    return jsonify({"warning": warning_body, "counter": counter_body, "forecast": service})


def _apply(s: Session, actor, center: Center, counter, suggestion: dict, current: list[str]):
    action, service = suggestion["action"], suggestion["service"]
    if action == "open_counter":
        queue.set_counter_state(s, counter.id, "open", actor)
        return
    if action == "raise_service":
        services = [service, *(c for c in current if c != service)]
    elif action == "add_service":
        services = [*current, service]
    else:  # move_service
        services = [service if c == suggestion["from_service"] else c for c in current]
    admin.set_counter_services(s, actor, center, counter, {"services": services})
