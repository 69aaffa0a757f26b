"""A center's staff accounts: creating them, changing a role or the counters they may
work at (server/staff_counters.py), deactivating, and setting a new password. A manager
runs the center's staff and managers; only an admin makes or touches an admin, and
nobody deactivates or demotes themselves. Deactivating an account or setting its
password ends its API tokens and web logins at once; the audit log never holds a
password nor its hash."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .. import auth, limits, staff_counters, web_sessions
from ..errors import Conflict
from ..models import ROLES, ApiToken, Center, Counter, StaffUser
from ..queue.actor import Actor
from . import validation as check
from .access import may_grant, may_touch
from .audit import apply_values, record, record_update


def staff_state(user: StaffUser) -> dict:
    return {
        "username": user.username,
        "role": user.role,
        "active": user.active,
        "center": user.center.code if user.center else None,
        "counters": staff_counters.labels(user),
    }


def _counters(center: Center, value: object, field: str = "counters") -> list[Counter]:
    """The center's counters with these labels, in the center's order."""
    if not isinstance(value, list):
        check.fail(field, "must be a list of counter labels")
    wanted = [check.label(label, field) for label in value]
    by_label = {counter.label: counter for counter in center.counters}
    unknown = [label for label in wanted if label not in by_label]
    if unknown:
        check.fail(field, f"no counter labelled {', '.join(unknown)} in this center")
    chosen = set(wanted)
    return [counter for counter in center.counters if counter.label in chosen]


def get_staff_at(session: Session, center: Center, username: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    return check.found(user, center, f"staff member '{username}'", "staff_not_found")


def create_staff(
    session: Session, actor: Actor, center: Center, data: dict, now: datetime | None = None
) -> StaffUser:
    check.reject_unknown(data, {"username", "password", "role", "counters"})
    for required in ("username", "password", "role"):
        if not isinstance(data.get(required), str):
            check.fail(required, "is required (a string)")
    check.text(data["password"], "password", limits.MAX_PASSWORD_LENGTH)
    may_grant(actor, data["role"])
    if not check.CODE_RE.match(data["username"]):
        check.fail("username", "must be lowercase letters, digits, '-' or '_' (max 64)")
    counters = _counters(center, data["counters"]) if "counters" in data else None
    user = auth.create_staff(session, data["username"], data["password"], data["role"], center.code)
    if counters is not None:  # else every counter of the center
        staff_counters.assign(user, counters)
    if now is not None:
        user.created_at = now
    session.flush()
    after = staff_state(user)
    record(session, actor, center.id, "staff", user.username, "create", None, after, now)
    return user


def update_staff(
    session: Session,
    actor: Actor,
    center: Center,
    user: StaffUser,
    data: dict,
    now: datetime | None = None,
) -> StaffUser:
    """Change a staff member's role or counters, or deactivate/reactivate the account."""
    check.reject_unknown(data, {"role", "active", "counters"})
    may_touch(actor, user)
    role = check.one_of(data.get("role", user.role), "role", ROLES)
    may_grant(actor, role)
    active = check.boolean(data["active"], "active") if "active" in data else user.active
    counters = _counters(center, data["counters"]) if "counters" in data else None
    if user.id == actor.staff_id and (not active or role != user.role):
        raise Conflict("you cannot deactivate yourself or change your own role", code="own_account")
    before = staff_state(user)
    if counters is not None:
        staff_counters.assign(user, counters)
    _, after = apply_values(user, {"role": role, "active": active}, staff_state)
    record_update(session, actor, center.id, "staff", user.username, before, after, now)
    if not active:
        _revoke_tokens(session, user)
    return user


def reset_password(
    session: Session,
    actor: Actor,
    center: Center,
    user: StaffUser,
    data: dict,
    now: datetime | None = None,
) -> str:
    """Set a new password (given, or generated and returned once). The old one, its web
    sessions and its API tokens stop working."""
    check.reject_unknown(data, {"password"})
    may_touch(actor, user)
    password = data.get("password")
    if password is None:
        password = secrets.token_urlsafe(9)  # 12 characters, shown once
    else:
        check.text(password, "password", limits.MAX_PASSWORD_LENGTH)
    user.password_hash = auth.hash_password(password)  # checks the length
    _revoke_tokens(session, user)
    # Never the password or its hash: only that it happened.
    record(session, actor, center.id, "staff", user.username, "reset_password", None, None, now)
    return password


def _revoke_tokens(session: Session, user: StaffUser) -> None:
    session.execute(delete(ApiToken).where(ApiToken.staff_id == user.id))
    auth.tokens_revoked(session)  # this process's token cache
    web_sessions.revoke_staff_sessions(session, user.id)  # and its web logins
