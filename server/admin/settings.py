"""A center and its settings: name, time zone, opening hours, priority classes, the
call policy (how call-next mixes priority visitors in, and how many recalls come
before a no-show), and the calendar and door settings of appointments (breaks, closed
weekdays and days, the hall's capacity, joining from home, how long an absent ticket
keeps its place once passed over). The admin page changes the hours, classes,
calendar and door settings, ``PATCH /policy`` the call policy, and a center file all of
them; each goes through :func:`update_center`."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import CALL_POLICIES, Center
from ..queue.actor import Actor
from . import validation as check
from .audit import apply_values, record, record_update
from .catalog import catalog_changed

# The calendar (server/appointments/calendar.py) and the door (hall.py, remote.py).
CALENDAR_FIELDS = (
    "breaks",
    "closed_weekdays",
    "closed_days",
    "hall_capacity",
    "remote_joining",
    "absent_hold_min",
)
CENTER_FIELDS = {
    "name",
    "timezone",
    "hours",
    "priority_classes",
    "call_policy",
    "priority_ratio",
    "recalls_before_no_show",
    *CALENDAR_FIELDS,
}
MAX_PRIORITY_RATIO = 100
MAX_RECALLS = 10
DEFAULT_HOURS = (time(9, 0), time(18, 0))


def center_state(center: Center) -> dict:
    return {
        "name": center.name,
        "timezone": center.timezone,
        "hours": {
            "open": center.opens_at.strftime("%H:%M"),
            "close": center.closes_at.strftime("%H:%M"),
        },
        "priority_classes": list(center.priority_classes or []),
        "call_policy": center.call_policy,
        "priority_ratio": center.priority_ratio,
        "recalls_before_no_show": center.recalls_before_no_show,
        "breaks": [dict(b) for b in center.breaks or []],
        "closed_weekdays": list(center.closed_weekdays or []),
        "closed_days": list(center.closed_days or []),
        "hall_capacity": center.hall_capacity,
        "remote_joining": bool(center.remote_joining),
        "absent_hold_min": center.absent_hold_min,
    }


def center_json(center: Center) -> dict:
    """The center as the API shows it (its catalog and its admin page)."""
    return {"code": center.code, **center_state(center)}


def create_center(
    session: Session, actor: Actor, data: dict, now: datetime | None = None
) -> Center:
    """A new center: ``code`` and ``name``, and any other of CENTER_FIELDS (else Asia/Baku,
    09:00 to 18:00, no priority classes, the strict policy)."""
    check.reject_unknown(data, CENTER_FIELDS | {"code"})
    code = check.code(data.get("code"), "code")
    if "name" not in data:
        check.fail("name", "is required")
    values = _values(data, DEFAULT_HOURS, [])
    if session.scalar(select(Center).where(Center.code == code)) is not None:
        check.fail("code", f"center '{code}' already exists")
    center = Center(code=code, **values)
    session.add(center)
    session.flush()  # the columns' defaults
    record(session, actor, center.id, "center", code, "create", None, center_state(center), now)
    return center


def update_center(
    session: Session, actor: Actor, center: Center, data: dict, now: datetime | None = None
) -> Center:
    """Change any of CENTER_FIELDS; all are checked before any is applied."""
    check.reject_unknown(data, CENTER_FIELDS)
    values = _values(data, (center.opens_at, center.closes_at), center.breaks or [])
    before, after = apply_values(center, values, center_state)
    if record_update(session, actor, center.id, "center", center.code, before, after, now):
        catalog_changed(session, center)
    return center


def _values(data: dict, hours: tuple[time, time], breaks: list) -> dict[str, Any]:
    """The checked column values of ``data``; ``hours`` and ``breaks``: the opening hours
    and breaks so far (new hours must still hold the breaks kept)."""
    values: dict[str, Any] = {}
    if "name" in data:
        values["name"] = check.names(data["name"], "name")
    if "timezone" in data:
        values["timezone"] = check.timezone(data["timezone"])
    if "hours" in data:
        values["opens_at"], values["closes_at"] = _hours(data["hours"], hours)
    if "priority_classes" in data:
        values["priority_classes"] = check.priority_classes(data["priority_classes"])
    if "call_policy" in data:
        values["call_policy"] = check.one_of(data["call_policy"], "call_policy", CALL_POLICIES)
    if "priority_ratio" in data:
        values["priority_ratio"] = check.whole_number(
            data["priority_ratio"], "priority_ratio", minimum=1, maximum=MAX_PRIORITY_RATIO
        )
    if "recalls_before_no_show" in data:
        values["recalls_before_no_show"] = check.whole_number(
            data["recalls_before_no_show"],
            "recalls_before_no_show",
            minimum=0,
            maximum=MAX_RECALLS,
        )
    if "breaks" in data or "hours" in data:
        opens, closes = values.get("opens_at", hours[0]), values.get("closes_at", hours[1])
        values["breaks"] = check.breaks(data.get("breaks", breaks), opens, closes)
    if "closed_weekdays" in data:
        values["closed_weekdays"] = check.weekdays(data["closed_weekdays"])
    if "closed_days" in data:
        values["closed_days"] = check.dates(data["closed_days"])
    if "hall_capacity" in data:
        values["hall_capacity"] = check.optional_count(
            data["hall_capacity"], "hall_capacity", minimum=1, maximum=check.MAX_HALL_CAPACITY
        )
    if "remote_joining" in data:
        values["remote_joining"] = check.boolean(data["remote_joining"], "remote_joining")
    if "absent_hold_min" in data:
        values["absent_hold_min"] = check.minutes(
            data["absent_hold_min"], "absent_hold_min", minimum=0
        )
    return values


def _hours(value: Any, current: tuple[time, time]) -> tuple[time, time]:
    """``{open, close}``, either left out to keep it; close must be later than open."""
    if not isinstance(value, dict):
        check.fail("hours", "must be a mapping like {open: '09:00', close: '18:00'}")
    check.reject_unknown(value, {"open", "close"})
    opens, closes = current
    if "open" in value:
        opens = check.clock_time(value["open"], "hours.open")
    if "close" in value:
        closes = check.clock_time(value["close"], "hours.close")
    if closes <= opens:
        check.fail("hours", "close must be later than open")
    return opens, closes
