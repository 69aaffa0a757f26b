"""Shared helpers for the HTTP API tests: who is calling, and checking error bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import func, select

from server.api.openapi import SPEC_PATH
from server.auth import hash_password
from server.models import Center, Counter, CounterStaff, StaffUser, Ticket, TicketEvent

from . import factories

PREFIX = "/api/v1"
SPEC = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
SCHEMAS = SPEC["components"]["schemas"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Api:
    """Tokens for every kind of caller, for center baku-1 and a second center ganja-1."""

    kiosk: dict
    display: dict
    staff: dict  # alice, staff of baku-1
    manager: dict  # maria, manager of baku-1
    admin: dict  # root, network admin (no center)
    other_staff: dict  # olga, staff of ganja-1
    other_manager: dict  # oscar, manager of ganja-1
    other_kiosk: dict
    other_display: dict
    counters: dict[str, int] = field(default_factory=dict)  # baku-1 label -> id
    other_counters: dict[str, int] = field(default_factory=dict)  # ganja-1 label -> id
    staff_ids: dict[str, int] = field(default_factory=dict)  # username -> id


@cache
def password_hash() -> str:
    """factories.PASSWORD hashed once: scrypt is slow by design, five users per test add up."""
    return hash_password(factories.PASSWORD)


def add_staff(session, username: str, role: str, center: Center | None) -> StaffUser:
    # As server.auth.create_staff: every counter of the center.
    counters = []
    if center is not None:
        counters = session.scalars(select(Counter).where(Counter.center_id == center.id))
    user = StaffUser(
        username=username,
        password_hash=password_hash(),
        role=role,
        center_id=center.id if center else None,
        counter_links=[CounterStaff(counter=c) for c in counters],
    )
    session.add(user)
    session.flush()
    return user


def setup_api(db, center: Center) -> Api:
    with db.write() as s:
        other = factories.make_center(s, "ganja-1")
        add_staff(s, "alice", "staff", center)
        add_staff(s, "maria", "manager", center)
        add_staff(s, "root", "admin", None)
        add_staff(s, "olga", "staff", other)
        add_staff(s, "oscar", "manager", other)
        api = Api(
            kiosk=bearer(factories.device_token(s, center, "kiosk-1")),
            display=bearer(factories.device_token(s, center, "hall")),
            staff=bearer(factories.staff_token(s, "alice")),
            manager=bearer(factories.staff_token(s, "maria")),
            admin=bearer(factories.staff_token(s, "root")),
            other_staff=bearer(factories.staff_token(s, "olga")),
            other_manager=bearer(factories.staff_token(s, "oscar")),
            other_kiosk=bearer(factories.device_token(s, other, "kiosk-1")),
            other_display=bearer(factories.device_token(s, other, "hall")),
            counters={label: factories.counter(s, center, label).id for label in "123"},
            other_counters={label: factories.counter(s, other, label).id for label in "123"},
            staff_ids={u.username: u.id for u in s.scalars(select(StaffUser))},
        )
    return api


def assert_error(response, status: int, code: str, *, field: str | None = None) -> dict:
    """The one error shape: ``{"error": {"code", "message"[, "details"]}}``, as JSON."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message"} <= set(error) <= {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    if "details" in error:
        assert isinstance(error["details"], dict) and error["details"], error
    if field is not None:
        assert error.get("details", {}).get("field") == field, error
    return error


def issue(
    client,
    api: Api,
    service: str = "pension-new",
    language: str = "az",
    priority: str | None = None,
    *,
    headers: dict | None = None,
    center: str = "baku-1",
) -> dict:
    """Issue a ticket through the API (as the kiosk unless ``headers`` say otherwise)."""
    response = client.post(
        f"{PREFIX}/centers/{center}/tickets",
        json={"service": service, "language": language, "priority": priority},
        headers=headers if headers is not None else api.kiosk,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def act(client, api: Api, ticket_id: int, action: str, body: dict | None = None, headers=None):
    return client.post(
        f"{PREFIX}/tickets/{ticket_id}/{action}",
        json=body if body is not None else {},
        headers=headers if headers is not None else api.staff,
    )


def call_next(client, api: Api, label: str = "1", headers=None):
    return client.post(
        f"{PREFIX}/counters/{api.counters[label]}/call-next",
        headers=headers if headers is not None else api.staff,
    )


def ticket_count(db) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(Ticket))


def event_actions(db, ticket_id: int) -> list[str]:
    with db.read() as s:
        return list(
            s.scalars(
                select(TicketEvent.action)
                .where(TicketEvent.ticket_id == ticket_id)
                .order_by(TicketEvent.id)
            )
        )


def ticket_status(db, ticket_id: int) -> str:
    with db.read() as s:
        return s.get(Ticket, ticket_id).status
