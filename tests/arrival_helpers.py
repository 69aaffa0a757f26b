"""Shared set-up for the arrival tests (test_checkin, test_remote_tickets, test_hall):
bookings made directly (the booking rules are test_booking's), services' settings."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select

from server.appointments.booking import new_code
from server.models import Appointment, Center, Service
from server.queue.numbering import local_day

from .engine_helpers import Env


def service(s, center_id: int, code: str) -> Service:
    return s.scalar(select(Service).where(Service.center_id == center_id, Service.code == code))


def book(
    s,
    center_id: int,
    start: datetime,
    service_code: str = "pension-new",
    *,
    code: str | None = None,
    state: str = "booked",
    language: str = "en",
) -> Appointment:
    center = s.get(Center, center_id)
    appointment = Appointment(
        center_id=center_id,
        service_id=service(s, center_id, service_code).id,
        start=start,
        business_day=local_day(center.timezone, start),
        code=code or new_code(),
        token=secrets.token_urlsafe(16),
        language=language,
        state=state,
    )
    s.add(appointment)
    s.flush()
    return appointment


def remote_on(s, env: Env, *codes: str, cap: int | None = None) -> None:
    """Joining from home switched on at the center and for ``codes``."""
    s.get(Center, env.center_id).remote_joining = True
    for code in codes:
        svc = service(s, env.center_id, code)
        svc.remote_joining = True
        svc.remote_daily_cap = cap


def remote_env(db) -> Env:
    """The engine tests' center (engine_helpers.make_env) with joining from home on for
    pension-new: the ``env`` fixture of the arrival tests."""
    from .engine_helpers import make_env

    with db.write() as s:
        env = make_env(s)
        remote_on(s, env, "pension-new")
        return env
