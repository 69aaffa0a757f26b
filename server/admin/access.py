"""Who may change a center: its managers and admins, and network admins."""

from __future__ import annotations

from .. import auth
from ..errors import Forbidden
from ..models import Center, StaffUser
from ..queue.actor import Actor


def require_admin(actor: Actor | None, center: Center) -> Actor:
    """A manager or admin of ``center`` (or a network admin)."""
    return auth.require_staff(actor, center.id, roles=auth.MANAGER_ROLES)


def may_grant(actor: Actor, role: str) -> None:
    """A manager runs a center's staff; only admins make (or touch) admins."""
    if role == "admin" and actor.role != "admin":
        raise Forbidden("only an admin may create or promote admins", code="role_not_allowed")


def may_touch(actor: Actor, user: StaffUser) -> None:
    """Only an admin changes an admin's account: a manager cannot demote, lock out or
    reset the password of an admin."""
    if user.role == "admin":
        may_grant(actor, "admin")
