"""Shared set-up for the engine-level tests (test_transitions, test_call_order, ...).

Staff accounts here get a placeholder password hash: these tests never log in, and
hashing a real password costs ~0.2 s per account, which adds up over many tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from server import queue
from server.auth import staff_actor
from server.models import Center, StaffUser, Ticket, TicketEvent
from server.queue import Actor

from . import factories

T0 = datetime(2024, 3, 11, 6, 0, tzinfo=UTC)  # Monday 10:00 in Baku (UTC+4, open 09-18)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def quick_staff(session, center: Center, username: str) -> Actor:
    user = StaffUser(
        username=username, password_hash="!not-a-login", role="staff", center_id=center.id
    )
    session.add(user)
    session.flush()
    return staff_actor(user)


@dataclass(frozen=True)
class Env:
    center_code: str
    center_id: int
    kiosk: Actor
    alice: Actor
    bob: Actor
    c1: int  # serves pension-new (A), pension-recalc (B)
    c2: int  # serves pension-recalc (B), pension-new (A), job-seeker (C)
    c3: int  # serves job-seeker (C), unemployment (D)


def make_env(session, code: str = "baku-1", **overrides) -> Env:
    """A center from factories.center_spec (with ``overrides``), two staff, three counters."""
    center = factories.make_center(session, code, **overrides)
    return Env(
        center_code=code,
        center_id=center.id,
        kiosk=factories.kiosk_actor(session, center),
        alice=quick_staff(session, center, f"alice-{code}"),
        bob=quick_staff(session, center, f"bob-{code}"),
        c1=factories.counter(session, center, "1").id,
        c2=factories.counter(session, center, "2").id,
        c3=factories.counter(session, center, "3").id,
    )


def issue(
    session, env: Env, service: str = "pension-new", priority: str | None = None, minute=0
) -> Ticket:
    return queue.issue_ticket(
        session, env.center_code, service, "az", priority, env.kiosk, now=at(minute)
    ).ticket


def events(session, ticket_id: int) -> list[TicketEvent]:
    return list(
        session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
    )


def event_count(session, ticket_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    )
