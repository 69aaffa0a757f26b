"""Who may call, checked before anything is looked up.

A view that loads a counter, a ticket or a center and only then checks the caller would
tell a caller who may never do this whether the thing exists (404 or 403). So views
first refuse, with ``caller``, everyone whom no center could allow: a device where staff
is needed, the wrong kind of device, a staff role below the one needed. The check that
needs the row (is the caller of *this* center?) follows the lookup: auth.require_staff
and auth.require_member. The messages are theirs.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import Forbidden
from ..models import COUNTER_ROLES
from ..queue import Actor
from .request import authenticated_actor


def caller(*, roles: Iterable[str] = COUNTER_ROLES, device_kinds: Iterable[str] = ()) -> Actor:
    """The authenticated caller if staff with one of ``roles`` or a device of one of
    ``device_kinds`` could do this at some center; else 403 at once."""
    actor = authenticated_actor()
    roles, device_kinds = tuple(roles), tuple(device_kinds)
    if actor.kind == "device":
        if not device_kinds:
            raise Forbidden("this needs a staff account, not a device")
        if actor.role not in device_kinds:
            raise Forbidden(f"a {actor.role} device cannot do this")
    elif actor.role not in roles:
        raise Forbidden(f"this needs the role {' or '.join(roles)}")
    return actor
