"""Which counters a staff member may work at.

Managers and admins may work at every counter of their center (network admins at any
counter); reception at none. A staff member works only at the counters assigned to them
(``CounterStaff``): a new account gets every counter its center has then, and a manager
narrows that on the admin page. With none assigned, a staff member's counter picker is
empty, the live channel refuses their counter connections and the counter API refuses their calls.

Used by the API (the picker list, counter actions), the live channel and the admin
change functions, so that each says the same.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .auth import MANAGER_ROLES
from .errors import Forbidden
from .models import COUNTER_ROLES, Center, Counter, CounterStaff, StaffUser
from .queue.actor import Actor

NOT_ASSIGNED = "counter_not_assigned"


def assigned_ids(session: Session, staff_id: int) -> set[int]:
    """The ids of the counters assigned to a staff member (whatever their role)."""
    rows = session.scalars(select(CounterStaff.counter_id).where(CounterStaff.staff_id == staff_id))
    return set(rows)


def _everywhere(actor: Actor) -> bool:
    return actor.kind == "staff" and actor.role in MANAGER_ROLES


def _at_counters(actor: Actor) -> bool:
    """Whether ``actor`` works at counters at all: reception never does, whatever
    counters its account is linked to (say, kept from when it was a staff account)."""
    return actor.kind == "staff" and actor.staff_id is not None and actor.role in COUNTER_ROLES


def counters_for(session: Session, actor: Actor, center: Center) -> list[Counter]:
    """The center's counters ``actor`` may work at, in the center's order."""
    if _everywhere(actor):
        return list(center.counters)
    if not _at_counters(actor):
        return []
    mine = assigned_ids(session, actor.staff_id)
    return [counter for counter in center.counters if counter.id in mine]


def may_work_at(session: Session, actor: Actor, counter: Counter) -> bool:
    """Whether ``actor`` (staff of the counter's center: checked elsewhere) may work
    there."""
    if _everywhere(actor):
        return True
    if not _at_counters(actor):
        return False
    found = session.get(CounterStaff, (actor.staff_id, counter.id))
    return found is not None


def require_counter(session: Session, actor: Actor, counter: Counter) -> None:
    """403 ``counter_not_assigned`` unless ``actor`` may work at ``counter``."""
    if not may_work_at(session, actor, counter):
        raise Forbidden(
            f"counter {counter.label} is not assigned to you: ask your manager",
            code=NOT_ASSIGNED,
        )


def labels(user: StaffUser) -> list[str]:
    """The labels of the counters assigned to ``user``, in the center's order."""
    return [link.counter.label for link in user.counter_links]


def assign(user: StaffUser, counters: Iterable[Counter]) -> None:
    """Replace the counters assigned to ``user`` with ``counters``."""
    user.counter_links = [CounterStaff(counter=c) for c in counters]
