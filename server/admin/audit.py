"""The audit log of administrative changes: writing an entry in the change's own
transaction, and reading a center's entries back.

Entries are append-only (server/models/audit.py refuses updates and deletes). An
update records only the fields that changed, and nothing when none did, so applying
the same values twice (a re-imported center file) leaves no trace.

A change function reads: check the values (validation.py), apply them
(:func:`apply_values`, which keeps the state before and after), record (:func:`record`
a creation, :func:`record_update` an update), and announce when something was recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..ledger.chain import note_audit
from ..models import AUDIT_ENTITY_TYPES, AuditEntry, Center, utcnow
from ..queue.actor import Actor
from ..queue.numbering import local_day

AUDIT_PAGE_SIZE = 50

Row = TypeVar("Row")


def record(
    session: Session,
    actor: Actor,
    center_id: int | None,
    entity_type: str,
    entity_id: str,
    action: str,
    before: dict | None,
    after: dict | None,
    now: datetime | None = None,
) -> AuditEntry:
    """Append an audit entry (in the caller's transaction)."""
    assert entity_type in AUDIT_ENTITY_TYPES, entity_type
    entry = AuditEntry(
        center_id=center_id,
        at=now or utcnow(),
        staff_id=actor.staff_id,
        username=actor.name or actor.kind,
        entity_type=entity_type,
        entity_id=str(entity_id),
        action=action,
        before=before,
        after=after,
    )
    session.add(entry)
    if center_id is not None:  # a center's change joins its fairness ledger
        center = session.get(Center, center_id)
        note_audit(session, entry, local_day(center.timezone, entry.at))
    return entry


def apply_values(
    row: Row, values: dict[str, Any], state: Callable[[Row], dict]
) -> tuple[dict, dict]:
    """Set the checked ``values`` on ``row``; its ``state`` before and after, for
    :func:`record_update`."""
    before = state(row)
    for name, value in values.items():
        setattr(row, name, value)
    return before, state(row)


def record_update(
    session: Session,
    actor: Actor,
    center_id: int,
    entity_type: str,
    entity_id: str,
    before: dict,
    after: dict,
    now: datetime | None = None,
) -> AuditEntry | None:
    """Record only the fields that changed; nothing (None) when nothing did. The action
    is ``update``, or ``activate`` / ``deactivate`` when the change turns ``active``."""
    changed = [key for key in after if before.get(key) != after[key]]
    if not changed:
        return None
    action = "update"
    if "active" in changed:
        action = "activate" if after["active"] else "deactivate"
    return record(
        session,
        actor,
        center_id,
        entity_type,
        entity_id,
        action,
        {key: before.get(key) for key in changed},
        {key: after[key] for key in changed},
        now,
    )


def list_audit(
    session: Session,
    center: Center,
    *,
    entity_type: str | None = None,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    page_size: int = AUDIT_PAGE_SIZE,
) -> tuple[list[AuditEntry], int]:
    """A center's audit entries, newest first, filtered; and how many match in all."""
    if entity_type is not None and entity_type not in AUDIT_ENTITY_TYPES:
        raise InvalidInput(f"'type' must be one of {', '.join(AUDIT_ENTITY_TYPES)}", field="type")
    if page < 1:
        raise InvalidInput("'page' must be 1 or more", field="page")
    where = [AuditEntry.center_id == center.id]
    if entity_type:
        where.append(AuditEntry.entity_type == entity_type)
    if user:
        where.append(AuditEntry.username == user)
    if since:
        where.append(AuditEntry.at >= since)
    if until:
        where.append(AuditEntry.at < until)
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where))
    rows = session.scalars(
        select(AuditEntry)
        .where(*where)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return list(rows), total
