"""SQLAlchemy models. Import from here: ``from server.models import Ticket``."""

from .audit import AUDIT_ENTITY_TYPES, AuditEntry
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
from .ratings import APPROVING_SCORE, SCORES, Rating
from .tickets import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    LANE_FRONT,
    LANE_NORMAL,
    LANE_PRIORITY,
    PRINT_STATES,
    STATUSES,
    WAITING,
    CounterEvent,
    IdempotencyKey,
    Ticket,
    TicketEvent,
    TicketSequence,
    at_counter,
)

__all__ = [
    "ACTIVE_STATUSES",
    "APPROVING_SCORE",
    "AUDIT_ENTITY_TYPES",
    "CALL_POLICIES",
    "COUNTER_STATES",
    "DEVICE_KINDS",
    "FINAL_STATUSES",
    "LANE_FRONT",
    "LANE_NORMAL",
    "LANE_PRIORITY",
    "LANGUAGES",
    "PRINT_STATES",
    "ROLES",
    "SCORES",
    "STATUSES",
    "ApiToken",
    "AuditEntry",
    "Base",
    "Center",
    "Counter",
    "CounterEvent",
    "CounterService",
    "Device",
    "IdempotencyKey",
    "Rating",
    "Service",
    "ServiceCategory",
    "StaffUser",
    "Ticket",
    "TicketEvent",
    "TicketSequence",
    "at_counter",
    "UTCDateTime",
    "WAITING",
    "utcnow",
]
