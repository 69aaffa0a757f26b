"""What a committed transaction changed, for those who act after the commit (the live
channel, caches): a small vocabulary that producers and consumers import.

Producers call :func:`announce` inside the transaction; ``Database.write()`` hands the
transaction's changes to its commit listeners once it has committed, in order, and a
rolled-back transaction announces nothing.

Every kind says whether it can change services' loads (recent service times, open
counters), so the estimate cache (queue/loads.py) keeps its figures across commits
that cannot: a new kind must say so, there is no default.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from sqlalchemy.orm import Session

from ..db import PENDING_CHANGES


class ChangeKind(StrEnum):
    TICKET = "ticket"  # a ticket moved; action: the audit action ("issue", "call", ...)
    COUNTER = "counter"  # a counter opened, paused or closed, or its services changed
    CENTER = "center"  # its catalog or policy ("catalog"), or a rating ("rating")
    PRINT = "print"  # a ticket's print state; action: the new state
    PRINTER = "printer"  # a kiosk printer's health ("status") or its agent ("agent")
    DEVICE = "device"  # a kiosk's or display's settings ("settings")


# Whether a change of this kind can move services' loads; None: it depends on the action
# (issuing a ticket does not, nor does a rating of a center).
_CHANGES_LOADS: dict[ChangeKind, bool | None] = {
    ChangeKind.TICKET: None,
    ChangeKind.COUNTER: True,
    ChangeKind.CENTER: None,
    ChangeKind.PRINT: False,
    ChangeKind.PRINTER: False,
    ChangeKind.DEVICE: False,
}
assert set(_CHANGES_LOADS) == set(ChangeKind), "every kind says whether it changes loads"


class Change(NamedTuple):
    kind: ChangeKind
    action: str
    id: int  # the ticket's, counter's, center's or device's id, by kind
    counters: tuple[int, ...] = ()  # counters whose current ticket this may have changed
    center: int = 0  # the center it belongs to, where it can move loads (0: not said)
    service: int = 0  # a ticket's service: a visitor served moves that service's load only

    @property
    def moved_loads(self) -> tuple[int, int]:
        """(center, service) whose loads it may have moved: service 0 for the whole
        center (a counter or the catalog), center 0 for every center (not said)."""
        return (self.center, self.service if self.kind is ChangeKind.TICKET else 0)

    @property
    def changes_loads(self) -> bool:
        """Whether services' loads may differ after it: a visitor served (the service's
        average), a counter opened, paused or given other services, a catalog change;
        not a ticket issued, called, started, moved or dropped, nor a rating."""
        known = _CHANGES_LOADS[self.kind]
        if known is not None:
            return known
        if self.kind is ChangeKind.TICKET:  # only a visitor served moves an average
            return self.action == "complete"
        return self.action != "rating"  # the center's catalog, not a rating


def announce(session: Session, change: Change) -> None:
    """Note a change, to be handed to the commit listeners once the session commits."""
    session.info.setdefault(PENDING_CHANGES, []).append(change)
