"""Issuing tickets at a kiosk (or by staff on a visitor's behalf)."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput
from ..models import (
    LANE_NORMAL,
    LANE_PRIORITY,
    LANGUAGES,
    IdempotencyKey,
    Service,
    Ticket,
    utcnow,
)
from .actor import Actor
from .audit import record
from .lookup import get_center, get_service
from .numbering import business_day, next_number

MAX_IDEMPOTENCY_KEY_LENGTH = 128


@dataclass
class IssueResult:
    ticket: Ticket
    created: bool  # False when an Idempotency-Key replayed an earlier ticket


def new_tracking_token() -> str:
    """128 random bits, URL-safe: the visitor's only handle on the ticket."""
    return secrets.token_urlsafe(16)


def issue_ticket(
    session: Session,
    center_code: str,
    service_code: str,
    language: str,
    priority: str | None,
    actor: Actor,
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> IssueResult:
    now = now or utcnow()
    center = get_center(session, center_code)
    if language not in LANGUAGES:
        raise InvalidInput(
            f"language must be one of {', '.join(LANGUAGES)}, not {language!r}", field="language"
        )
    if priority is not None and priority not in center.priority_classes:
        allowed = ", ".join(center.priority_classes) or "none at this center"
        raise InvalidInput(
            f"unknown priority class {priority!r}; allowed: {allowed}", field="priority"
        )
    service = get_service(session, center, service_code)

    request_hash = _request_hash(center_code, service_code, language, priority)
    if idempotency_key is not None:
        replay = _replay(session, actor, idempotency_key, request_hash)
        if replay is not None:
            return IssueResult(replay, created=False)

    if not service.active:
        raise Conflict(
            f"service '{service.code}' is not available at the moment", code="service_inactive"
        )
    day = business_day(center, now)
    _check_quota(session, service, day)

    ticket = Ticket(
        center_id=center.id,
        service_id=service.id,
        business_day=day,
        prefix=service.prefix,
        number=next_number(session, center.id, service.prefix, day),
        status="waiting",
        priority=priority,
        language=language,
        tracking_token=new_tracking_token(),
        lane=LANE_PRIORITY if priority else LANE_NORMAL,
        waiting_since=now,
        due_at=now + timedelta(minutes=service.target_wait_min),
        device_id=actor.device_id,
        staff_id=None,
        issued_at=now,
    )
    session.add(ticket)
    session.flush()
    record(session, ticket, "issue", None, actor, now, counter_id=None, priority=priority)
    if idempotency_key is not None:
        session.add(
            IdempotencyKey(
                scope=actor.idempotency_scope,
                key=idempotency_key,
                request_hash=request_hash,
                ticket_id=ticket.id,
                created_at=now,
            )
        )
        session.flush()
    return IssueResult(ticket, created=True)


def _request_hash(*parts: str | None) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _replay(session: Session, actor: Actor, key: str, request_hash: str) -> Ticket | None:
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters",
            field="Idempotency-Key",
        )
    earlier = session.get(IdempotencyKey, (actor.idempotency_scope, key))
    if earlier is None:
        return None
    if earlier.request_hash != request_hash:
        raise InvalidInput(
            "this Idempotency-Key was already used for a different ticket request",
            code="idempotency_key_reused",
            field="Idempotency-Key",
        )
    return session.get(Ticket, earlier.ticket_id)


def _check_quota(session: Session, service: Service, day) -> None:
    if service.daily_quota is None:
        return
    issued = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.service_id == service.id, Ticket.business_day == day)
    )
    if issued >= service.daily_quota:
        raise Conflict(
            f"service '{service.code}' has reached its daily quota of {service.daily_quota} "
            "tickets",
            code="quota_reached",
        )
