"""Test data builders: a center from the same dict format ``novbe import-center`` reads."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from sqlalchemy import select

from server.auth import (
    create_staff,
    device_actor,
    issue_staff_token,
    rotate_device_token,
    staff_actor,
)
from server.importer import import_center
from server.models import Center, Counter, Device, StaffUser

PASSWORD = "correct-horse-battery"


def names(text: str) -> dict[str, str]:
    return {"az": f"{text} (az)", "ru": f"{text} (ru)", "en": text}


def center_spec(code: str = "baku-1", **overrides: Any) -> dict[str, Any]:
    """A small center: 2 categories, 4 services, 3 counters, a kiosk and a display."""
    spec = {
        "code": code,
        "name": names(f"Center {code}"),
        "timezone": "Asia/Baku",
        "hours": {"open": "09:00", "close": "18:00"},
        "priority_classes": ["disability", "elderly", "veteran", "pregnant"],
        "call_policy": "strict",
        "priority_ratio": 2,
        "recalls_before_no_show": 1,
        "categories": [
            {
                "code": "pensions",
                "name": names("Pensions"),
                "services": [
                    {
                        "code": "pension-new",
                        "prefix": "A",
                        "target_wait_min": 15,
                        "name": names("New pension"),
                    },
                    {
                        "code": "pension-recalc",
                        "prefix": "B",
                        "target_wait_min": 5,
                        "name": names("Pension recalculation"),
                    },
                ],
            },
            {
                "code": "employment",
                "name": names("Employment"),
                "services": [
                    {
                        "code": "job-seeker",
                        "prefix": "C",
                        "target_wait_min": 10,
                        "name": names("Job seeker registration"),
                    },
                    {
                        "code": "unemployment",
                        "prefix": "D",
                        "target_wait_min": 20,
                        "daily_quota": 3,
                        "name": names("Unemployment benefit"),
                    },
                ],
            },
        ],
        "counters": [
            {"label": "1", "services": ["pension-new", "pension-recalc"]},
            {"label": "2", "services": ["pension-recalc", "pension-new", "job-seeker"]},
            {"label": "3", "services": ["job-seeker", "unemployment"]},
        ],
        "devices": [{"kind": "kiosk", "name": "kiosk-1"}, {"kind": "display", "name": "hall"}],
    }
    spec.update(deepcopy(overrides))
    return spec


def make_center(session, code: str = "baku-1", **overrides: Any) -> Center:
    import_center(session, center_spec(code, **overrides))
    return session.scalar(select(Center).where(Center.code == code))


def counter(session, center: Center, label: str) -> Counter:
    return session.scalar(
        select(Counter).where(Counter.center_id == center.id, Counter.label == label)
    )


def device(session, center: Center, name: str = "kiosk-1") -> Device:
    return session.scalar(select(Device).where(Device.center_id == center.id, Device.name == name))


def kiosk_actor(session, center: Center):
    return device_actor(device(session, center, "kiosk-1"))


def make_staff(session, username: str, role: str = "staff", center_code: str | None = "baku-1"):
    user = create_staff(session, username, PASSWORD, role, center_code)
    return staff_actor(user)


def staff_token(session, username: str) -> str:
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    token, _ = issue_staff_token(session, user, hours=1)
    return token


def device_token(session, center: Center, name: str) -> str:
    return rotate_device_token(session, device(session, center, name))
