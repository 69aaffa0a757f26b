"""Counter state: open, paused with a reason, or closed; every change is logged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput
from ..models import COUNTER_STATES, Counter, CounterEvent, utcnow
from .actor import Actor
from .changes import Change, ChangeKind, announce
from .lookup import get_counter
from .transitions import current_ticket

PAUSE_REASONS = ("break", "lunch", "back_office", "meeting", "technical", "other")


def set_counter_state(
    session: Session,
    counter_id: int,
    state: str,
    actor: Actor,
    *,
    reason: str | None = None,
    now: datetime | None = None,
) -> Counter:
    now = now or utcnow()
    if state not in COUNTER_STATES:
        raise InvalidInput(
            f"state must be one of {', '.join(COUNTER_STATES)}, not {state!r}", field="state"
        )
    if state == "paused" and reason not in PAUSE_REASONS:
        raise InvalidInput(
            f"a pause needs a reason, one of {', '.join(PAUSE_REASONS)}", field="reason"
        )
    if state != "paused" and reason is not None:
        raise InvalidInput("only a pause takes a reason", field="reason")
    counter = lock_counter(session, counter_id)
    if state == "closed":
        current = current_ticket(session, counter.id)
        if current is not None:
            raise Conflict(
                f"counter {counter.label} still has {current.display_number} "
                f"({current.status}); finish it before closing",
                code="counter_busy",
                ticket=current.display_number,
            )
    _change(session, counter, state, reason, actor, now)
    return counter


# session.info key: the counters this transaction has locked, by id.
_LOCKED_COUNTERS = "novbe_locked_counters"


def lock_counter(session: Session, counter_id: int) -> Counter:
    """The counter, locked until commit (PostgreSQL: ``FOR UPDATE``; SQLite: the write
    transaction holds the database). Read once per transaction: the API locks it to check
    who may work there, and the action finds it locked already."""
    transaction = session.get_transaction()
    held = session.info.get(_LOCKED_COUNTERS)
    if held is None or held[0] is not transaction:  # a lock lasts one transaction
        held = session.info[_LOCKED_COUNTERS] = (transaction, {})
    counter = held[1].get(counter_id)
    if counter is None:
        counter = held[1][counter_id] = get_counter(session, counter_id, lock=True)
    return counter


def open_for_calling(session: Session, counter: Counter, actor: Actor, now: datetime) -> None:
    """Calling a visitor ends a pause or opens a closed counter."""
    if counter.state != "open":
        _change(session, counter, "open", None, actor, now)


def _change(
    session: Session, counter: Counter, state: str, reason: str | None, actor: Actor, now
) -> None:
    if counter.state == state and counter.pause_reason == reason:
        return
    session.add(
        CounterEvent(
            counter_id=counter.id,
            at=now,
            from_state=counter.state,
            to_state=state,
            reason=reason,
            staff_id=actor.staff_id,
        )
    )
    counter.state = state
    counter.pause_reason = reason
    counter.state_since = now
    announce(
        session, Change(ChangeKind.COUNTER, state, counter.id, (counter.id,), counter.center_id)
    )
