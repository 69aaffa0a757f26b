"""The durable outbox: messages are written with the change that causes them and sent
later by the worker (worker.py), never inside a web request.

* :func:`enqueue` inserts a message unless one with its ``key`` exists (one message per
  ticket or event, kind and channel, however often it is produced);
* :func:`claim_due` hands due messages to one worker: a claimed row is skipped by every
  other worker until its claim lapses, so two processes never send it at once;
* :func:`record_attempt` logs a try and moves the message on: ``sent``, retried after
  :data:`BACKOFF_S` (with jitter), or ``dead`` after the last attempt;
* :func:`replay` sends a message again, by hand (a manager on the delivery log), with
  the whole retry schedule again;
* :func:`purge` deletes finished messages older than ``OUTBOX_KEEP_DAYS`` (maintenance).

Plain functions over a session; the caller owns the transaction.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..models import DeliveryAttempt, OutboxMessage, utcnow

# Waits before the 2nd, 3rd, ... attempt: 5 s, 30 s, 5 min, 30 min, 2 h (the Standard
# Webhooks schedule); after the last of them fails the message is dead.
BACKOFF_S = (5, 30, 5 * 60, 30 * 60, 2 * 60 * 60)
MAX_ATTEMPTS = len(BACKOFF_S) + 1
JITTER = 0.2  # each wait is stretched or shrunk by up to this share, at random
CLAIM_S = 60  # a claimed message is another worker's again after this long
KEEP_DAYS = 30  # finished messages are purged after this long (config OUTBOX_KEEP_DAYS)
# Set by :func:`enqueue` in this process: the worker wakes after a commit only if a
# message may have been written, not after every ticket change (it polls anyway).
ENQUEUED = threading.Event()


@dataclass(frozen=True)
class Outcome:
    """What one attempt at sending came to (a channel's answer)."""

    ok: bool
    status: int | None = None  # the HTTP status or SMTP reply code, where there is one
    response: str | None = None  # the start of the answer's body, for the log
    error: str | None = None  # why it failed, in a few words (never an address)
    permanent: bool = False  # retrying cannot help (a push subscription that is gone)
    duration_ms: int = 0


def enqueue(
    session: Session,
    *,
    key: str,
    channel: str,
    kind: str,
    body: dict[str, Any],
    center_id: int | None = None,
    ticket_id: int | None = None,
    contact_id: int | None = None,
    subscription_id: int | None = None,
    at: datetime | None = None,
    now: datetime | None = None,
) -> bool:
    """Add a message to send at ``at`` (default now); False if ``key`` was there already."""
    now = now or utcnow()
    ENQUEUED.set()
    values = {
        "key": key[:200],
        "channel": channel,
        "kind": kind,
        "body": body,
        "center_id": center_id,
        "ticket_id": ticket_id,
        "contact_id": contact_id,
        "subscription_id": subscription_id,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": at or now,
        "created_at": now,
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(OutboxMessage).values(values)
    statement = statement.on_conflict_do_nothing(index_elements=["key"])
    return session.execute(statement.returning(OutboxMessage.id)).scalar() is not None


def claim_due(
    session: Session,
    worker: str,
    now: datetime | None = None,
    limit: int = 20,
    skip: Collection[int] = (),
    claim_s: float = CLAIM_S,
) -> list[OutboxMessage]:
    """Claim up to ``limit`` messages due by ``now`` for ``worker`` (until now +
    ``claim_s``), oldest due first; returns them. ``skip``: ids the caller is still
    sending (a send can outlast its claim; it must not be claimed and sent again)."""
    now = now or utcnow()
    due = _due(now, skip)
    ids = session.scalars(
        select(OutboxMessage.id).where(due).order_by(OutboxMessage.next_attempt_at).limit(limit)
    ).all()
    if not ids:
        return []
    claimed_until = now + timedelta(seconds=claim_s)
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), due)  # again: another worker may have been faster
        .values(claimed_by=worker, claimed_until=claimed_until)
        .execution_options(synchronize_session=False)
    )
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == worker)
            .where(OutboxMessage.claimed_until == claimed_until)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .execution_options(populate_existing=True)
        ).all()
    )


