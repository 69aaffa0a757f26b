"""SQLAlchemy models. Import from here: ``from server.models import Ticket``."""

from .base import LANGUAGES, Base, UTCDateTime, utcnow
from .catalog import (
    CALL_POLICIES,
    COUNTER_STATES,
    Center,
    Counter,
    CounterService,
    Service,
    ServiceCategory,
)
from .people import DEVICE_KINDS, ROLES, ApiToken, Device, StaffUser
from .tickets import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    LANE_FRONT,
    LANE_NORMAL,
    LANE_PRIORITY,
    STATUSES,
    WAITING,
    CounterEvent,
    IdempotencyKey,
    Ticket,
    TicketEvent,
    TicketSequence,
)

__all__ = [
    "ACTIVE_STATUSES",
    "CALL_POLICIES",
    "COUNTER_STATES",
    "DEVICE_KINDS",
    "FINAL_STATUSES",
    "LANE_FRONT",
    "LANE_NORMAL",
    "LANE_PRIORITY",
    "LANGUAGES",
    "ROLES",
    "STATUSES",
    "ApiToken",
    "Base",
    "Center",
    "Counter",
    "CounterEvent",
    "CounterService",
    "Device",
    "IdempotencyKey",
    "Service",
    "ServiceCategory",
    "StaffUser",
    "Ticket",
    "TicketEvent",
    "TicketSequence",
    "UTCDateTime",
    "WAITING",
    "utcnow",
]