def anything_due(session: Session, now: datetime, skip: Collection[int] = ()) -> bool:
    """Whether :func:`claim_due` would find something (a read, for the idle worker)."""
    return session.scalar(select(OutboxMessage.id).where(_due(now, skip)).limit(1)) is not None


def _due(now: datetime, skip: Collection[int]):
    free = or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now)
    due = and_(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now, free)
    return and_(due, OutboxMessage.id.not_in(list(skip))) if skip else due


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt (1-based), with jitter."""
    base = BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1]
    spread = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return timedelta(seconds=base * spread)


def record_attempt(
    session: Session,
    message_id: int,
    worker: str,
    outcome: Outcome,
    now: datetime | None = None,
) -> OutboxMessage | None:
    """Log an attempt of ``worker`` and move the message on; None (and nothing logged)
    if the message is no longer this worker's (its claim lapsed and another took it)."""
    now = now or utcnow()
    message = session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None or message.claimed_by != worker or message.state != "pending":
        return None
    session.add(
        DeliveryAttempt(
            message_id=message.id,
            at=now,
            duration_ms=outcome.duration_ms,
            ok=outcome.ok,
            status=outcome.status,
            response=(outcome.response or None) and outcome.response[:500],
            error=(outcome.error or None) and outcome.error[:500],
        )
    )
    message.attempts += 1
    message.claimed_by = message.claimed_until = None
    if outcome.ok:
        message.state, message.sent_at, message.last_error = "sent", now, None
    else:
        message.last_error = (outcome.error or f"status {outcome.status}")[:500]
        if outcome.permanent or message.attempts >= MAX_ATTEMPTS:
            message.state = "dead"
        else:
            message.next_attempt_at = now + backoff(message.attempts)
    return message


def replay(session: Session, message_id: int, now: datetime | None = None) -> OutboxMessage:
    """Send a message again now (a sent, dead or pending one), keeping its log; its
    attempts start from 0, so it gets the whole retry schedule again."""
    message = session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None:
        raise NotFound(f"no outbox message {message_id}", code="message_not_found")
    message.state = "pending"
    message.attempts = 0
    message.next_attempt_at = now or utcnow()
    message.claimed_by = message.claimed_until = None
    return message


def cancel(session: Session, message: OutboxMessage, reason: str) -> None:
    """No longer wanted (the contact was erased, the channel switched off): never sent."""
    message.state = "cancelled"
    message.last_error = reason[:500]
    message.claimed_by = message.claimed_until = None


def give_up(session: Session, message: OutboxMessage, reason: str) -> None:
    """It cannot be sent as it stands (it could not even be prepared): dead, no attempt."""
    message.state = "dead"
    message.last_error = reason[:500]
    message.claimed_by = message.claimed_until = None


def purge(session: Session, before: datetime) -> int:
    """Delete the finished messages (sent, dead, cancelled) made before ``before`` and
    their attempts; returns how many messages went. Pending ones are never touched."""
    old = select(OutboxMessage.id).where(
        OutboxMessage.state.in_(("sent", "dead", "cancelled")), OutboxMessage.created_at < before
    )
    ids = list(session.scalars(old))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        # Explicitly, not by the foreign key's cascade: SQLite enforces it only when asked.
        session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.message_id.in_(chunk)))
        session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(chunk)))
    return len(ids)


def purge_outbox(session: Session, config: Mapping[str, Any], now: datetime | None = None) -> int:
    """:func:`purge` what is older than ``OUTBOX_KEEP_DAYS`` (default 30; maintenance)."""
    keep = timedelta(days=int(config.get("OUTBOX_KEEP_DAYS", KEEP_DAYS)))
    return purge(session, (now or utcnow()) - keep)


def hold(session: Session, message: OutboxMessage, until: datetime, reason: str) -> None:
    """Leave it pending but not due before ``until`` (its subscription is disabled;
    enabling it makes its messages due again), without counting an attempt."""
    message.next_attempt_at = until
    message.last_error = reason[:500]
    message.claimed_by = message.claimed_until = None
